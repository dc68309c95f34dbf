"""Counters of failed logins: per client IP (429) and per account (suspension).

Every worker and every instance must agree on them, or an attacker gets one budget per
process. So:

* per account: in Redis when ``RATE_LIMITER_STORE=redis`` (one ``INCR`` per attempt), else
  in the database (``transom_login_failures``, one row per account that failed since its
  last success). While Redis is away the count goes on in the database, and both add up
  once Redis is back, so no failure is forgotten;
* per IP: a sliding window in Redis (a sorted set of failure times, trimmed by one Lua
  script) when ``RATE_LIMITER_STORE=redis``; else, or while Redis is away, in this process
  (fail open to a per-process budget, like the core's rate limiter).

An attempt is counted *before* the password is checked (as Directus's limiter consumes a
point first), so concurrent attempts on several workers cannot slip past the limit: each one
gets a distinct number, and the one past the limit suspends the account.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Protocol

import sqlalchemy as sa

from transom.api import Migration, ServiceUnavailableError, hookimpl, safe_url

log = logging.getLogger("transom.auth")

FAILURES_TABLE = "transom_login_failures"
_metadata = sa.MetaData()
failures_table = sa.Table(
    FAILURES_TABLE, _metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_failure", sa.DateTime),  # naive UTC: the same on every dialect
)


def _create_tables(conn: Any, dialect: Any) -> None:
    _metadata.create_all(conn, checkfirst=True)


def _drop_tables(conn: Any, dialect: Any) -> None:
    _metadata.drop_all(conn, checkfirst=True)


@hookimpl
def register_migrations(cms: Any) -> Any:
    return [Migration("20261201T-auth-jwt-1", "transom-auth-jwt-login-failures",
                      _create_tables, _drop_tables)]


@hookimpl
def extend_schema(cms: Any, schema: Any) -> Any:
    """The counters are the plugin's own: no /items, no GraphQL type for them."""
    schema.tables.pop(FAILURES_TABLE, None)
    return None


class Attempts(Protocol):
    """What the login counts per account."""

    def consume(self, key: str) -> int: ...

    def reset(self, key: str) -> None: ...


class Window(Protocol):
    """What the login counts per client IP."""

    def retry_after(self, key: str) -> int | None: ...

    def record(self, key: str) -> None: ...


# -- in this process ----------------------------------------------------------------------------
class FailureWindow:
    """Failures per key within a sliding window; refuses a key once it reached ``limit``.
    Kept in this process: bounded to ``max_keys`` keys, least recently failing dropped."""

    def __init__(self, limit: int, window_ms: int, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window = window_ms / 1000.0
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.limit > 0 and self.window > 0

    def _prune(self, key: str, now: float) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits

    def retry_after(self, key: str, now: float | None = None) -> int | None:
        """Seconds until ``key`` may try again, or None when it may try now."""
        if not self.enabled:
            return None
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._prune(key, now)
            if hits is None or len(hits) < self.limit:
                return None
            # Free again once enough of the oldest failures have left the window.
            release = hits[len(hits) - self.limit] + self.window
            return max(1, math.ceil(release - now))

    def record(self, key: str, now: float | None = None) -> None:
        if not self.enabled:
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._prune(key, now)
            if hits is None:
                hits = self._hits[key] = deque(maxlen=self.limit)
            hits.append(now)
            self._hits.move_to_end(key)
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)


class AttemptCounter:
    """Attempts per account in this process only (one app, one process: tests, tools)."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, 0)

    def consume(self, key: str) -> int:
        with self._lock:
            count = self._counts.pop(key, 0) + 1
            self._counts[key] = count
            while len(self._counts) > self.max_keys:
                self._counts.popitem(last=False)
            return count

    def reset(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)


# -- in the database ----------------------------------------------------------------------------
class DatabaseAttempts:
    """Attempts per account in ``transom_login_failures``: every worker and instance on the
    database sees one count. An increment is one ``UPDATE ... SET failures = failures + 1``
    (row-locked, so concurrent attempts get distinct numbers); the first one inserts."""

    def __init__(self, cms: Any) -> None:
        self.cms = cms
        self.table = failures_table

    def get(self, key: str) -> int:
        t = self.table
        with self.cms.connect() as conn:  # the primary: a replica may lag behind a failure
            value = conn.execute(sa.select(t.c.failures).where(t.c.user_id == key)).scalar()
        return int(value or 0)

    def consume(self, key: str) -> int:
        t = self.table
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        for _ in range(3):
            with self.cms.begin() as conn:
                done = conn.execute(t.update().where(t.c.user_id == key)
                                    .values(failures=t.c.failures + 1, last_failure=now))
                if done.rowcount:
                    return int(conn.execute(
                        sa.select(t.c.failures).where(t.c.user_id == key)).scalar_one())
            try:
                with self.cms.begin() as conn:
                    conn.execute(t.insert().values(user_id=key, failures=1, last_failure=now))
                return 1
            except sa.exc.IntegrityError:
                continue  # another worker inserted it first: increment that row
        raise ServiceUnavailableError("database", "Login attempts could not be counted")

    def reset(self, key: str) -> None:
        if not self.get(key):  # the usual case: nothing to reset, no write lock taken
            return
        t = self.table
        # back to 0, never deleted: a deleted row would send concurrent attempts of the same
        # account into the insert race again (and past consume's retries, under load)
        with self.cms.begin() as conn:
            conn.execute(t.update().where(t.c.user_id == key, t.c.failures > 0)
                         .values(failures=0))


# -- in Redis -----------------------------------------------------------------------------------
class RedisGuard:
    """Whether Redis may be asked: after a failure it is left alone for ``retry_after``
    seconds (an outage costs one timeout, not one per login), logged once per outage."""

    def __init__(self, url: str, retry_after: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.retry_after = retry_after
        self.clock = clock
        self._down_until = 0.0
        self._down = False
        self._lock = threading.Lock()

    def usable(self) -> bool:
        return not self._down or self.clock() >= self._down_until

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self._down_until = self.clock() + self.retry_after
            if self._down:
                return
            self._down = True
        log.warning("login limits: Redis at %s is unreachable (%s); per-IP windows are "
                    "counted per process and account counts in the database until it "
                    "answers again", safe_url(self.url), exc)

    def succeeded(self) -> None:
        if self._down:
            with self._lock:
                if not self._down:
                    return
                self._down = False
            log.warning("login limits: Redis at %s is back", safe_url(self.url))


class RedisAttempts:
    """Attempts per account under ``<prefix>login:user:<id>`` (no expiry: as Directus, an
    account's count lasts until a success or a suspension resets it). Failures counted in
    the database while Redis was away are added, so an outage does not grant a new budget."""

    def __init__(self, client: Any, prefix: str, guard: RedisGuard,
                 fallback: DatabaseAttempts) -> None:
        self.client = client
        self.prefix = prefix + "login:user:"
        self.guard = guard
        self.fallback = fallback
        self._seen: OrderedDict[str, int] = OrderedDict()  # last Redis count, for outages
        self._lock = threading.Lock()

    def _remember(self, key: str, count: int) -> None:
        with self._lock:
            self._seen[key] = count
            self._seen.move_to_end(key)
            while len(self._seen) > 100_000:
                self._seen.popitem(last=False)

    def consume(self, key: str) -> int:
        if self.guard.usable():
            try:
                count = int(self.client.incr(self.prefix + key))
            except Exception as exc:  # noqa: BLE001 - any Redis failure: count in the DB
                self.guard.failed(exc)
            else:
                self.guard.succeeded()
                self._remember(key, count)
                return count + self.fallback.get(key)
        with self._lock:
            seen = self._seen.get(key, 0)
        return seen + self.fallback.consume(key)

    def get(self, key: str) -> int:
        count = 0
        if self.guard.usable():
            try:
                count = int(self.client.get(self.prefix + key) or 0)
            except Exception as exc:  # noqa: BLE001
                self.guard.failed(exc)
        return count + self.fallback.get(key)

    def reset(self, key: str) -> None:
        with self._lock:
            self._seen.pop(key, None)
        if self.guard.usable():
            try:
                self.client.delete(self.prefix + key)
            except Exception as exc:  # noqa: BLE001
                self.guard.failed(exc)
        self.fallback.reset(key)


#: Drop failures older than the window, add this one, keep the newest ``limit``; the time is
#: Redis's own, so instances with skewed clocks still share one window.
_RECORD_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[3])
local n = redis.call('ZCARD', KEYS[1])
if n > limit then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - limit - 1) end
redis.call('PEXPIRE', KEYS[1], window)
return n
"""

#: Milliseconds until the key may fail again, or -1 when it may try now.
_RETRY_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n < limit then return -1 end
local oldest = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
return tonumber(oldest[2]) + window - now
"""


class RedisFailureWindow:
    """The per-IP sliding window in Redis under ``<prefix>login:ip:<ip>``; while Redis is
    away, the local :class:`FailureWindow` counts (per process: fail open, not wide open)."""

    def __init__(self, client: Any, prefix: str, guard: RedisGuard,
                 fallback: FailureWindow) -> None:
        self.client = client
        self.prefix = prefix + "login:ip:"
        self.guard = guard
        self.fallback = fallback
        self.window_ms = max(1, round(fallback.window * 1000))
        self._record = client.register_script(_RECORD_SCRIPT)
        self._retry = client.register_script(_RETRY_SCRIPT)

    @property
    def limit(self) -> int:
        return self.fallback.limit

    def retry_after(self, key: str) -> int | None:
        if not self.fallback.enabled:
            return None
        if self.guard.usable():
            try:
                wait_ms = int(self._retry(keys=[self.prefix + key],
                                          args=[self.window_ms, self.limit]))
            except Exception as exc:  # noqa: BLE001
                self.guard.failed(exc)
            else:
                self.guard.succeeded()
                return None if wait_ms < 0 else max(1, math.ceil(wait_ms / 1000))
        return self.fallback.retry_after(key)

    def record(self, key: str) -> None:
        if not self.fallback.enabled:
            return
        if self.guard.usable():
            try:
                self._record(keys=[self.prefix + key],
                             args=[self.window_ms, self.limit, uuid.uuid4().hex])
            except Exception as exc:  # noqa: BLE001
                self.guard.failed(exc)
            else:
                self.guard.succeeded()
                return
        self.fallback.record(key)
