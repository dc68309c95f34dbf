"""GraphQL endpoint for Transom, compatible with Directus 11."""
