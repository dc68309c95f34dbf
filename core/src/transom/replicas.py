"""Read replicas: item reads go to a healthy replica, everything else to the primary.

Why here and not in a plugin: the choice of connection is made by the kernel for every
read, and it must agree with the kernel's write path (a client that has just written
reads from the primary for ``DB_REPLICA_STICKY`` seconds: read-your-writes).

- Only reads that ask for it (``cms.connect(replica=True)``, used by the items service)
  can be served by a replica; schema introspection, auth, locks and anything inside a
  write's transaction use the primary.
- A replica is checked every ``DB_REPLICA_CHECK_INTERVAL`` seconds (a lag query the
  dialect provides); one that does not answer, or lags more than ``DB_REPLICA_MAX_LAG``
  seconds, is taken out until a later check finds it well. A connection error on a
  replica takes it out at once and the read is served by the primary.
- Stickiness is per client (a hash of its token or session, else its address). The mark
  is kept in this process and published on the messenger's ``replica`` topic so that the
  other workers and instances honour it for their next request.
"""

from __future__ import annotations

import contextvars
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

log = logging.getLogger("transom.replicas")

#: who the current request is, for stickiness (set by the app for each request)
client_key: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "transom_replica_client", default=None)

#: set while a request is run again after a replica failed it: the primary answers
primary_only: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "transom_replica_primary_only", default=False)

_STICKY_CAP = 100_000  # bounded memory: the oldest marks go first


class ReplicaFailed(Exception):
    """A read on a replica lost its connection; the replica is out, and the request is
    run again on the primary by the app (a read is safe to repeat)."""


@dataclass
class Replica:
    """One read-only connection target and what the last check found."""

    name: str
    engine: Engine
    healthy: bool = False
    lag: float | None = None
    error: str | None = None
    checked_at: float = 0.0
    reads: int = 0

    def report(self) -> dict[str, Any]:
        return {"name": self.name, "healthy": self.healthy,
                "lag_seconds": None if self.lag is None else round(self.lag, 3),
                "error": self.error, "reads": self.reads}


@dataclass
class ReplicaRouter:
    """Chooses the engine for a read; holds the replicas' health and the sticky marks."""

    replicas: list[Replica]
    lag_of: Callable[[sa.Connection], float | None]
    sticky_seconds: float = 5.0
    max_lag: float = 10.0
    interval: float = 2.0
    publish: Callable[[str, float], None] | None = None
    _sticky: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    primary_reads: int = 0

    # -- stickiness ---------------------------------------------------------------------
    def mark_written(self) -> None:
        """The current client just committed a write: read from the primary for a while."""
        key = client_key.get()
        if key is None or not self.replicas:
            return
        until = time.time() + self.sticky_seconds
        self.remember(key, until)
        if self.publish is not None:
            try:
                self.publish(key, until)
            except Exception:  # a lost mark only costs a stale read on another worker
                log.warning("could not publish a read-your-writes mark", exc_info=True)

    def remember(self, key: str, until: float) -> None:
        with self._lock:
            if len(self._sticky) >= _STICKY_CAP:
                now = time.time()
                self._sticky = {k: t for k, t in self._sticky.items() if t > now}
                while len(self._sticky) >= _STICKY_CAP:
                    self._sticky.pop(next(iter(self._sticky)))
            if until > self._sticky.get(key, 0.0):
                self._sticky[key] = until

    def _is_sticky(self) -> bool:
        if primary_only.get():
            return True
        key = client_key.get()
        if key is None:
            return False
        until = self._sticky.get(key)
        if until is None:
            return False
        if until < time.time():
            with self._lock:
                self._sticky.pop(key, None)
            return False
        return True

    # -- choice -------------------------------------------------------------------------
    def pick(self) -> Replica | None:
        """A healthy replica for this read, or None for the primary."""
        if self._is_sticky():
            self.primary_reads += 1
            return None
        healthy = [r for r in self.replicas if r.healthy]
        if not healthy:
            self.primary_reads += 1
            return None
        chosen = healthy[0] if len(healthy) == 1 else random.choice(healthy)
        chosen.reads += 1
        return chosen

    def take_out(self, replica: Replica, exc: BaseException) -> None:
        replica.healthy = False
        replica.error = type(exc).__name__
        log.warning("replica %s taken out: %s", replica.name, exc)

    # -- health -------------------------------------------------------------------------
    def check(self, replica: Replica) -> None:
        """Measure one replica's lag; take it out when down or too far behind."""
        try:
            with replica.engine.connect() as conn:
                lag = self.lag_of(conn)
        except Exception as exc:  # any failure means: do not send reads there
            replica.healthy, replica.lag = False, None
            replica.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        else:
            replica.lag = lag
            replica.healthy = lag is None or lag <= self.max_lag
            replica.error = None if replica.healthy else f"lag {lag:.1f}s > {self.max_lag}s"
        replica.checked_at = time.time()

    def check_all(self) -> None:
        for replica in self.replicas:
            self.check(replica)

    def start(self) -> None:
        """Check once now, then in a daemon thread every ``interval`` seconds."""
        self.check_all()
        if self._thread is not None and self._thread.is_alive():
            return  # (a thread object copied by fork from a parent is not alive here)
        self._thread = threading.Thread(target=self._watch, name="transom-replicas",
                                        daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self.check_all()

    def report(self) -> dict[str, Any]:
        return {"replicas": [r.report() for r in self.replicas],
                "primary_reads": self.primary_reads}

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        for replica in self.replicas:
            replica.engine.dispose()


def replica_urls(config: Any, primary: sa.URL) -> list[sa.URL]:
    """The replicas configured: ``DB_REPLICA_URL`` (comma-separated URLs) and/or
    ``DB_REPLICA_HOST`` (comma-separated hosts, optionally ``host:port``) that share the
    primary's driver, database, user and password (``DB_REPLICA_PORT``/``_USER``/
    ``_PASSWORD`` override them)."""
    urls: list[sa.URL] = [make_url(u) for u in (config.get("DB_REPLICA_URL") or [])]
    for host in config.get("DB_REPLICA_HOST") or []:
        name, _, port = host.partition(":")
        url = primary.set(host=name,
                          port=int(port) if port else
                          (config.get("DB_REPLICA_PORT") or primary.port))
        if config.get("DB_REPLICA_USER"):
            url = url.set(username=config.get("DB_REPLICA_USER"))
        if config.get("DB_REPLICA_PASSWORD") is not None:
            url = url.set(password=config.get("DB_REPLICA_PASSWORD"))
        urls.append(url)
    return urls
