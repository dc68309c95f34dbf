"""Core features written as ordinary plugins, registered by default (see transom.plugins)."""
