"""Built-in render plugins (placeholder until implemented)."""
