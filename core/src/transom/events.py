"""Lifecycle events with Directus's names: blocking filters and after-commit listeners.

Plugins return :class:`Filter`, :class:`Listener` and :class:`Schedule` objects from hooks; the
:class:`EventBus` owns the semantics written down once here:

* filters for an event run in ``priority`` order, inside the change's transaction; each gets
  the payload the previous one returned; raising cancels the change (the transaction rolls
  back and the client sees the error);
* listeners are queued on the transaction and dispatched only after it commits; a rollback
  drops them; their errors are logged and never reach the client.

Event names: ``items.create``, ``<collection>.items.create`` (user collections),
``users.create`` (system collections drop the ``directus_`` prefix), ``auth.login``,
``schema.changed``, ``server.start``, ``server.stop``... A handler registered for ``items.*``
matches every item event; ``*`` matches all.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("transom.events")


@dataclass(frozen=True)
class Filter:
    """A blocking handler: ``handler(payload, meta, context) -> payload``."""

    event: str
    handler: Callable[..., Any]
    priority: int = 100


@dataclass(frozen=True)
class Listener:
    """An after-commit handler: ``handler(meta, context) -> None``."""

    event: str
    handler: Callable[..., Any]


@dataclass(frozen=True)
class Schedule:
    """A job run on a cron expression (5 or 6 fields, seconds first when 6)."""

    cron: str
    handler: Callable[..., Any]
    name: str = ""


@dataclass
class EventContext:
    """What handlers receive beside the payload: who, on which connection, which schema."""

    accountability: Any = None
    connection: Any = None
    schema: Any = None
    cms: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def event_names(scope: str, action: str) -> list[str]:
    """Names an event is emitted under, most general first.

    ``("articles", "create")`` gives ``items.create`` and ``articles.items.create``;
    ``("directus_users", "create")`` gives ``users.create``.
    """
    if scope.startswith("directus_"):
        return [f"{scope[len('directus_'):]}.{action}"]
    return [f"items.{action}", f"{scope}.items.{action}"]


class EventBus:
    """Dispatches filters and listeners registered by plugins."""

    def __init__(self, filters: Iterable[Filter] = (), listeners: Iterable[Listener] = (),
                 inline: bool = False) -> None:
        self._filters = sorted(filters, key=lambda f: f.priority)
        self._listeners = list(listeners)
        self._inline = inline
        self._executor: ThreadPoolExecutor | None = None
        # which handlers match a list of names, computed once per list (reads ask on
        # every request; fnmatch is not free)
        self._filter_memo: dict[tuple[str, ...], list[Filter]] = {}
        self._listener_memo: dict[tuple[str, ...], list[Listener]] = {}

    def add_filter(self, flt: Filter) -> None:
        self._filters = sorted([*self._filters, flt], key=lambda f: f.priority)
        self._filter_memo.clear()

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)
        self._listener_memo.clear()

    def _matching_filters(self, names: Iterable[str]) -> list[Filter]:
        key = tuple(names)
        found = self._filter_memo.get(key)
        if found is None:
            found = [f for f in self._filters if any(self._matches(f.event, n) for n in key)]
            if len(self._filter_memo) < 4096:
                self._filter_memo[key] = found
        return found

    def has_filters(self, names: Iterable[str]) -> bool:
        return bool(self._matching_filters(names))

    @staticmethod
    def _matches(pattern: str, name: str) -> bool:
        return pattern == name or fnmatch.fnmatchcase(name, pattern)

    def filter(self, names: Iterable[str], payload: Any, meta: dict[str, Any],
               context: EventContext) -> Any:
        """Run every matching filter in order; return the final payload."""
        names = list(names)
        for flt in self._matching_filters(names):
            result = flt.handler(payload, {**meta, "event": names[-1]}, context)
            if result is not None:
                payload = result
        return payload

    def matching_listeners(self, names: Iterable[str]) -> list[Listener]:
        key = tuple(names)
        found = self._listener_memo.get(key)
        if found is None:
            found = [lst for lst in self._listeners
                     if any(self._matches(lst.event, n) for n in key)]
            if len(self._listener_memo) < 4096:
                self._listener_memo[key] = found
        return found

    def dispatch(self, names: Iterable[str], meta: dict[str, Any], context: EventContext) -> None:
        """Call matching listeners now (after commit), in the background unless inline."""
        names = list(names)
        for lst in self.matching_listeners(names):
            job_meta = {**meta, "event": names[-1]}
            if self._inline:
                self._safe_call(lst, job_meta, context)
            else:
                self._pool().submit(self._safe_call, lst, job_meta, context)

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="transom-ev")
        return self._executor

    @staticmethod
    def _safe_call(listener: Listener, meta: dict[str, Any], context: EventContext) -> None:
        try:
            listener.handler(meta, context)
        except Exception:  # noqa: BLE001 - an action must never fail the request
            log.exception("listener for %s failed", listener.event)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


class PendingEvents:
    """Listeners' calls queued during a transaction, fired only after it commits."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._queue: list[tuple[list[str], dict[str, Any], EventContext]] = []

    def add(self, names: list[str], meta: dict[str, Any], context: EventContext) -> None:
        if self.bus.matching_listeners(names):
            self._queue.append((names, meta, context))

    def flush(self) -> None:
        queue, self._queue = self._queue, []
        for names, meta, context in queue:
            self.bus.dispatch(names, meta, context)

    def discard(self) -> None:
        self._queue.clear()
