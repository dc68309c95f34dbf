"""Fixed-window counters for the rate limiters, in memory or in Redis.

A window opens at a key's first hit and lasts ``duration_ms``; every hit in it counts, and
the hit that takes the count above ``points`` is refused until the window ends (the same
arithmetic as Directus's ``rate-limiter-flexible`` stores). The memory store is per process
and bounded; the Redis store lets several instances share one budget. A limiter must never
take the API down with it, so the Redis store lets requests through while Redis is away
and says so once per outage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from .errors import StartupError

log = logging.getLogger("transom.ratelimit")


@dataclass(frozen=True)
class Hit:
    """The outcome of one hit: its number in the window and how long the window lasts."""

    allowed: bool
    count: int
    points: int
    reset_ms: int

    @property
    def remaining(self) -> int:
        return max(0, self.points - self.count)


class RateLimitStore(Protocol):
    def hit(self, key: str, points: int, duration_ms: int) -> Hit: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


class MemoryStore:
    """Windows kept in this process: an ordered dict under a lock, least recently hit
    keys evicted beyond ``max_keys`` so a flood of addresses cannot exhaust memory."""

    def __init__(self, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_keys = max(1, max_keys)
        self.clock = clock
        self._windows: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str, points: int, duration_ms: int) -> Hit:
        now = self.clock()
        with self._lock:
            entry = self._windows.get(key)
            if entry is None or entry[0] <= now:
                ends, count = now + duration_ms / 1000, 1
            else:
                ends, count = entry[0], entry[1] + 1
            self._windows[key] = (ends, count)
            self._windows.move_to_end(key)
            self._evict(now)
        reset_ms = max(0, round((ends - now) * 1000))
        return Hit(count <= points, count, points, reset_ms)

    def _evict(self, now: float) -> None:
        windows = self._windows
        while windows:  # windows that ended are dropped from the cold end first
            _key, (ends, _count) = next(iter(windows.items()))
            if ends > now and len(windows) <= self.max_keys:
                break
            windows.popitem(last=False)

    def __len__(self) -> int:
        return len(self._windows)

    def ping(self) -> None:
        return None

    def close(self) -> None:
        with self._lock:
            self._windows.clear()


#: INCR then, on a new key (or one that lost its expiry), PEXPIRE: one round trip, atomic.
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


def safe_url(url: str) -> str:
    """The URL without its password, for log lines."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


#: Where the limiters' Redis is when no URL is set (as ``default_plugins.rate_limit``).
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def limiter_redis_url(config: Any) -> str | None:
    """The Redis URL every limiter shares when ``RATE_LIMITER_STORE=redis``, else None:
    ``RATE_LIMITER_REDIS``, then ``REDIS``, then a local Redis."""
    if config.get("RATE_LIMITER_STORE") != "redis":
        return None
    return str(config.get("RATE_LIMITER_REDIS") or config.get("REDIS") or DEFAULT_REDIS_URL)


def limiter_key_prefix(config: Any) -> str:
    """The namespace of every limiter key in Redis (``RATE_LIMITER_KEY_PREFIX``)."""
    return str(config.get("RATE_LIMITER_KEY_PREFIX") or "transom:rl:")


def connect_redis(url: str, timeout: float = 0.5) -> Any:
    """A Redis client with short timeouts: a limiter waits at most ``timeout`` for Redis."""
    try:
        import redis  # lazy: the optional redis client (transom[redis])
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise StartupError(
            "RATE_LIMITER_STORE=redis needs the redis package: pip install 'transom[redis]'."
        ) from exc
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


class RedisStore:
    """Windows kept in Redis under ``prefix`` so every instance counts against one budget.

    While Redis cannot be reached, hits are counted by a local :class:`MemoryStore` (fail
    open to a per-process limit, not to no limit at all) and Redis is not asked again for
    ``retry_after`` seconds, so an outage costs one timeout, not one per request.
    """

    def __init__(self, url: str, prefix: str = "transom:rl:", client: Any = None,
                 timeout: float = 0.5, retry_after: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if client is None:
            client = connect_redis(url, timeout)
        self.url = url
        self.prefix = prefix
        self.client = client
        self.retry_after = retry_after
        self.clock = clock
        self._script = client.register_script(_HIT_SCRIPT)
        self._down_until = 0.0
        self._down = False
        self._lock = threading.Lock()
        self._fallback = MemoryStore(clock=clock)

    def hit(self, key: str, points: int, duration_ms: int) -> Hit:
        if self._down and self.clock() < self._down_until:
            return self._fallback.hit(key, points, duration_ms)
        try:
            count, ttl = self._script(keys=[self.prefix + key], args=[int(duration_ms)])
        except Exception as exc:  # noqa: BLE001 - any Redis failure: count locally
            self._failed(exc)
            return self._fallback.hit(key, points, duration_ms)
        if self._down:
            with self._lock:
                if self._down:
                    self._down = False
                    log.warning("rate limiter: Redis at %s is back; limits apply again",
                                safe_url(self.url))
        count = int(count)
        return Hit(count <= points, count, points, max(0, int(ttl)))

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            self._down_until = self.clock() + self.retry_after
            if self._down:
                return
            self._down = True
        log.warning("rate limiter: Redis at %s is unreachable (%s); limits are counted per "
                    "process until it answers again", safe_url(self.url), exc)

    def ping(self) -> None:
        self.client.ping()

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - closing a dead connection is not an error
            pass
