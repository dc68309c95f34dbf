"""Route handlers shared by ``/items/:collection`` and the system collection routes
(``/users``, ``/roles``, ...): parse the request into a Query, call the service, shape the
answer. Only response shapes are decided here; all semantics live in the services.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, request, stream_with_context

from ..errors import InvalidPayloadError, TransomError
from ..query import Query, parse_query
from ..query.export import EXPORT_TYPES, export_filename, export_items, stream_export
from ..services.items import ItemsService
from .responses import dumps, json_response, no_content, request_json


def request_query() -> Query:
    """The query of this request: URL parameters, overridden by a SEARCH body's ``query``."""
    body = None
    if request.method == "SEARCH":
        payload = request_json({}) or {}
        if not isinstance(payload, dict):
            raise InvalidPayloadError("SEARCH body must be an object")
        body = payload
    return parse_query(request.args, body=body)


def list_response(svc: ItemsService, query: Query, data: Any) -> Response:
    if query.export:
        return export_response(svc.collection, data, query.export)
    body: dict[str, Any] = {"data": data}
    if query.meta and not (query.aggregate or query.group):
        body = {"meta": svc.meta(query), "data": data}
    return json_response(body)


def export_response(collection: str, items: Any, fmt: str) -> Response:
    content = export_items(items if isinstance(items, list) else [items], fmt)[0]
    return _attachment(collection, fmt, content)


