"""Built-in sdss plugins (placeholder until implemented)."""
