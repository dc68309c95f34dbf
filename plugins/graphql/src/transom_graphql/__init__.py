"""GraphQL endpoint for Transom, compatible with Directus 11.

``POST|GET /graphql`` (user collections), ``/graphql/system`` (system collections) and
``GET /server/specs/graphql[/system]`` (the caller's SDL). Schemas are generated per
permission set and cached; every resolver goes through ``ItemsService``. See README.md.
"""

from __future__ import annotations

from typing import Any

from transom.api import hookimpl

from .builder import build_schema
from .routes import bp
from .settings import SETTINGS
from .state import STATE_KEY, GraphQLState, get_state

__all__ = ["STATE_KEY", "GraphQLState", "build_schema", "get_state"]


@hookimpl
def register_settings() -> Any:
    return list(SETTINGS)


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp


@hookimpl
def init_app(cms: Any, app: Any) -> None:
    get_state(app)  # made now, not on the first query
