"""Page-visit statistics for Transom, written as a third-party plugin would be.

* ``GET /stats/visits`` sums ``count`` over the ``page_visits`` items the caller may read,
  through ``ItemsService`` as the caller (so permissions apply as for ``/items``);
* a filter hook refuses negative counts on create and update, for REST and GraphQL alike;
* an action hook counts the committed changes of ``page_visits`` (``changes(cms)``).

It imports from ``transom.api`` only, the documented surface for extension code.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Blueprint

from transom.api import Filter, InvalidPayloadError, Listener, current_context, hookimpl

__version__ = "0.1.0"

COLLECTION = "page_visits"
EXTENSION_KEY = "transom_example_visits"

bp = Blueprint("transom_example_visits", __name__)


@bp.get("/stats/visits")
def visits() -> Any:
    items = current_context().services.items(COLLECTION).read_by_query(
        {"fields": ["count"], "limit": -1})
    total = sum(int(item.get("count") or 0) for item in items)
    return {"data": {"total": total, "pages": len(items)}}


def reject_negative_counts(payload: dict[str, Any], meta: dict[str, Any],
                           context: Any) -> dict[str, Any]:
    """Filter: runs inside the write's transaction; raising cancels the whole write."""
    count = payload.get("count")
    try:
        negative = count is not None and float(count) < 0
    except (TypeError, ValueError):
        negative = False  # not a number: the field's own validation answers
    if negative:
        raise InvalidPayloadError('"count" must not be negative')
    return payload


class _Counter:
    """Committed changes seen by the action hook (listeners may run on a thread pool)."""

    def __init__(self) -> None:
        self.value = 0
        self.lock = threading.Lock()

    def __call__(self, meta: dict[str, Any], context: Any) -> None:
        with self.lock:
            self.value += 1


def changes(cms: Any) -> int:
    """How many committed changes of ``page_visits`` this app has seen."""
    counter = cms.state(EXTENSION_KEY)
    return counter.value if counter is not None else 0


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp


@hookimpl
def register_filters(cms: Any) -> Any:
    return [Filter(f"{COLLECTION}.items.create", reject_negative_counts),
            Filter(f"{COLLECTION}.items.update", reject_negative_counts)]


@hookimpl
def register_listeners(cms: Any) -> Any:
    counter = cms.state(EXTENSION_KEY, _Counter)
    # writes only: ``page_visits.items.*`` would also match the reads (``items.read``)
    return [Listener(f"{COLLECTION}.items.{action}", counter)
            for action in ("create", "update", "delete")]
