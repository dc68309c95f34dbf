"""``/items/:collection``: Directus's item routes over :class:`ItemsService`.

Singletons answer on the collection route only (``/:pk`` and POST are 404 there, as in
Directus); ``directus_*`` collections are reachable only through their own routes.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from .. import hookimpl
from ..errors import ForbiddenError, RouteNotFoundError
from ..http import crud
from ..http.context import current_cms, get_accountability
from ..http.openapi import Blueprint, describe
from ..http.schemas import BatchDeleteBody, BatchUpdateBody, ObjectBody, QuerySchema
from ..services.items import ItemsService

# Documented through the shared schemas, parsed by parse_query: the read path is the hot
# path (docs/architecture.md, "Libraries at the edges"). ``describe`` does not wrap views.
bp = Blueprint("transom_items", __name__, description="Items of user collections.")


def service(collection: str, singleton_route: bool | None = None) -> ItemsService:
    """The service for a user collection; 404 where a singleton has no such route."""
    if collection.startswith("directus_"):
        raise ForbiddenError.collection(collection)
    svc = ItemsService(current_cms(), collection, get_accountability())
    if singleton_route is False and svc.coll().singleton:
        raise RouteNotFoundError(request.path)
    return svc


@bp.route("/items/<collection>", methods=["GET", "SEARCH"])
@describe(summary="List items (SEARCH: the query in the body)", query=QuerySchema)
def list_items(collection: str) -> Response:
    return crud.list_items(service(collection))


@bp.get("/items/<collection>/<key>")
@describe(summary="Read one item", query=QuerySchema)
def read_item(collection: str, key: str) -> Response:
    return crud.read_item(service(collection, False), key)


@bp.post("/items/<collection>")
@describe(summary="Create one item (object) or several (array)", query=QuerySchema,
          body=ObjectBody)
def create_items(collection: str) -> Response:
    return crud.create_items(service(collection, False))


@bp.patch("/items/<collection>")
@describe(summary="Update items by keys or query", query=QuerySchema, body=BatchUpdateBody)
def update_items(collection: str) -> Response:
    return crud.update_items(service(collection))


@bp.patch("/items/<collection>/<key>")
@describe(summary="Update one item", query=QuerySchema, body=ObjectBody)
def update_item(collection: str, key: str) -> Response:
    return crud.update_item(service(collection, False), key)


@bp.delete("/items/<collection>")
@describe(summary="Delete items by keys or query", body=BatchDeleteBody)
def delete_items(collection: str) -> Response:
    return crud.delete_items(service(collection))


@bp.delete("/items/<collection>/<key>")
@describe(summary="Delete one item")
def delete_item(collection: str, key: str) -> Response:
    return crud.delete_item(service(collection, False), key)


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp
