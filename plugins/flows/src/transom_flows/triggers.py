"""Event and schedule triggers.

* **action** flows run after the change commits, in the listener thread of the worker that
  made the change (so once per change, whatever the number of workers);
* **filter** flows run inside the change's transaction, before it is written: the flow's
  result replaces the payload when it is an object (a list of keys for deletes), and a run
  that ends on a rejected step cancels the change with that step's error;
* **schedule** flows: each worker keeps one timer thread; when a flow's cron tick is due it
  claims ``(flow, tick)`` for the whole deployment (``transom.api.claim``: the kernel's
  claim store) and only the winner runs it. The thread wakes at least once a second and
  reads the same-machine message ring first, so flow changes made on another worker are
  seen without polling the database.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import TYPE_CHECKING, Any

from transom.api import InvalidPayloadError, TransomError, claim, next_time

if TYPE_CHECKING:
    from .engine import Engine
    from .store import Flow

log = logging.getLogger("transom.flows")

SCOPES = ("items.create", "items.update", "items.delete")


def generic_scope(event: str) -> str:
    """``articles.items.create`` -> ``items.create``."""
    parts = event.split(".")
    if len(parts) >= 3 and parts[-2] == "items":
        return f"items.{parts[-1]}"
    return event


def event_flows(engine: Engine, kind: str, event: str, collection: str | None) -> list[Flow]:
    scope = generic_scope(event)
    found = []
    for flow in engine.store.by_trigger("event"):
        opts = flow.options
        if (opts.get("type") or "action") != kind:
            continue
        if scope not in (opts.get("scope") or []) and event not in (opts.get("scope") or []):
            continue
        colls = opts.get("collections") or []
        if collection is not None and colls and collection not in colls:
            continue
        found.append(flow)
    return found


def trigger_data(meta: dict[str, Any], payload: Any = None) -> dict[str, Any]:
    data: dict[str, Any] = {"event": meta.get("event"), "collection": meta.get("collection")}
    if "key" in meta:
        data["key"] = meta["key"]
    if "keys" in meta:
        data["keys"] = meta["keys"]
    data["payload"] = meta.get("payload") if payload is None else payload
    return data


def on_action(engine: Engine, meta: dict[str, Any], context: Any) -> None:
    """Listener: runs in the event bus's background thread, after commit."""
    event = str(meta.get("event") or "")
    for flow in event_flows(engine, "action", event, meta.get("collection")):
        engine.run_safely(flow, trigger_data(meta), context.accountability)


def on_filter(engine: Engine, payload: Any, meta: dict[str, Any], context: Any) -> Any:
    """Filter: runs in the change's transaction and may replace or cancel it."""
    event = str(meta.get("event") or "")
    for flow in event_flows(engine, "filter", event, meta.get("collection")):
        run = engine.run(flow, trigger_data(meta, payload), context.accountability,
                         context.connection)
        if run.status == "reject":
            err = run.error
            if isinstance(err, TransomError):
                raise err
            raise InvalidPayloadError(f'Flow "{flow.name}" rejected the change')
        result = run.result()
        if isinstance(payload, dict) and isinstance(result, dict):
            payload = result
        elif isinstance(payload, list) and isinstance(result, list):
            payload = result
    return payload


# -- schedules --------------------------------------------------------------------------------
def next_fire(cron: str, after: dt.datetime) -> dt.datetime | None:
    try:
        return next_time(cron, after)
    except (ValueError, KeyError):
        return None


def tick_key(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _now() -> dt.datetime:
    return dt.datetime.now().astimezone()


class FlowScheduler:
    """One timer thread per worker for the app's schedule flows."""

    #: seconds a tick's claim is kept (longer than any worker can lag)
    CLAIM_TTL_S = 86_400.0

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._plan: dict[str, tuple[str, dt.datetime]] = {}  # flow id -> (cron, next time)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.ran: list[tuple[str, str]] = []  # (flow, tick) this worker ran, newest last
        engine.store.on_change(self._wake.set)

    def replan(self, now: dt.datetime) -> None:
        """Keep next times of unchanged schedules; plan new ones from ``now``."""
        plan: dict[str, tuple[str, dt.datetime]] = {}
        for flow in self.engine.store.by_trigger("schedule"):
            cron = str(flow.options.get("cron") or "")
            old = self._plan.get(flow.id)
            if old is not None and old[0] == cron:
                plan[flow.id] = old
                continue
            at = next_fire(cron, now)
            if at is not None:
                plan[flow.id] = (cron, at)
        self._plan = plan

    def run_due(self, now: dt.datetime) -> list[str]:
        """Claim and run the flows due at ``now``; the ids of those this worker ran."""
        self.replan(now)
        ran = []
        for flow_id, (cron, at) in list(self._plan.items()):
            if at > now:
                continue
            nxt = next_fire(cron, max(now, at))
            if nxt is not None:
                self._plan[flow_id] = (cron, nxt)
            flow = self.engine.store.get(flow_id)
            if flow is None or not self._claim(flow_id, at):
                continue
            self.ran.append((flow_id, tick_key(at)))
            del self.ran[:-100]
            self.engine.run_safely(flow, {"timestamp": tick_key(at)}, None)
            ran.append(flow_id)
        return ran

    def _claim(self, flow_id: str, at: dt.datetime) -> bool:
        try:
            return bool(claim(self.engine.cms, f"flow:{flow_id}", tick_key(at),
                              self.CLAIM_TTL_S))
        except Exception:  # noqa: BLE001 - an unreachable store skips the tick here
            log.exception("could not claim schedule flow %s", flow_id)
            return False

    def _loop(self) -> None:
        cms = self.engine.cms
        while not self._stop.is_set():
            try:
                cms.messenger.sync()  # flow changes from other workers of this machine
                now = _now()
                self.run_due(now)
                wait = min([(at - _now()).total_seconds() for _c, at in self._plan.values()]
                           or [1.0])
            except Exception:  # noqa: BLE001 - the timer must survive a bad moment
                log.exception("flow scheduler")
                wait = 1.0
            self._wake.wait(max(0.01, min(wait, 1.0)))
            self._wake.clear()

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="transom-flows-scheduler",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
