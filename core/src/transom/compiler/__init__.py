"""The query engine: Query + schema + permissions -> SQL -> shaped JSON."""
