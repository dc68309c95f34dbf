"""The plugin's settings: Directus's names where Directus has them, plus the limits we add."""

from __future__ import annotations

from transom.api import Setting

SETTINGS: tuple[Setting, ...] = (
    Setting("GRAPHQL_INTROSPECTION", True, "bool",
            "Answer introspection queries and serve the SDL (/server/specs/graphql)."),
    Setting("GRAPHQL_SCHEMA_CACHE_CAPACITY", 100, "int",
            "GraphQL schemas kept per worker (one per permission set, scope and schema "
            "version); least recently used ones are dropped."),
    Setting("GRAPHQL_QUERY_TOKEN_LIMIT", 5000, "int",
            "Most lexical tokens a GraphQL document may have (parsing stops beyond)."),
    Setting("GRAPHQL_MAX_DEPTH", 10, "int",
            "Deepest field nesting of a GraphQL operation (0: no limit)."),
    Setting("GRAPHQL_MAX_COST", 100_000, "int",
            "Largest estimated cost of a GraphQL operation: fields weighted by the rows "
            "their lists may return (0: no limit)."),
)
