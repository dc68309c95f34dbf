"""``/server/specs/oas``: an OpenAPI 3 document of what the caller may see.

Built with apispec (flask-smorest's spec engine) from the schema snapshot and the caller's
permissions: only collections and fields the caller may read appear, and only the item
routes of the actions it may perform. Documents are cached per permission set and schema
version, so users with the same policies share one.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from flask import Blueprint, Response
from marshmallow import Schema, fields

from .. import __version__, hookimpl
from ..errors import ForbiddenError
from ..http.context import current_cms, get_accountability
from ..http.responses import json_response

bp = Blueprint("transom_openapi", __name__)

_TYPES: dict[str, dict[str, Any]] = {
    "integer": {"type": "integer"},
    "bigInteger": {"type": "integer", "format": "int64"},
    "float": {"type": "number", "format": "float"},
    "decimal": {"type": "string", "format": "decimal"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "dateTime": {"type": "string", "format": "date-time"},
    "timestamp": {"type": "string", "format": "timestamp"},
    "time": {"type": "string", "format": "time"},
    "json": {},
    "uuid": {"type": "string", "format": "uuid"},
    "csv": {"type": "array", "items": {"type": "string"}},
    "hash": {"type": "string"},
}


class ErrorExtensions(Schema):
    code = fields.String(required=True)


class ErrorItem(Schema):
    message = fields.String(required=True)
    extensions = fields.Nested(ErrorExtensions)


class ErrorEnvelope(Schema):
    """Directus's error envelope, for every non-2xx answer."""

    errors = fields.List(fields.Nested(ErrorItem))


_QUERY_PARAMS = [
    {"name": n, "in": "query", "required": False, "schema": s, "description": d}
    for n, s, d in [
        ("fields", {"type": "string"}, "Fields to return (CSV, dot paths into relations)."),
        ("filter", {"type": "string"}, "Filter object (JSON or bracket notation)."),
        ("search", {"type": "string"}, "Search text fields."),
        ("sort", {"type": "string"}, "Sort keys, '-' for descending."),
        ("limit", {"type": "integer"}, "Maximum number of items (-1: all)."),
        ("offset", {"type": "integer"}, "Items to skip."),
        ("page", {"type": "integer"}, "Page number (1-based)."),
        ("meta", {"type": "string"}, "total_count, filter_count or *."),
    ]
]


def build_spec(cms: Any, accountability: Any) -> dict[str, Any]:
    perms = cms.access.permissions(accountability)
    spec = APISpec(title=cms.config.get("PROJECT_NAME", "Transom"), version=__version__,
                   openapi_version="3.0.3",
                   info={"description": "Dynamic API of this Transom instance."})
    spec.components.schema("Error", schema=ErrorEnvelope)
    error_ref = {"content": {"application/json": {"schema": {"$ref":
                                                             "#/components/schemas/Error"}}}}
    for name, coll in sorted(cms.schema.collections.items()):
        if coll.is_system or coll.table is None:
            continue
        read = perms.access(name, "read")
        if not read.allowed:
            continue
        props = {}
        for fname, f in coll.fields.items():
            if not read.field_allowed(fname):
                continue
            if f.is_alias:
                rel = cms.schema.relation(name, fname)
                if rel is None:
                    continue
                props[fname] = {"type": "array", "items": {}}
                continue
            prop = dict(_TYPES.get(f.type, {"type": "string"}))
            if f.nullable:
                prop["nullable"] = True
            props[fname] = prop
        spec.components.schema(f"Items{name}", {"type": "object", "properties": props})
        ref = {"$ref": f"#/components/schemas/Items{name}"}
        one = {"content": {"application/json": {"schema": {
            "type": "object", "properties": {"data": ref}}}}}
        many = {"content": {"application/json": {"schema": {
            "type": "object", "properties": {"data": {"type": "array", "items": ref},
                                             "meta": {"type": "object"}}}}}}
        tag = [name]
        ops: dict[str, Any] = {"get": {"tags": tag, "summary": f"List {name}",
                                       "parameters": _QUERY_PARAMS,
                                       "responses": {"200": many, "403": error_ref}}}
        item_ops: dict[str, Any] = {"get": {"tags": tag, "summary": f"Read one {name} item",
                                            "responses": {"200": one, "403": error_ref}}}
        if perms.access(name, "create").allowed and not coll.is_view:
            ops["post"] = {"tags": tag, "summary": f"Create {name} items",
                           "requestBody": {"content": {"application/json": {"schema": ref}}},
                           "responses": {"200": one, "204": {"description": "Not readable"},
                                         "400": error_ref, "403": error_ref}}
        if perms.access(name, "update").allowed and not coll.is_view:
            item_ops["patch"] = {"tags": tag, "summary": f"Update one {name} item",
                                 "requestBody": {"content": {"application/json": {
                                     "schema": ref}}},
                                 "responses": {"200": one, "400": error_ref, "403": error_ref}}
            ops["patch"] = {"tags": tag, "summary": f"Update {name} items",
                            "responses": {"200": many, "400": error_ref, "403": error_ref}}
        if perms.access(name, "delete").allowed and not coll.is_view:
            item_ops["delete"] = {"tags": tag, "summary": f"Delete one {name} item",
                                  "responses": {"204": {"description": "Deleted"},
                                                "403": error_ref}}
            ops["delete"] = {"tags": tag, "summary": f"Delete {name} items",
                             "responses": {"204": {"description": "Deleted"},
                                           "403": error_ref}}
        spec.path(path=f"/items/{name}", operations=ops)
        spec.path(path=f"/items/{name}/{{id}}", operations=item_ops,
                  parameters=[{"name": "id", "in": "path", "required": True,
                               "schema": {"type": "string"}}])
    return spec.to_dict()


@bp.get("/server/specs/oas")
def oas() -> Response:
    cms = current_cms()
    if not cms.config.get("OPENAPI_ENABLED", True):
        raise ForbiddenError()
    acc = get_accountability()
    key = (acc.permission_key(), cms.schema.version)
    cache = cms.extensions.setdefault("openapi_cache", {})
    doc = cache.get(key)
    if doc is None:
        doc = build_spec(cms, acc)
        if len(cache) > 64:  # bounded: old schema versions and rare policy sets fall out
            cache.clear()
        cache[key] = doc
    return json_response(doc)


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp


@hookimpl
def init_app(cms: Any, app: Any) -> None:
    """Documents are per permission set: a permission change anywhere drops them."""
    cms.messenger.subscribe("access", lambda _payload: cms.extensions.get(
        "openapi_cache", {}).clear())

