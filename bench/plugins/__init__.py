"""The plugin system: loading plugins through pluggy and the registry of their classes."""
