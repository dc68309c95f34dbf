"""``/collections``, ``/fields`` and ``/relations``: Directus's schema routes.

Thin handlers over :mod:`transom.services.schema`: parse the body, call the service, read
the result back from the refreshed snapshot. Reads follow the caller's permissions; writes
are for admins only (the services enforce both).
"""

from __future__ import annotations

from typing import Any

from flask import Response

from .. import hookimpl
from ..errors import InvalidPayloadError
from ..http.context import current_cms, get_accountability
from ..http.openapi import Blueprint
from ..http.responses import json_response, no_content, request_json
from ..services.schema import CollectionsService, FieldsService, RelationsService

bp = Blueprint("transom_schema", __name__, description="Collections, fields and relations.")


def _collections() -> CollectionsService:
    return CollectionsService(current_cms(), get_accountability())


def _fields() -> FieldsService:
    return FieldsService(current_cms(), get_accountability())


def _relations() -> RelationsService:
    return RelationsService(current_cms(), get_accountability())


def _body(kind: type | tuple[type, ...], message: str) -> Any:
    payload = request_json()
    if not isinstance(payload, kind):
        raise InvalidPayloadError(message)
    return payload


# -- collections ---------------------------------------------------------------------------
@bp.get("/collections")
def list_collections() -> Response:
    return json_response({"data": _collections().read_all()})


@bp.get("/collections/<name>")
def read_collection(name: str) -> Response:
    return json_response({"data": _collections().read_one(name)})


@bp.post("/collections")
def create_collections() -> Response:
    payload = _body((dict, list), "Body must be a collection object or an array of them")
    svc = _collections()
    if isinstance(payload, list):
        names = svc.create_many(payload)
        return json_response({"data": [svc.read_one(n) for n in names]})
    return json_response({"data": svc.read_one(svc.create_one(payload))})


@bp.patch("/collections")
def update_collections() -> Response:
    payload = _body(list, "Body must be an array of collection objects")
    svc = _collections()
    names = svc.update_many(payload)
    return json_response({"data": [svc.read_one(n) for n in names]})


@bp.patch("/collections/<name>")
def update_collection(name: str) -> Response:
    payload = _body(dict, "Body must be an object")
    svc = _collections()
    return json_response({"data": svc.read_one(svc.update_one(name, payload))})


@bp.delete("/collections/<name>")
def delete_collection(name: str) -> Response:
    _collections().delete_one(name)
    return no_content()


# -- fields --------------------------------------------------------------------------------
@bp.get("/fields")
def list_fields() -> Response:
    return json_response({"data": _fields().read_all()})


@bp.get("/fields/<collection>")
def list_collection_fields(collection: str) -> Response:
    return json_response({"data": _fields().read_all(collection)})


@bp.get("/fields/<collection>/<field>")
def read_field(collection: str, field: str) -> Response:
    return json_response({"data": _fields().read_one(collection, field)})


@bp.post("/fields/<collection>")
def create_field(collection: str) -> Response:
    payload = _body(dict, "Body must be a field object")
    svc = _fields()
    name = svc.create_field(collection, payload)
    return json_response({"data": svc.read_one(collection, name)})


@bp.patch("/fields/<collection>")
def update_fields(collection: str) -> Response:
    payload = _body(list, "Body must be an array of field objects")
    svc = _fields()
    names = svc.update_fields(collection, payload)
    return json_response({"data": [svc.read_one(collection, n) for n in names]})


@bp.patch("/fields/<collection>/<field>")
def update_field(collection: str, field: str) -> Response:
    payload = _body(dict, "Body must be a field object")
    if payload.get("field", field) != field:
        raise InvalidPayloadError("Fields cannot be renamed")
    svc = _fields()
    name = svc.update_field(collection, {**payload, "field": field})
    return json_response({"data": svc.read_one(collection, name)})


@bp.delete("/fields/<collection>/<field>")
def delete_field(collection: str, field: str) -> Response:
    _fields().delete_field(collection, field)
    return no_content()


# -- relations -----------------------------------------------------------------------------
@bp.get("/relations")
def list_relations() -> Response:
    return json_response({"data": _relations().read_all()})


@bp.get("/relations/<collection>")
def list_collection_relations(collection: str) -> Response:
    return json_response({"data": _relations().read_all(collection)})


@bp.get("/relations/<collection>/<field>")
def read_relation(collection: str, field: str) -> Response:
    return json_response({"data": _relations().read_one(collection, field)})


@bp.post("/relations")
def create_relation() -> Response:
    payload = _body(dict, "Body must be a relation object")
    svc = _relations()
    collection, field = svc.create_one(payload)
    return json_response({"data": svc.read_one(collection, field)})


@bp.patch("/relations/<collection>/<field>")
def update_relation(collection: str, field: str) -> Response:
    payload = _body(dict, "Body must be an object")
    svc = _relations()
    svc.update_one(collection, field, payload)
    return json_response({"data": svc.read_one(collection, field)})


@bp.delete("/relations/<collection>/<field>")
def delete_relation(collection: str, field: str) -> Response:
    _relations().delete_one(collection, field)
    return no_content()


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp
