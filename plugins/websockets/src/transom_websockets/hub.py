"""The sockets of one worker and the events they are owed.

Flow of an event: an ``items.create|update|delete`` listener (after commit, on whichever
worker or instance made the change) publishes ``realtime`` on the messenger
(``{c: collection, a: action, k: keys}``); every process's handler queues it; one dispatcher
thread per worker re-reads the items *as each subscriber* (its own accountability, its own
query) through the items service, so a subscriber never receives a row or a field its
permissions hide, and sends the result. Subscribers with the same permission set, user and
query share one read.

A ticker thread reads the same-machine bus every ``WEBSOCKETS_POLL_INTERVAL`` (workers only
read it at the start of a request otherwise), pings clients, closes silent ones and tells
clients whose token expired to authenticate again.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import orjson

from transom.api import ItemsService, TransomError

from .protocol import encode, error
from .settings import SocketSettings

if TYPE_CHECKING:
    from .client import Client, Subscription

log = logging.getLogger("transom.websockets")

TOPIC = "realtime"
#: keys per messenger message: keeps each one well inside a local-bus slot
KEYS_PER_MESSAGE = 40


class Hub:
    """One per app (``cms.state("transom_websockets")``)."""

    def __init__(self, cms: Any, settings: SocketSettings) -> None:
        self.cms = cms
        self.settings = settings
        #: the Flask app (set by ``init_app``): auth hooks run in its request contexts
        self.app: Any = None
        self.clients: set[Client] = set()
        self.lock = threading.Lock()
        #: bumped on every ``access`` message: clients resolve their caller again
        self.access_epoch = 0
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.delivered = 0
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._started = False
        cms.messenger.subscribe(TOPIC, self._on_message)
        cms.messenger.subscribe("access", self._on_access)

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Start the dispatcher and ticker (on the first socket, after the fork)."""
        with self.lock:
            if self._started:
                return
            self._started = True
        for target, name in ((self._dispatch_loop, "transom-ws-dispatch"),
                             (self._tick_loop, "transom-ws-tick")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self, code: int = 1001, reason: str = "Server shutting down") -> None:
        """Close every socket (1001 "going away") and stop the threads."""
        self._stop.set()
        self.events.put(None)
        with self.lock:
            clients = list(self.clients)
        for client in clients:
            client.close(code, reason)

    def add(self, client: Client) -> bool:
        with self.lock:
            if len(self.clients) >= self.settings.max_connections:
                return False
            self.clients.add(client)
        self.start()
        return True

    def remove(self, client: Client) -> None:
        with self.lock:
            self.clients.discard(client)

    def count(self) -> int:
        return len(self.clients)

    # -- events in ------------------------------------------------------------------------
    def on_item_event(self, meta: dict[str, Any], _context: Any) -> None:
        """The after-commit listener: tell every process (this one included)."""
        collection = meta.get("collection")
        event = str(meta.get("event") or "")
        action = event.rsplit(".", 1)[-1]
        if not isinstance(collection, str) or action not in ("create", "update", "delete"):
            return
        keys = meta.get("keys")
        if keys is None and "key" in meta:
            keys = [meta["key"]]
        keys = [k for k in (keys or []) if isinstance(k, (str, int))]
        for i in range(0, len(keys), KEYS_PER_MESSAGE):
            self.cms.messenger.publish(TOPIC, {"c": collection, "a": action,
                                               "k": keys[i:i + KEYS_PER_MESSAGE]})

    def _on_message(self, payload: dict[str, Any]) -> None:
        # runs under the messenger's lock: only queue
        if payload.get("c") and payload.get("k"):
            self.events.put(payload)

    def _on_access(self, _payload: dict[str, Any]) -> None:
        self.access_epoch += 1

    # -- events out -----------------------------------------------------------------------
    def _dispatch_loop(self) -> None:
        while not self._stop.is_set():
            event = self.events.get()
            if event is None:
                return
            try:
                self.dispatch(event)
            except Exception:  # noqa: BLE001 - one bad event must not stop the others
                log.exception("websockets: dispatching %s failed", event)

    def subscriptions_of(self, collection: str) -> list[Subscription]:
        with self.lock:
            clients = list(self.clients)
        return [s for c in clients for s in c.subscriptions_for(collection)]

    def dispatch(self, event: dict[str, Any]) -> None:
        """Send one event to every subscription it concerns, shaped per subscriber."""
        collection, action, keys = str(event["c"]), str(event["a"]), list(event["k"])
        groups: dict[Any, list[Subscription]] = defaultdict(list)
        for sub in self.subscriptions_of(collection):
            if sub.event is not None and sub.event != action:
                continue
            if sub.item is not None and str(sub.item) not in {str(k) for k in keys}:
                continue
            acc = sub.client.current_accountability()
            if acc is None:
                continue  # waiting for a new auth: nothing is delivered meanwhile
            group = (acc.permission_key(), acc.user, sub.query_key, sub.item)
            groups[group].append(sub)
        for subs in groups.values():
            acc = subs[0].client.current_accountability()
            if acc is None:
                continue
            data = self._shape(collection, action, keys, subs[0], acc)
            if data is None:
                continue
            for sub in subs:
                sub.deliver(action, data)
                self.delivered += 1

    def _shape(self, collection: str, action: str, keys: list[Any], sub: Subscription,
               acc: Any) -> Any:
        """What this subscriber may see of the event, or None for nothing."""
        service = ItemsService(self.cms, collection, acc, emit_events=False)
        try:
            if action == "delete":
                service.permissions.require(collection, "read")
                if sub.item is not None:
                    return [k for k in keys if str(k) == str(sub.item)] or None
                return keys
            items = service.read_many(keys, sub.query)
        except TransomError:
            return None  # no longer allowed to read it (or the collection is gone)
        if not items:
            return None
        return items

    # -- the ticker -----------------------------------------------------------------------
    def _tick_loop(self) -> None:
        interval = max(0.005, self.settings.poll_interval)
        heartbeat = self.settings.heartbeat
        next_beat = time.monotonic() + heartbeat if heartbeat else None
        next_check = time.monotonic() + 1.0
        while not self._stop.wait(interval):
            try:
                self.cms.messenger.sync()
            except Exception:  # noqa: BLE001
                log.warning("websockets: reading the local bus failed", exc_info=True)
            now = time.monotonic()
            if now >= next_check:
                next_check = now + 0.5
                self._check_expiry()
            if next_beat is not None and heartbeat and now >= next_beat:
                next_beat = now + heartbeat
                self._heartbeat()

    def _clients(self) -> list[Client]:
        with self.lock:
            return list(self.clients)

    def _heartbeat(self) -> None:
        """Close clients silent since the last ping; ping the others."""
        ping = encode({"type": "ping"})
        for client in self._clients():
            if client.pinged_at is not None and client.last_seen < client.pinged_at:
                client.close(1000, "Heartbeat timeout")
                continue
            client.pinged_at = time.monotonic()
            client.send_text(ping)

    def _check_expiry(self) -> None:
        now = time.time()
        for client in self._clients():
            client.check_expiry(now)


def token_expired_message(uid: Any = None) -> dict[str, Any]:
    return error("auth", "TOKEN_EXPIRED", "Token expired.", uid)


def dumps_query(query: Any) -> str:
    """A stable key of a subscription's query (subscribers sharing it share reads)."""
    return orjson.dumps(query, option=orjson.OPT_SORT_KEYS).decode()
