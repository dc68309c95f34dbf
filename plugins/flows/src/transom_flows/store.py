"""The active flows and their operation graphs, cached per process.

Reading ``directus_flows`` and ``directus_operations`` on every event would cost two queries
per item write; instead the graph is read once and kept until the ``flows`` topic of the
messenger says a flow or operation changed (the items service publishes it after every
committed write to either table, to every worker and instance). No polling.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from transom.api import ItemsService, Transom

TOPIC = "flows"
TRIGGERS = ("event", "webhook", "schedule", "operation", "manual")


def _options(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Operation:
    """One step of a flow: what to run, and where to go on success or failure."""

    id: str
    key: str
    type: str
    options: dict[str, Any]
    resolve: str | None = None
    reject: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Flow:
    """A flow with its operations by id; ``operation`` is the first one."""

    id: str
    name: str
    status: str
    trigger: str | None
    accountability: str | None
    options: dict[str, Any]
    operation: str | None
    operations: dict[str, Operation] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status == "active"


class FlowStore:
    """Active flows of one app, loaded on first use and dropped on every ``flows`` message."""

    def __init__(self, cms: Transom) -> None:
        self.cms = cms
        self._lock = threading.Lock()
        self._flows: dict[str, Flow] | None = None
        self._generation = 0
        self.loads = 0  # how many times the graph was read (tests check the cache)
        self._listeners: list[Any] = []
        cms.messenger.subscribe(TOPIC, self._invalidate)

    def on_change(self, callback: Any) -> None:
        """Call ``callback()`` after each invalidation (the scheduler replans)."""
        self._listeners.append(callback)

    def _invalidate(self, _payload: dict[str, Any]) -> None:
        with self._lock:
            self._flows = None
            self._generation += 1
        for callback in self._listeners:
            callback()

    def flows(self) -> dict[str, Flow]:
        """Every active flow by id (read from the database when the cache is empty)."""
        current = self._flows
        if current is not None:
            return current
        with self._lock:
            generation = self._generation
        loaded = self._load()
        with self._lock:
            if self._generation == generation:  # no change arrived while we were reading
                self._flows = loaded
        return loaded

    def get(self, flow_id: str) -> Flow | None:
        return self.flows().get(str(flow_id))

    def by_trigger(self, trigger: str) -> list[Flow]:
        return [f for f in self.flows().values() if f.trigger == trigger]

    def _load(self) -> dict[str, Flow]:
        self.loads += 1
        schema = self.cms.schema
        if schema.get("directus_flows") is None or schema.get("directus_operations") is None:
            return {}  # a database without the system tables (not bootstrapped yet)
        flows_rows = ItemsService(self.cms, "directus_flows", None, emit_events=False
                                  ).read_by_query({"limit": -1, "fields": ["*"],
                                                   "filter": {"status": {"_eq": "active"}}})
        if not flows_rows:
            return {}
        ids = [str(r["id"]) for r in flows_rows]
        op_rows = ItemsService(self.cms, "directus_operations", None, emit_events=False
                               ).read_by_query({"limit": -1, "fields": ["*"],
                                                "filter": {"flow": {"_in": ids}}})
        ops: dict[str, dict[str, Operation]] = {i: {} for i in ids}
        for r in op_rows:
            op = Operation(str(r["id"]), str(r["key"]), str(r["type"]), _options(r["options"]),
                           _str(r.get("resolve")), _str(r.get("reject")), r.get("name"))
            ops.setdefault(str(r["flow"]), {})[op.id] = op
        result: dict[str, Flow] = {}
        for r in flows_rows:
            fid = str(r["id"])
            result[fid] = Flow(fid, r.get("name") or "", r.get("status") or "active",
                               r.get("trigger"), r.get("accountability"),
                               _options(r.get("options")), _str(r.get("operation")),
                               ops.get(fid, {}))
        return result


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
