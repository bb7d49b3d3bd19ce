"""Built-in synthetic plugins (placeholder until implemented)."""
