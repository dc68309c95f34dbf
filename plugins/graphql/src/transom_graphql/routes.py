"""HTTP endpoints: ``/graphql``, ``/graphql/system`` and the SDL download.

The GraphQL machinery (graphene, graphql-core and the modules built on them) is imported by
the first request that needs it, not when the plugin loads: it costs 0.15-0.2 s of every
start-up otherwise. The per-app state (schema and document caches) is made then too.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, request

from transom.api import (
    ForbiddenError,
    InvalidPayloadError,
    current_cms,
    get_accountability,
    json_response,
    request_json,
)

if TYPE_CHECKING:
    from .execute import Request

bp = Blueprint("transom_graphql", __name__)


def _variables(value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidPayloadError('"variables" must be a JSON object') from None
    if value is not None and not isinstance(value, dict):
        raise InvalidPayloadError('"variables" must be an object')
    return value


def read_request() -> Request:
    """The GraphQL parameters of a GET (query string) or POST (JSON or
    ``application/graphql`` body) request."""
    from .execute import Request

    if request.method == "GET":
        raw: dict[str, Any] = dict(request.args.items())
    elif (request.mimetype or "") == "application/graphql":
        raw = {"query": request.get_data(as_text=True), **dict(request.args.items())}
    else:
        body = request_json({})
        if not isinstance(body, dict):
            raise InvalidPayloadError("Payload must be an object (batched requests are not "
                                      "supported)")
        raw = body or dict(request.args.items())
    query = raw.get("query")
    if not isinstance(query, str) or not query.strip():
        raise InvalidPayloadError('"query" is required and must be a string')
    name = raw.get("operationName")
    if name is not None and not isinstance(name, str):
        raise InvalidPayloadError('"operationName" must be a string')
    return Request(query=query, variables=_variables(raw.get("variables")),
                   operation_name=name or None)


def _handle(scope: str) -> Response:
    from .execute import run
    from .resolvers import RequestContext
    from .state import get_state
    from .system_extras import SET_COOKIE_KEY

    cms = current_cms()
    accountability = get_accountability()
    state = get_state(current_app)
    schema = state.schema_for(cms, accountability, scope)
    body = run(schema, read_request(), RequestContext(cms, accountability, scope),
               method=request.method, path=request.path, documents=state.documents)
    resp = json_response(body)
    for cookie in request.environ.get(SET_COOKIE_KEY, ()):  # auth_* in cookie/session mode
        resp.headers.add("Set-Cookie", cookie)
    return resp


@bp.route("/graphql", methods=["GET", "POST"])
def graphql_items() -> Response:
    return _handle("items")


@bp.route("/graphql/system", methods=["GET", "POST"])
def graphql_system() -> Response:
    return _handle("system")


@bp.get("/server/specs/graphql")
@bp.get("/server/specs/graphql/<scope>")
def graphql_sdl(scope: str = "items") -> Response:
    """The caller's schema as SDL, downloaded as ``<scope>.graphql``."""
    from graphql import print_schema

    from .state import get_state

    cms = current_cms()
    if scope not in ("items", "system"):
        raise InvalidPayloadError('"scope" must be one of [items, system]')
    if not cms.config.get("GRAPHQL_INTROSPECTION", True):
        raise ForbiddenError()  # the SDL says what introspection would
    schema = get_state(current_app).schema_for(cms, get_accountability(), scope)
    resp = Response(print_schema(schema) + "\n", mimetype="text/plain")
    resp.headers["Content-Disposition"] = f'attachment; filename="{scope}.graphql"'
    resp.headers["Cache-Control"] = "no-cache"
    return resp
