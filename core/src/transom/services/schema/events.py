"""Directus's schema event names (``collections.create``, ``fields.update``,
``relations.delete``...) around the schema services' public methods.

The filter runs before the change (after the admin check) and may replace the payload, or
the keys of a delete, or cancel by raising; the action runs once the change has committed.
``schema.changed`` is still emitted by the kernel's refresh, as before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from ...events import EventContext

F = TypeVar("F", bound=Callable[..., Any])


def _context(svc: Any) -> EventContext:
    return EventContext(svc.accountability, None, svc.schema, svc.cms)


def schema_event(scope: str, action: str) -> Callable[[F], F]:
    """Emit ``<scope>.<action>`` around a service method whose last positional argument is
    the payload (create/update) or the key (delete); leading ones name the collection and,
    for relations' update/delete, the field."""
    name = f"{scope}.{action}"

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(svc: Any, *args: Any) -> Any:
            svc.require_admin()
            *lead, last = args
            meta: dict[str, Any] = {"collection": lead[0]} if lead else {}
            if len(lead) > 1:
                meta["field"] = lead[1]
            events = svc.cms.events
            if action == "delete":
                keys = events.filter([name], [last], meta, _context(svc)) \
                    if events.has_filters([name]) else [last]
                if not isinstance(keys, list):
                    keys = [keys]
                for key in keys:
                    method(svc, *lead, key)
                _action(svc, name, {**meta, "keys": keys, "payload": keys})
                return None
            if events.has_filters([name]):
                last = events.filter([name], last, meta, _context(svc))
            result = method(svc, *lead, last)
            key: Any = result
            if isinstance(result, tuple):  # a relation: (collection, field)
                meta["collection"], key = result
            if action == "create":
                _action(svc, name, {**meta, "key": key, "payload": last})
            else:
                _action(svc, name, {**meta, "keys": key if isinstance(key, list) else [key],
                                    "payload": last})
            return result

        return wrapper  # type: ignore[return-value]

    return decorate


def _action(svc: Any, name: str, meta: dict[str, Any]) -> None:
    if svc.cms.events.matching_listeners([name]):
        svc.cms.events.dispatch([name], meta, _context(svc))
