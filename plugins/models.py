"""Built-in models plugins (placeholder until implemented)."""
