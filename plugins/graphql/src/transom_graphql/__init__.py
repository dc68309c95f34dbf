"""GraphQL endpoint for Transom, compatible with Directus 11.

``POST|GET /graphql`` (user collections), ``/graphql/system`` (system collections) and
``GET /server/specs/graphql[/system]`` (the caller's SDL). Schemas are generated per
permission set and cached; every resolver goes through ``ItemsService``. See README.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transom.api import hookimpl

from .routes import bp
from .settings import SETTINGS

if TYPE_CHECKING:
    from .builder import build_schema
    from .state import STATE_KEY, GraphQLState, get_state

__all__ = ["STATE_KEY", "GraphQLState", "build_schema", "get_state"]

#: what is imported on first use: graphene and graphql-core take 0.15-0.2 s to import, and
#: an app that never answers a GraphQL query should not pay it at start-up
_LAZY = {"build_schema": "builder", "STATE_KEY": "state", "GraphQLState": "state",
         "get_state": "state"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{module}", __name__), name)


@hookimpl
def register_settings() -> Any:
    return list(SETTINGS)


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp
