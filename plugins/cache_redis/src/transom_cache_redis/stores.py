"""Where cached responses live: a per-process memory store, or Redis shared by instances.

Both stores version their keys with a *generation*: a purge moves to the next generation
instead of deleting keys, so that a purge through one instance hides every cached answer
from all of them at once (Redis ``INCR``; no ``SCAN``/``KEYS`` over a large keyspace), and
old entries simply expire with their TTL.

A lookup returns the generation it read together with the value; the caller stores its fresh
answer under *that* generation, so an answer computed before a concurrent purge lands in
a generation nobody reads any more and can never resurrect stale data.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any, Protocol

from flask_caching.backends import SimpleCache

log = logging.getLogger("transom.cache")


class StoreUnavailable(Exception):
    """The store cannot answer now: serve the request uncached."""


class Lookup:
    """What a lookup found: the generation read, the value (or None) and, for Redis, the
    schema version another instance published (or None)."""

    __slots__ = ("generation", "value", "schema")

    def __init__(self, generation: str, value: bytes | None, schema: str | None = None) -> None:
        self.generation = generation
        self.value = value
        self.schema = schema


class Store(Protocol):
    name: str

    def lookup(self, digest: str) -> Lookup: ...

    def store(self, generation: str, digest: str, value: bytes, ttl_ms: int) -> None: ...

    def purge(self) -> None: ...

    def ping(self) -> None: ...

    def publish_schema(self, version: str) -> None: ...

    def schema_marker(self) -> str | None: ...

    def close(self) -> None: ...


class MemoryStore:
    """flask-caching's ``SimpleCache`` in this process: nothing shared between workers."""

    name = "memory"

    def __init__(self, max_entries: int) -> None:
        self._cache = SimpleCache(threshold=max_entries, default_timeout=300)
        self._generation = 0
        self._lock = threading.Lock()

    def lookup(self, digest: str) -> Lookup:
        gen = str(self._generation)
        return Lookup(gen, self._cache.get(f"{gen}:{digest}"))

    def store(self, generation: str, digest: str, value: bytes, ttl_ms: int) -> None:
        if generation != str(self._generation):
            return  # purged meanwhile: this answer may predate the change
        # SimpleCache counts in whole seconds and treats 0 as "forever".
        self._cache.set(f"{generation}:{digest}", value, timeout=max(1, math.ceil(ttl_ms / 1000)))

    def purge(self) -> None:
        with self._lock:
            self._generation += 1
            self._cache.clear()

    def ping(self) -> None:
        return None

    def publish_schema(self, version: str) -> None:
        return None

    def schema_marker(self) -> str | None:
        return None

    def close(self) -> None:
        self._cache.clear()


# One round trip per lookup: read the generation, then the entry under it, and the schema
# version last published by any instance.
_LOOKUP_SCRIPT = """
local gen = redis.call('GET', KEYS[1]) or '0'
local value = redis.call('GET', ARGV[1] .. gen .. ':' .. ARGV[2])
return {gen, value, redis.call('GET', KEYS[2])}
"""

#: First wait before trying a Redis that failed again, doubled per failure up to the cap.
RETRY_FIRST_S = 0.25
RETRY_MAX_S = 2.0


class RedisStore:
    """Redis shared by every worker and instance, with a circuit breaker.

    Each failing call (refused, timed out) opens the breaker: for a short, growing delay no
    call is tried at all, so an outage costs one fast failure per delay, not one per request.
    The first failure of an outage is logged as a warning, the recovery as info. After an
    outage the generation is bumped before anything is served again, because purges sent
    while Redis was unreachable were lost.
    """

    name = "redis"

    def __init__(self, url: str, namespace: str, timeout_s: float) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._errors = (redis.RedisError, OSError)
        # One immediate retry (a pooled socket may be stale after a Redis restart), no
        # backoff sleeps: a request must never wait on an absent cache.
        self.client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 1), health_check_interval=0,
        )
        self.url = url
        self.prefix = f"{namespace}:cache:"
        self.gen_key = f"{self.prefix}gen"
        self.schema_key = f"{self.prefix}schema"
        self._lookup = self.client.register_script(_LOOKUP_SCRIPT)
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self._delay = 0.0
        self._down = False
        self._purge_owed = False

    # -- breaker -------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return not self._down

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if self._down:
            if time.monotonic() < self._retry_at:
                raise StoreUnavailable("redis is down")
            if self._purge_owed:
                # Catch up on purges lost during the outage before serving anything.
                try:
                    self.client.incr(self.gen_key)
                except self._errors as exc:
                    self._failed(exc)
                    raise StoreUnavailable(str(exc)) from exc
        try:
            result = fn(*args, **kwargs)
        except self._errors as exc:
            self._failed(exc)
            raise StoreUnavailable(str(exc)) from exc
        if self._down:
            self._recovered()
        return result

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            first = not self._down
            self._down = True
            self._purge_owed = True
            self._delay = RETRY_FIRST_S if first else min(self._delay * 2, RETRY_MAX_S)
            self._retry_at = time.monotonic() + self._delay
        if first:
            log.warning("cache: Redis at %s is unreachable (%s: %s); serving uncached until "
                        "it is back", self._safe_url(), exc.__class__.__name__, exc)

    def _recovered(self) -> None:
        with self._lock:
            if not self._down:
                return
            self._down = False
            self._purge_owed = False
            self._delay = 0.0
        log.info("cache: Redis at %s is reachable again; caching resumes", self._safe_url())

    def _safe_url(self) -> str:
        kw = self.client.connection_pool.connection_kwargs
        where = kw.get("path") or f"{kw.get('host')}:{kw.get('port')}"
        return f"{where}/{kw.get('db', 0)}"

    # -- store API -----------------------------------------------------------------------
    def lookup(self, digest: str) -> Lookup:
        gen, value, schema = self._call(
            self._lookup, keys=[self.gen_key, self.schema_key], args=[self.prefix, digest])
        return Lookup(_text(gen) or "0", value, _text(schema))

    def store(self, generation: str, digest: str, value: bytes, ttl_ms: int) -> None:
        self._call(self.client.set, f"{self.prefix}{generation}:{digest}", value,
                   px=max(1, int(ttl_ms)))

    def purge(self) -> None:
        try:
            self._call(self.client.incr, self.gen_key)
        except StoreUnavailable:
            self._purge_owed = True  # done by _call on the first call that gets through
            raise

    def owe_purge(self) -> None:
        """Another worker's purge was lost: serve nothing from Redis until a generation
        bump of our own succeeds (the next call tries it at once)."""
        with self._lock:
            self._purge_owed = True
            self._down = True

    def ping(self) -> None:
        """For the health check: a real round trip, even while the breaker is open."""
        self.client.ping()

    def publish_schema(self, version: str) -> None:
        self._call(self.client.set, self.schema_key, version)

    def schema_marker(self) -> str | None:
        return _text(self._call(self.client.get, self.schema_key))

    def close(self) -> None:
        self.client.close()


def _text(value: Any) -> str | None:
    if value is None or value is False:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
