"""Directus 11's system tables: their definition, migrations and built-in metadata."""