def _attachment(collection: str, fmt: str, content: Any) -> Response:
    """An export download: its type and Directus's attachment name."""
    mimetype = EXPORT_TYPES[fmt][0]
    name = export_filename(collection, fmt, dt.datetime.now(dt.UTC))
    # a type that names its charset is sent as is (``mimetype=`` would append a second one)
    resp = Response(content, content_type=mimetype) if "charset=" in mimetype else \
        Response(content, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return resp


def keyset_response(svc: ItemsService, query: Query) -> Response:
    """A keyset page: Directus's ``{meta, data}`` with ``meta.next_cursor`` added."""
    data, cursor = svc.read_page(query)
    if query.export:
        return export_response(svc.collection, data, query.export)
    meta = svc.meta(query.copy(after=None)) if query.meta else {}
    return json_response({"meta": {**meta, "next_cursor": cursor}, "data": data})


#: field types whose values are objects with keys of their own (a CSV header cannot know them)
_FREE_FORM = frozenset({"json", "csv", "geometry", "geometry.Point", "geometry.LineString",
                        "geometry.Polygon", "geometry.MultiPoint", "geometry.MultiLineString",
                        "geometry.MultiPolygon"})


def csv_header_is_known(svc: ItemsService, query: Query) -> bool:
    """Whether a CSV header taken from the first chunk covers every later row: only when no
    requested value is an object whose keys vary by row (a JSON field, a relation that may be
    null or point to different collections). Otherwise the export is buffered, as before, so
    that no value is ever dropped from a column the header lacks."""
    if any("." in f for f in (query.fields or ["*"])):
        return False
    fields = svc.coll().fields.values()
    return not any(f.type in _FREE_FORM or f.is_alias for f in fields)


def streamable(query: Query, svc: ItemsService | None = None) -> bool:
    """``limit=-1`` reads and exports are streamed (docs/performance.md); CSV only when its
    header is known from the first chunk."""
    if query.aggregate or query.group:
        return False
    if query.export in ("csv", "csv_utf8"):
        return svc is not None and csv_header_is_known(svc, query)
    return query.export is not None or query.limit == -1


def stream_response(svc: ItemsService, query: Query) -> Response:
    """The answer written chunk by chunk as the rows arrive, so memory stays bounded. The
    first chunk is read before the status line goes out: a bad query is still a 4xx."""
    chunks = svc.stream_by_query(query)
    first = next(chunks, [])
    meta = svc.meta(query) if query.meta and query.export is None else None

    def all_chunks() -> Any:
        yield first
        yield from chunks

    if query.export:
        return _attachment(svc.collection, query.export,
                           stream_with_context(stream_export(all_chunks(), query.export)))

    def body() -> Any:
        yield (b'{"meta":' + dumps(meta) + b',"data":[') if meta is not None \
            else b'{"data":['
        sep = b""
        for chunk in all_chunks():
            if chunk:
                yield sep + dumps(chunk)[1:-1]
                sep = b","
        yield b"]}"

    # hooks of later chunks (i18n's read filter) still see the request
    resp = Response(stream_with_context(body()), mimetype="application/json")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def read_back(svc: ItemsService, keys: list[Any], query: Query, single: bool) -> Response:
    """Re-read what was written with the request's query; 204 when the caller can't read."""
    try:
        if single:
            return json_response({"data": svc.read_one(keys[0], query)})
        items = svc.read_many(keys, query)
        order = {str(k): i for i, k in enumerate(keys)}
        pk = svc.coll().primary_key
        if pk and (query.fields is None or pk in query.fields or "*" in query.fields):
            items.sort(key=lambda it: order.get(str(it.get(pk)), len(order)))
        return json_response({"data": items})
    except TransomError as exc:
        if exc.code == "FORBIDDEN":
            return no_content()
        raise



def list_items(svc: ItemsService) -> Response:
    query = request_query()
    coll = svc.coll()
    if coll.singleton and not (query.aggregate or query.group):
        data: Any = svc.read_singleton(query)
        if query.export:
            return export_response(svc.collection, data, query.export)
        return json_response({"data": data})
    body = request_json({}) if request.method == "SEARCH" else None
    if isinstance(body, dict) and isinstance(body.get("keys"), list):
        data = svc.read_many(body["keys"], query)
    elif query.keyset or query.after:
        return keyset_response(svc, query)
    elif streamable(query, svc):
        return stream_response(svc, query)
    else:
        data = svc.read_by_query(query)
    return list_response(svc, query, data)


def read_item(svc: ItemsService, key: str) -> Response:
    query = request_query()
    data = svc.read_one(key, query)
    if query.export:
        return export_response(svc.collection, data, query.export)
    return json_response({"data": data})


def create_items(svc: ItemsService) -> Response:
    payload = request_json()
    query = parse_query(request.args)
    if isinstance(payload, list):
        keys = svc.create_many(payload)
        return read_back(svc, keys, query, single=False)
    if not isinstance(payload, dict):
        raise InvalidPayloadError("Payload must be an object or an array of objects")
    key = svc.create_one(payload)
    return read_back(svc, [key], query, single=True)


def update_items(svc: ItemsService) -> Response:
    payload = request_json()
    query = parse_query(request.args)
    if svc.coll().singleton:
        if not isinstance(payload, dict):
            raise InvalidPayloadError("Payload must be an object")
        svc.upsert_singleton(payload)
        try:
            return json_response({"data": svc.read_singleton(query)})
        except TransomError as exc:
            if exc.code == "FORBIDDEN":
                return no_content()
            raise
    keys = batch_update(svc, payload)
    return read_back(svc, keys, query, single=False)


def update_item(svc: ItemsService, key: str) -> Response:
    payload = request_json()
    if not isinstance(payload, dict):
        raise InvalidPayloadError("Payload must be an object")
    query = parse_query(request.args)
    pk = svc.update_one(key, payload)
    return read_back(svc, [pk], query, single=True)


def delete_items(svc: ItemsService) -> Response:
    payload = request_json()
    if isinstance(payload, list):
        svc.delete_many(payload)
    elif isinstance(payload, dict) and "keys" in payload:
        if not isinstance(payload["keys"], list):
            raise InvalidPayloadError('"keys" must be an array')
        svc.delete_many(payload["keys"])
    elif isinstance(payload, dict) and "query" in payload:
        if not isinstance(payload["query"], dict):
            raise InvalidPayloadError('"query" must be an object')
        svc.delete_by_query(payload["query"])
    else:
        raise InvalidPayloadError('Body must be an array of keys, {"keys": [...]} or '
                                  '{"query": {...}}')
    return no_content()


def delete_item(svc: ItemsService, key: str) -> Response:
    svc.delete_one(key)
    return no_content()


def batch_update(svc: ItemsService, payload: Any) -> list[Any]:
    """The three body forms: ``[{pk, ...}]``, ``{keys, data}``, ``{query, data}``."""
    if isinstance(payload, list):
        return svc.update_batch(payload)
    if not isinstance(payload, dict) or "data" not in payload:
        raise InvalidPayloadError('"data" is required')
    has_keys, has_query = "keys" in payload, "query" in payload
    if has_keys == has_query:
        raise InvalidPayloadError('Exactly one of "keys" or "query" is required')
    if has_keys:
        if not isinstance(payload["keys"], list):
            raise InvalidPayloadError('"keys" must be an array')
        return svc.update_many(payload["keys"], payload["data"])
    if not isinstance(payload["query"], dict):
        raise InvalidPayloadError('"query" must be an object')
    return svc.update_by_query(payload["query"], payload["data"])
