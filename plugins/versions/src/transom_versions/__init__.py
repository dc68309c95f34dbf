"""Content versions (save, compare, promote) for Transom, as Directus 11 has them.

* ``POST /versions`` (the core's CRUD route) is checked and stamped with the main item's
  hash by a ``versions.create`` filter; ``PATCH /versions/:id`` may only rename;
* ``/versions/:id/save|compare|promote`` (:mod:`.routes`);
* ``?version=<key>`` on item reads: an ``items.read`` filter lays the version's delta over
  the items read (403 when no such version exists, as Directus 11.12+ answers).

See docs/versions.md.
"""

from __future__ import annotations

from typing import Any

from transom.api import Filter, ForbiddenError, Query, hookimpl

from . import service
from .routes import bp


def _on_create(payload: Any, meta: dict[str, Any], context: Any) -> Any:
    if not isinstance(payload, dict):
        return payload
    return service.prepare_create(context.cms, payload, context.accountability,
                                  context.connection)


def _on_update(payload: Any, meta: dict[str, Any], context: Any) -> Any:
    return service.check_update(payload) if isinstance(payload, dict) else payload


def _single_key(query: Query, pk: str | None) -> Any:
    """The key of a one-item read (``read_one`` filters ``{pk: {_eq: key}}``), or None."""
    flt = query.filter or {}
    parts = flt.get("_and") if isinstance(flt.get("_and"), list) else [flt]
    last = parts[-1] if parts else None
    if pk and query.limit == 1 and isinstance(last, dict) and set(last) == {pk} \
            and isinstance(last[pk], dict) and set(last[pk]) == {"_eq"}:
        return last[pk]["_eq"]
    return None


def _on_read(payload: Any, meta: dict[str, Any], context: Any) -> Any:
    """``?version=<key>`` on a one-item or singleton read, as Directus has it: the item with
    the version's delta applied; 403 when the item has no such version."""
    query = meta.get("query")
    collection = meta.get("collection")
    if not isinstance(query, Query) or not query.version or not isinstance(payload, list) \
            or not collection or collection.startswith("directus_") \
            or query.version == service.MAIN_KEY:
        return payload
    coll = context.schema.get(collection)
    if coll is None:
        return payload
    key = None if coll.singleton else _single_key(query, coll.primary_key)
    if key is None and not coll.singleton:
        return payload  # a list read: Directus reads versions one item at a time
    delta = service.version_delta(context.cms, collection, query.version, key)
    if delta is None:
        raise ForbiddenError()
    return [service.apply_delta(item, delta) for item in payload]


@hookimpl
def register_filters(cms: Any) -> Any:
    return [Filter("versions.create", _on_create), Filter("versions.update", _on_update),
            Filter("items.read", _on_read)]


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp
