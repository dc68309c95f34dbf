"""Authentication helpers shared by core and auth plugins (token transport, providers)."""
