"""``/items/:collection``: Directus's item routes over :class:`ItemsService`.

Singletons answer on the collection route only (``/:pk`` and POST are 404 there, as in
Directus); ``directus_*`` collections are reachable only through their own routes.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from .. import hookimpl
from ..errors import ForbiddenError, RouteNotFoundError
from ..http import crud
from ..http.context import current_cms, get_accountability
from ..services.items import ItemsService

bp = Blueprint("transom_items", __name__)


def service(collection: str, singleton_route: bool | None = None) -> ItemsService:
    """The service for a user collection; 404 where a singleton has no such route."""
    if collection.startswith("directus_"):
        raise ForbiddenError.collection(collection)
    svc = ItemsService(current_cms(), collection, get_accountability())
    if singleton_route is False and svc.coll().singleton:
        raise RouteNotFoundError(request.path)
    return svc


@bp.route("/items/<collection>", methods=["GET", "SEARCH"])
def list_items(collection: str) -> Response:
    return crud.list_items(service(collection))


@bp.get("/items/<collection>/<key>")
def read_item(collection: str, key: str) -> Response:
    return crud.read_item(service(collection, False), key)


@bp.post("/items/<collection>")
def create_items(collection: str) -> Response:
    return crud.create_items(service(collection, False))


@bp.patch("/items/<collection>")
def update_items(collection: str) -> Response:
    return crud.update_items(service(collection))


@bp.patch("/items/<collection>/<key>")
def update_item(collection: str, key: str) -> Response:
    return crud.update_item(service(collection, False), key)


@bp.delete("/items/<collection>")
def delete_items(collection: str) -> Response:
    return crud.delete_items(service(collection))


@bp.delete("/items/<collection>/<key>")
def delete_item(collection: str, key: str) -> Response:
    return crud.delete_item(service(collection, False), key)


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp
