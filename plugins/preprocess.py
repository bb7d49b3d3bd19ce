"""Built-in preprocess plugins (placeholder until implemented)."""
