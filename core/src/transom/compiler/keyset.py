"""Keyset (cursor) pagination, Transom's opt-in (``?keyset=true``, then ``?after=<cursor>``).

``offset`` makes the database walk past every skipped row, so page 10,000 of a big
collection costs 10,000 pages. A cursor instead carries the sort values of the last item
read; the next page is the query's filter AND "after those values" in the sort order, which
an index on the sort columns answers directly. The primary key is appended to the sort so
that the order is total. The cursor is opaque to clients (URL-safe base64 of JSON) but not
trusted: it becomes an ordinary filter, checked and permission-merged like any other.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from ..errors import InvalidQueryError
from ..query import Query
from ..schema.model import Collection


def keyset_sort(coll: Collection, sort: list[str] | None) -> list[tuple[str, bool]]:
    """``(field, descending)`` of the page order: plain, non-null columns, the primary key
    last. Anything else (relations, functions, ``?``, nullable columns) is a 400: their
    order can't be resumed from a value."""
    pk = coll.primary_key
    if pk is None:
        raise InvalidQueryError("Keyset pagination needs a collection with a primary key")
    out: list[tuple[str, bool]] = []
    for raw in sort or []:
        key = raw.strip()
        desc = key.startswith("-")
        name = key[1:] if desc else key
        f = coll.fields.get(name)
        if f is None or f.is_alias or "." in name or "(" in name:
            raise InvalidQueryError(
                f'Keyset pagination can\'t sort on "{key}": use plain fields of the collection')
        if f.nullable and name != pk:
            raise InvalidQueryError(
                f'Keyset pagination can\'t sort on "{name}", which may be null')
        out.append((name, desc))
        if name == pk:
            break  # the key is unique: later sort fields never decide anything
    if not any(name == pk for name, _ in out):
        out.append((pk, False))
    return out


def encode_cursor(order: list[tuple[str, bool]], item: dict[str, Any]) -> str:
    payload = {"s": [("-" if d else "") + n for n, d in order],
               "v": [item.get(n) for n, _ in order]}
    return base64.urlsafe_b64encode(orjson.dumps(payload, default=str)).decode().rstrip("=")


def decode_cursor(order: list[tuple[str, bool]], cursor: str) -> list[Any]:
    """The sort values a cursor carries; 400 when it is malformed or made for another
    sort."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = orjson.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidQueryError('"after" is not a valid cursor') from None
    if not isinstance(payload, dict):
        raise InvalidQueryError('"after" is not a valid cursor')
    values = payload.get("v")
    if payload.get("s") != [("-" if d else "") + n for n, d in order]:
        raise InvalidQueryError('"after" is a cursor for another sort')
    if not isinstance(values, list) or len(values) != len(order) or any(
            v is None or isinstance(v, dict | list) for v in values):
        raise InvalidQueryError('"after" is not a valid cursor')
    return values


def after_filter(order: list[tuple[str, bool]], values: list[Any]) -> dict[str, Any]:
    """Rows strictly after ``values`` in ``order``: for sort ``a, -b, id`` that is
    ``a > va OR (a = va AND b < vb) OR (a = va AND b = vb AND id > vid)``."""
    branches: list[dict[str, Any]] = []
    for i, (name, desc) in enumerate(order):
        parts = [{n: {"_eq": v}} for (n, _), v in zip(order[:i], values[:i], strict=True)]
        parts.append({name: {"_lt" if desc else "_gt": values[i]}})
        branches.append(parts[0] if len(parts) == 1 else {"_and": parts})
    return branches[0] if len(branches) == 1 else {"_or": branches}


def keyset_query(coll: Collection, query: Query) -> tuple[Query, list[tuple[str, bool]],
                                                           list[str]]:
    """The query of one keyset page, its order, and the fields added only to build the
    next cursor (to be removed from the items)."""
    if query.offset or query.page:
        raise InvalidQueryError('"after" and "keyset" can\'t be combined with offset or page')
    order = keyset_sort(coll, query.sort)
    flt = query.filter
    if query.after:
        cond = after_filter(order, decode_cursor(order, query.after))
        flt = {"_and": [flt, cond]} if flt else cond
    fields = list(query.fields) if query.fields else ["*"]
    extra = [] if "*" in fields else [n for n, _ in order if n not in fields]
    sort = [("-" if d else "") + n for n, d in order]
    return query.copy(filter=flt, sort=sort, fields=fields + extra, after=None,
                      keyset=False), order, extra


def next_cursor(order: list[tuple[str, bool]], items: list[dict[str, Any]],
                limit: int | None) -> str | None:
    """The cursor of the page after ``items``; None when this page was the last."""
    if not items or limit is None or limit < 0 or len(items) < limit:
        return None
    return encode_cursor(order, items[-1])
