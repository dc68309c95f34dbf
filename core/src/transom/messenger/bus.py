"""Publish and subscribe to invalidations, locally first and then everywhere.

Semantics, written down once:

* ``publish(topic, payload)`` hands the message to every transport, then runs this
  process's handlers at once (so the answer to the request that made the change already
  reflects it, while the others refresh at the same time). The payload is a *hint* of
  what changed; an empty payload means "anything in this topic", and a handler must then
  drop everything the topic covers.
* The **local bus** (:mod:`transom.messenger.local`) reaches the other workers on this
  machine. It is checked synchronously by :meth:`Messenger.sync` at the start of every
  request, so once a change has answered, the next request on any worker honours it.
* **Remote transports** (Redis pub/sub, PostgreSQL ``LISTEN/NOTIFY``, contributed through
  the ``register_message_transports`` hook) reach other instances; a listener thread
  delivers their messages as they arrive (tens of milliseconds).
* A message is handled once per process whichever transports carry it (ids are remembered),
  and never by the process that published it. When a transport may have lost messages (the
  local ring wrapped, Redis reconnected) the messenger delivers :data:`RESYNC`, for which
  every handler drops everything.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

log = logging.getLogger("transom.messenger")

#: The pseudo-topic delivered when messages may have been lost: drop every cache.
RESYNC = "*resync*"

Handler = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Message:
    """One invalidation: a topic, a JSON payload, who sent it and a unique id."""

    topic: str
    payload: dict[str, Any] = field(default_factory=dict)
    origin: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def encode(self) -> bytes:
        return orjson.dumps({"t": self.topic, "p": self.payload, "o": self.origin,
                             "i": self.id})

    def bare(self) -> Message:
        """The same message without its payload (for transports with a size limit)."""
        return Message(self.topic, {}, self.origin, self.id)

    @classmethod
    def decode(cls, data: bytes | str) -> Message | None:
        try:
            raw = orjson.loads(data)
            payload = raw.get("p") or {}
            if not isinstance(payload, dict):
                payload = {}
            return cls(str(raw["t"]), payload, str(raw.get("o") or ""),
                       str(raw.get("i") or uuid.uuid4().hex))
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("messenger: dropped an undecodable message %r", data[:120])
            return None


class Transport(Protocol):
    """A way to reach other instances. ``start`` receives the callback that delivers
    incoming messages (call it from the transport's own thread); ``send`` must not raise
    for an outage (log it); ``close`` stops the thread."""

    name: str

    def start(self, deliver: Callable[[Message], None]) -> None: ...

    def send(self, message: Message) -> None: ...

    def close(self) -> None: ...


class Messenger:
    """One per app (per worker process)."""

    def __init__(self, transports: Iterable[Transport] = (), local: Any = None) -> None:
        #: identifies this process's messages, so it does not handle its own twice
        self.origin = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.transports = list(transports)
        self.local = local
        self._handlers: dict[str, list[Handler]] = {}
        self._lock = threading.RLock()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._local_seen = local.head() if local is not None else 0
        self._started = False
        self.delivered = 0  # messages handled from other processes (metrics, tests)

    # -- subscribing ----------------------------------------------------------------------
    def subscribe(self, topic: str, handler: Handler) -> None:
        """Run ``handler(payload)`` for every message of ``topic`` (and with ``{}`` on a
        resync). Handlers run under the messenger's lock: keep them short and never
        publish from one."""
        with self._lock:
            self._handlers.setdefault(topic, []).append(handler)

    # -- publishing -----------------------------------------------------------------------
    def publish(self, topic: str, payload: dict[str, Any] | None = None) -> None:
        """Tell every other worker and instance, then apply the change here (so the others
        refresh while this process does; it has applied it before it answers)."""
        message = Message(topic, dict(payload or {}), self.origin)
        self._broadcast(message)
        with self._lock:
            self._remember(message.id)
            self._run(message.topic, message.payload)

    def _broadcast(self, message: Message) -> None:
        topic = message.topic
        if self.local is not None:
            try:
                self.local.send(message)
            except OSError:
                log.warning("messenger: the local bus could not be written", exc_info=True)
        for transport in self.transports:
            try:
                transport.send(message)
            except Exception:  # noqa: BLE001 - an outage must not fail the change itself
                log.warning("messenger: %s could not send %s", transport.name, topic,
                            exc_info=True)

    # -- receiving ------------------------------------------------------------------------
    def sync(self) -> None:
        """Handle what other workers on this machine published (cheap when nothing did:
        one 8-byte read of a shared memory map)."""
        bus = self.local
        if bus is None or bus.head() == self._local_seen:
            return
        with self._lock:
            head = bus.head()
            if head == self._local_seen:
                return
            messages, lost = bus.read(self._local_seen, head)
            if lost:
                self._resync_locked("the local bus wrapped")
            for message in messages:
                self._deliver_locked(message)
            # moved only once handled: a request thread calling sync() while another thread
            # (a WebSocket poller) handles these must wait for the lock, not pass stale
            self._local_seen = head

    def settle(self) -> None:
        """Wait for a message being handled right now (by a listener thread) to finish,
        and handle what the local bus holds."""
        with self._lock:
            pass
        self.sync()

    def deliver(self, message: Message) -> None:
        """Entry point of remote transports (called from their threads)."""
        if message.origin == self.origin:
            return
        with self._lock:
            self._deliver_locked(message)

    def resync(self, why: str) -> None:
        """Drop every cache (a transport may have missed messages)."""
        with self._lock:
            self._resync_locked(why)

    def _deliver_locked(self, message: Message) -> None:
        if message.origin == self.origin or message.id in self._seen:
            return
        self._remember(message.id)
        self.delivered += 1
        log.debug("messenger: %s %s from %s", message.topic, message.payload, message.origin)
        if message.topic == RESYNC:
            self._resync_locked("asked by another process")
        else:
            self._run(message.topic, message.payload)

    def _resync_locked(self, why: str) -> None:
        log.info("messenger: resync (%s)", why)
        for topic in list(self._handlers):
            self._run(topic, {})

    def _run(self, topic: str, payload: dict[str, Any]) -> None:
        for handler in self._handlers.get(topic, ()):
            try:
                handler(payload)
            except Exception:  # noqa: BLE001 - one handler must not starve the others
                log.exception("messenger: a handler of %r failed", topic)

    def _remember(self, message_id: str) -> None:
        self._seen[message_id] = None
        while len(self._seen) > 4096:
            self._seen.popitem(last=False)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Start the remote transports' listeners (once per process, after any fork)."""
        if self._started:
            return
        self._started = True
        for transport in self.transports:
            try:
                transport.start(self.deliver)
            except Exception:  # noqa: BLE001 - keep serving; the transport retries itself
                log.warning("messenger: %s did not start", transport.name, exc_info=True)

    def close(self) -> None:
        for transport in self.transports:
            try:
                transport.close()
            except Exception:  # noqa: BLE001
                log.debug("messenger: closing %s failed", transport.name, exc_info=True)
        if self.local is not None:
            self.local.close()
