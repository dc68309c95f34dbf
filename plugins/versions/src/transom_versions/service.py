"""Content versions: a ``directus_versions`` row holds a ``delta`` (changed fields only) over
a main item, with the ``hash`` of that main item when the version was made.

Every step goes through :class:`ItemsService`, as the caller where Directus checks the
caller (reading the version row, reading or updating the main item) and as the system for
the bookkeeping (the hash, writing the merged delta). A save is one short transaction:
the version row is read, merged and written on one connection; nothing is held between
requests, so a version never blocks the main item.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from transom.api import (
    ForbiddenError,
    InvalidPayloadError,
    ItemsService,
    UnprocessableContentError,
)

VERSIONS = "directus_versions"
#: Directus's name for the main item itself (``?version=main`` reads it unchanged)
MAIN_KEY = "main"


def item_hash(item: dict[str, Any]) -> str:
    """A stable digest of a main item (keys sorted), compared to tell a version outdated."""
    text = json.dumps(item, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()


def _collection(cms: Any, name: Any) -> Any:
    coll = cms.schema.get(name) if isinstance(name, str) else None
    if coll is None or coll.is_system:
        raise ForbiddenError()
    return coll


def main_item(cms: Any, collection: str, item: Any, accountability: Any,
              connection: Any = None) -> dict[str, Any]:
    """The main item as ``accountability`` (None: the system) may read it; 403 if not."""
    svc = ItemsService(cms, collection, accountability, connection,
                       emit_events=accountability is not None)
    if _collection(cms, collection).singleton:
        return svc.read_singleton()
    return svc.read_one(item)


def main_hash(cms: Any, collection: str, item: Any, connection: Any = None) -> str:
    return item_hash(main_item(cms, collection, item, None, connection))


def read_version(cms: Any, key: Any, accountability: Any,
                 connection: Any = None) -> dict[str, Any]:
    """The version row, read as the caller (Directus needs read on ``directus_versions``)."""
    ItemsService(cms, VERSIONS, accountability, connection).read_one(key, {"fields": ["id"]})
    return ItemsService(cms, VERSIONS, None, connection, emit_events=False).read_one(key)


def require_update(cms: Any, collection: str, item: Any, accountability: Any,
                   connection: Any = None) -> None:
    """403 unless the caller may update the main item (the same check the update runs)."""
    if accountability is None or getattr(accountability, "admin", False):
        main_item(cms, collection, item, None, connection)  # still 403 when missing
        return
    coll = _collection(cms, collection)
    svc = ItemsService(cms, collection, accountability, connection)
    if coll.singleton:
        query: dict[str, Any] = {"limit": 1}
    else:
        query = {"filter": {coll.primary_key: {"_eq": item}}}
    if not svc.keys_by_query(query, action="update"):
        raise ForbiddenError()


# -- create / update hooks -------------------------------------------------------------------
def prepare_create(cms: Any, payload: dict[str, Any], accountability: Any,
                   connection: Any) -> dict[str, Any]:
    """Check a new version (Directus's rules) and stamp the main item's hash."""
    if "delta" in payload and payload["delta"] is not None:
        raise InvalidPayloadError('"delta" can\'t be set manually; use /versions/:id/save')
    for name in ("key", "collection", "item"):
        if payload.get(name) in (None, ""):
            raise InvalidPayloadError(f'"{name}" is required')
    key, collection = payload["key"], payload["collection"]
    if not isinstance(key, str) or not isinstance(collection, str):
        raise InvalidPayloadError('"key" and "collection" must be strings')
    if key == MAIN_KEY:
        raise InvalidPayloadError(f'"{MAIN_KEY}" is a reserved version key')
    coll = _collection(cms, collection)
    if not (coll.meta or {}).get("versioning"):
        raise UnprocessableContentError(
            f'Content Versioning is not enabled for collection "{collection}"')
    item = str(payload["item"])
    taken = ItemsService(cms, VERSIONS, None, connection, emit_events=False).read_by_query(
        {"fields": ["id"], "limit": 1, "filter": {"_and": [
            {"key": {"_eq": key}}, {"collection": {"_eq": collection}},
            {"item": {"_eq": item}}]}})
    if taken:
        raise UnprocessableContentError(
            f'Version "{key}" already exists for item "{item}" in collection "{collection}"')
    # the caller must be able to read the item the version is of (403 otherwise)
    main_item(cms, collection, item, accountability, connection)
    return {**payload, "item": item, "delta": None,
            "hash": main_hash(cms, collection, item, connection)}


def check_update(payload: dict[str, Any]) -> dict[str, Any]:
    """A ``PATCH /versions`` may rename a version, not move it or rewrite its delta."""
    for name in ("collection", "item", "hash", "delta"):
        if name in payload:
            raise InvalidPayloadError(f'"{name}" of a version can\'t be changed')
    if payload.get("key") == MAIN_KEY:
        raise InvalidPayloadError(f'"{MAIN_KEY}" is a reserved version key')
    return payload


# -- save / compare / promote ----------------------------------------------------------------
def _delta(row: dict[str, Any]) -> dict[str, Any]:
    delta = row.get("delta")
    if isinstance(delta, str):
        delta = json.loads(delta) if delta else None
    return dict(delta) if isinstance(delta, dict) else {}


def save(cms: Any, key: Any, data: Any, accountability: Any) -> dict[str, Any]:
    """Merge ``data`` into the version's delta; the main item with the delta applied."""
    if not isinstance(data, dict):
        raise InvalidPayloadError("The body must be an object of changed fields")
    with cms.begin() as conn:
        row = read_version(cms, key, accountability, conn)
        collection = row["collection"]
        coll = _collection(cms, collection)
        unknown = [name for name in data if name not in coll.fields]
        if unknown:
            raise InvalidPayloadError(f'Unknown field "{unknown[0]}" in collection '
                                      f'"{collection}"')
        require_update(cms, collection, row["item"], accountability, conn)
        delta = {**_delta(row), **data}
        ItemsService(cms, VERSIONS, None, conn, emit_events=False).update_one(
            row["id"], {"delta": delta})
    main = main_item(cms, collection, row["item"], accountability)
    return apply_delta(main, delta, everything=True)


def compare(cms: Any, key: Any, accountability: Any) -> dict[str, Any]:
    row = read_version(cms, key, accountability)
    main = main_item(cms, row["collection"], row["item"], accountability)
    current = main_hash(cms, row["collection"], row["item"])
    return {"outdated": row.get("hash") != current, "mainHash": current,
            "current": _delta(row), "main": main}


def promote(cms: Any, key: Any, body: Any, accountability: Any) -> Any:
    """Apply the delta (or its ``fields``) to the main item as the caller, through the
    items service (permissions, validation, hooks, activity); the main item's key."""
    body = body if body is not None else {}
    if not isinstance(body, dict):
        raise InvalidPayloadError("The body must be an object")
    wanted_hash = body.get("mainHash")
    if wanted_hash is not None and not isinstance(wanted_hash, str):
        raise InvalidPayloadError('"mainHash" must be a string')
    fields = body.get("fields")
    if fields is not None and (not isinstance(fields, list)
                               or not all(isinstance(f, str) for f in fields)):
        raise InvalidPayloadError('"fields" must be an array of field names')
    row = read_version(cms, key, accountability)
    collection, item = row["collection"], row["item"]
    coll = _collection(cms, collection)
    require_update(cms, collection, item, accountability)
    delta = _delta(row)
    if not delta:
        raise UnprocessableContentError("No changes to promote")
    if wanted_hash is not None and wanted_hash != main_hash(cms, collection, item):
        raise InvalidPayloadError("Main item has changed since this version was last updated")
    payload = {k: v for k, v in delta.items() if fields is None or k in fields}
    if not payload:
        raise UnprocessableContentError("No changes to promote")
    svc = ItemsService(cms, collection, accountability)
    if coll.singleton:
        return svc.upsert_singleton(payload)
    return svc.update_one(item, payload)


# -- ?version= on reads ----------------------------------------------------------------------
def apply_delta(item: Any, delta: dict[str, Any], everything: bool = False) -> Any:
    """``item`` with the delta's values for the fields it shows (all with ``everything``)."""
    if not isinstance(item, dict):
        return item
    out = dict(item)
    for name, value in delta.items():
        if everything or name in out:
            out[name] = value
    return out


def version_delta(cms: Any, collection: str, key: str, item: Any) -> dict[str, Any] | None:
    """The delta of version ``key`` of ``item`` (None for a singleton: its only item), or
    None when there is no such version."""
    flt: list[dict[str, Any]] = [{"key": {"_eq": key}}, {"collection": {"_eq": collection}}]
    if item is not None:
        flt.append({"item": {"_eq": str(item)}})
    rows = ItemsService(cms, VERSIONS, None, emit_events=False).read_by_query(
        {"fields": ["delta"], "filter": {"_and": flt}, "limit": 1})
    return _delta(rows[0]) if rows else None
