"""The permission engine: who may do what to which items and fields (Directus 11 policies)."""
