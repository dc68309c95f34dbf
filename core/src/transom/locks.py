"""Deployment-wide claims and leases: make one worker of one instance do a thing.

Every gunicorn worker builds its own app, and several instances may share one database, so
anything that must happen once per deployment (a cron tick, a background leader) is decided
here, in a store every worker and instance shares (``SYNCHRONIZATION_STORE``):

* ``database`` (default): two small tables, ``transom_job_claims`` and ``transom_leases``,
  created by the migration ``20261202T-locks-1`` (``transom bootstrap``), or on first use when
  the database was not bootstrapped;
* ``redis``: ``SET ... NX PX`` on the Redis of ``REDIS`` (or ``REDIS_HOST``, ``REDIS_PORT``,
  ``REDIS_USERNAME``, ``REDIS_PASSWORD``, ``REDIS_DB``), keys under
  ``SYNCHRONIZATION_NAMESPACE``;
* ``memory``: this process only (one worker, tests): several workers then all win.

Redis is never chosen just because ``REDIS`` is set (for the messenger or the cache): the
database is what makes processes one deployment, while two deployments (staging and
production) may well share a Redis; give each its own ``SYNCHRONIZATION_NAMESPACE`` then.

Two primitives:

* :func:`claim` ``(cms, name, key, ttl_s)``: the first caller of the deployment to claim
  ``(name, key)`` gets True, every later one False, for at least ``ttl_s`` seconds (the
  database store keeps claims at least a day and prunes older ones now and then);
* :func:`lease` ``(cms, name, ttl_s)``: a :class:`Lease` that one owner holds at a time;
  :meth:`Lease.acquire` takes it when it is free or expired and renews it for its holder,
  :meth:`Lease.release` gives it up. A holder that stops renewing (its worker died) loses it
  ``ttl_s`` seconds after its last renewal. Expiry is computed on the callers' clocks, so keep
  the instances' clocks synchronised (NTP) to well under ``ttl_s``.

A False result always means "someone else has it"; a store that cannot be reached raises.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from .config import Setting, redis_url
from .errors import StartupError
from .system.migrations import Migration

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .dialects import Dialect
    from .kernel import Transom

log = logging.getLogger("transom.locks")

EXTENSION_KEY = "transom_locks"
CLAIMS = "transom_job_claims"
LEASES = "transom_leases"
TABLES = (CLAIMS, LEASES)
STORES = ("database", "redis", "memory")

#: The database store keeps a claim at least this long (seconds) before pruning it.
KEEP_CLAIMS_S = 86_400.0
#: Seconds between two prunes of one name's old claims in one process.
PRUNE_EVERY_S = 600.0

NAME_MAX = 255
OWNER_MAX = 64
KEY_MAX = 64

SETTINGS: tuple[Setting, ...] = (
    Setting("SYNCHRONIZATION_STORE", "database", "str",
            "Where workers and instances agree who runs a scheduled tick or holds a lease: "
            "database, redis, or memory (this process only).", choices=STORES),
    Setting("SYNCHRONIZATION_NAMESPACE", "transom", "str",
            "Prefix of the Redis keys of SYNCHRONIZATION_STORE=redis; one per deployment."),
)
# REDIS, REDIS_HOST, REDIS_PORT, REDIS_USERNAME, REDIS_PASSWORD, REDIS_DB and REDIS_ENABLED
# (Directus 11's shared Redis settings) are core settings (transom.config).


def settings(already: set[str]) -> list[Setting]:
    """:data:`SETTINGS` minus the names declared elsewhere (e.g. by the core config)."""
    return [s for s in SETTINGS if s.name not in already]


# -- tables and their migration ----------------------------------------------------------------
def _timestamp() -> sa.types.TypeEngine[Any]:
    """A naive UTC timestamp, with microseconds on MySQL/MariaDB too."""
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def metadata() -> sa.MetaData:
    md = sa.MetaData()
    sa.Table(CLAIMS, md,
             sa.Column("name", sa.String(NAME_MAX), primary_key=True),
             sa.Column("tick", sa.String(KEY_MAX), primary_key=True),
             sa.Column("owner", sa.String(OWNER_MAX), nullable=False),
             sa.Column("claimed_at", _timestamp(), nullable=False))
    sa.Table(LEASES, md,
             sa.Column("name", sa.String(NAME_MAX), primary_key=True),
             sa.Column("owner", sa.String(OWNER_MAX), nullable=False),
             sa.Column("expires_at", _timestamp(), nullable=False))
    return md


_MD = metadata()
CLAIMS_TABLE = _MD.tables[CLAIMS]
LEASES_TABLE = _MD.tables[LEASES]


def create_tables(conn: Connection, dialect: Dialect | None = None) -> None:
    _MD.create_all(conn, checkfirst=True)


def drop_tables(conn: Connection, dialect: Dialect | None = None) -> None:
    _MD.drop_all(conn, checkfirst=True)


#: Registered by the default plugin ``core_schedule`` (``register_migrations``).
MIGRATION = Migration("20261202T-locks-1", "transom-create-lock-tables", create_tables,
                      drop_tables)


# -- identities ----------------------------------------------------------------------------------
_OWNER: tuple[int, str] | None = None


def process_owner() -> str:
    """``host:pid:random``, unique per process (a forked worker gets its own)."""
    global _OWNER
    pid = os.getpid()
    if _OWNER is None or _OWNER[0] != pid:
        host = socket.gethostname()[:40]
        _OWNER = (pid, f"{host}:{pid}:{uuid.uuid4().hex[:8]}")
    return _OWNER[1]


def _fit(text: str, size: int) -> str:
    """``text`` cut to ``size`` characters, keeping long values distinct by a hash."""
    if len(text) <= size:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{text[:size - 17]}~{digest}"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


#: Driver codes of a deadlock or lock wait timeout (MySQL/MariaDB) and of a deadlock or
#: serialization failure (PostgreSQL SQLSTATE): the statement may simply be run again.
_TRANSIENT_CODES = {1213, 1205, "40P01", "40001"}


def _transient(exc: sa.exc.DBAPIError) -> bool:
    orig = exc.orig
    codes = {getattr(orig, "pgcode", None), getattr(orig, "sqlstate", None)}
    args = getattr(orig, "args", ())
    if args:
        codes.add(args[0])
    return bool(codes & _TRANSIENT_CODES)


def _retry(fn: Any, attempts: int = 4) -> Any:
    """``fn()``, run again (briefly later) when the database reports a deadlock."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except sa.exc.DBAPIError as exc:
            if isinstance(exc, sa.exc.IntegrityError) or attempt == attempts \
                    or not _transient(exc):
                raise
            time.sleep(0.02 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


# -- stores ----------------------------------------------------------------------------------
class Store(Protocol):
    def claim(self, name: str, key: str, owner: str, ttl_s: float) -> bool: ...

    def acquire(self, name: str, owner: str, ttl_s: float) -> bool: ...

    def release(self, name: str, owner: str) -> None: ...

    def close(self) -> None: ...


class DatabaseStore:
    """Claims and leases in the app's database (SQLAlchemy Core, bound parameters)."""

    def __init__(self, cms: Transom) -> None:
        self.cms = cms
        self._ready = False
        self._lock = threading.Lock()
        self._pruned: dict[str, float] = {}

    def ensure_tables(self) -> None:
        """Create the tables on first use when the migration has not run (no bootstrap)."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            insp = sa.inspect(self.cms.engine)
            if not all(insp.has_table(t) for t in TABLES):
                try:
                    with self.cms.begin() as conn:
                        create_tables(conn)
                except sa.exc.DBAPIError:
                    # another worker created them at the same moment
                    insp = sa.inspect(self.cms.engine)
                    if not all(insp.has_table(t) for t in TABLES):
                        raise
            self._ready = True

    def claim(self, name: str, key: str, owner: str, ttl_s: float) -> bool:
        self.ensure_tables()
        now = _utcnow()

        def insert() -> None:
            with self.cms.begin() as conn:
                conn.execute(CLAIMS_TABLE.insert().values(
                    name=name, tick=key, owner=owner, claimed_at=now))

        try:
            _retry(insert)
        except sa.exc.IntegrityError:
            return False  # the primary key is taken: another worker or instance has it
        self._prune(name, now, ttl_s)
        return True

    def _prune(self, name: str, now: dt.datetime, ttl_s: float) -> None:
        """Now and then, the winner deletes this name's claims older than the TTL (a day at
        least)."""
        clock = time.monotonic()
        last = self._pruned.get(name)
        if last is not None and clock - last < PRUNE_EVERY_S:
            return
        self._pruned[name] = clock
        cutoff = now - dt.timedelta(seconds=max(ttl_s, KEEP_CLAIMS_S))
        try:
            with self.cms.begin() as conn:
                conn.execute(CLAIMS_TABLE.delete().where(
                    CLAIMS_TABLE.c.name == name, CLAIMS_TABLE.c.claimed_at < cutoff))
        except sa.exc.DBAPIError as exc:  # pruning is housekeeping: try again next time
            log.debug("pruning old claims of %s failed: %s", name, exc)

    def acquire(self, name: str, owner: str, ttl_s: float) -> bool:
        """Renew or take over an expired lease (UPDATE), else create it (INSERT). Two
        transactions: an UPDATE that matched nothing must not keep its gap lock while the
        INSERT runs (MySQL/MariaDB would deadlock two callers)."""
        self.ensure_tables()
        now = _utcnow()
        until = now + dt.timedelta(seconds=ttl_s)
        t = LEASES_TABLE

        def update() -> int:
            with self.cms.begin() as conn:
                return conn.execute(
                    t.update()
                    .where(t.c.name == name, sa.or_(t.c.expires_at < now, t.c.owner == owner))
                    .values(owner=owner, expires_at=until)).rowcount

        def insert() -> None:
            with self.cms.begin() as conn:
                conn.execute(t.insert().values(name=name, owner=owner, expires_at=until))

        if _retry(update):
            return True
        try:
            _retry(insert)
        except sa.exc.IntegrityError:
            return False  # held by another owner (created at the same moment, or live)
        return True

    def release(self, name: str, owner: str) -> None:
        self.ensure_tables()
        t = LEASES_TABLE

        def delete() -> None:
            with self.cms.begin() as conn:
                conn.execute(t.delete().where(t.c.name == name, t.c.owner == owner))

        _retry(delete)

    def close(self) -> None:
        pass


_ACQUIRE_SCRIPT = """
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisStore:
    """Claims as ``SET key owner NX PX ttl``; leases as a key renewed by its owner."""

    def __init__(self, url: str, namespace: str = "transom", client: Any = None,
                 timeout: float = 2.0) -> None:
        if client is None:
            try:
                import redis  # lazy: the optional redis client (transom[redis])
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise StartupError("SYNCHRONIZATION_STORE=redis needs the redis package: "
                                   "pip install 'transom[redis]'.") from exc
            client = redis.Redis.from_url(url, socket_timeout=timeout,
                                          socket_connect_timeout=timeout)
        self.client = client
        self.namespace = namespace
        self._acquire = client.register_script(_ACQUIRE_SCRIPT)
        self._release = client.register_script(_RELEASE_SCRIPT)

    def _key(self, kind: str, *parts: str) -> str:
        return ":".join((self.namespace, kind, *parts))

    @staticmethod
    def _ms(ttl_s: float) -> int:
        return max(1, int(ttl_s * 1000))

    def claim(self, name: str, key: str, owner: str, ttl_s: float) -> bool:
        return bool(self.client.set(self._key("claim", name, key), owner, nx=True,
                                    px=self._ms(ttl_s)))

    def acquire(self, name: str, owner: str, ttl_s: float) -> bool:
        return bool(self._acquire(keys=[self._key("lease", name)],
                                  args=[owner, self._ms(ttl_s)]))

    def release(self, name: str, owner: str) -> None:
        self._release(keys=[self._key("lease", name)], args=[owner])

    def close(self) -> None:
        self.client.close()


class MemoryStore:
    """This process only: for a single worker and for tests."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self._claims: dict[tuple[str, str], float] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def claim(self, name: str, key: str, owner: str, ttl_s: float) -> bool:
        now = self.clock()
        with self._lock:
            self._claims = {k: v for k, v in self._claims.items() if v > now}
            if (name, key) in self._claims:
                return False
            self._claims[name, key] = now + ttl_s
            return True

    def acquire(self, name: str, owner: str, ttl_s: float) -> bool:
        now = self.clock()
        with self._lock:
            held = self._leases.get(name)
            if held is not None and held[0] != owner and held[1] > now:
                return False
            self._leases[name] = (owner, now + ttl_s)
            return True

    def release(self, name: str, owner: str) -> None:
        with self._lock:
            if self._leases.get(name, ("", 0.0))[0] == owner:
                del self._leases[name]

    def close(self) -> None:
        pass


def build_store(cms: Transom) -> Store:
    """The store ``SYNCHRONIZATION_STORE`` names; a Redis one without a URL stops the start."""
    kind = str(cms.config.get("SYNCHRONIZATION_STORE") or "database").lower()
    if kind == "redis":
        url = redis_url(cms.config)
        if url is None:
            raise StartupError("SYNCHRONIZATION_STORE=redis needs REDIS (a redis:// URL) or "
                               "REDIS_HOST, and REDIS_ENABLED not false.")
        return RedisStore(url, str(cms.config.get("SYNCHRONIZATION_NAMESPACE") or "transom"))
    if kind == "memory":
        return MemoryStore()
    if kind != "database":
        raise StartupError(f"SYNCHRONIZATION_STORE={kind!r}: choose one of "
                           f"{', '.join(STORES)}")
    return DatabaseStore(cms)


_STORE_LOCK = threading.Lock()


def get_store(cms: Transom) -> Store:
    """The app's store, built once (``cms.extensions["transom_locks"]``)."""
    store = cms.extensions.get(EXTENSION_KEY)
    if store is None:
        with _STORE_LOCK:
            store = cms.extensions.get(EXTENSION_KEY)
            if store is None:
                store = cms.extensions[EXTENSION_KEY] = build_store(cms)
    return store


def close(cms: Transom) -> None:
    """Close the store's connections (a Redis client reconnects if it is used again)."""
    store = cms.extensions.get(EXTENSION_KEY)
    if store is not None:
        store.close()


# -- the primitives ----------------------------------------------------------------------------
def claim(cms: Transom, name: str, key: str, ttl_s: float) -> bool:
    """Claim the run ``(name, key)`` for the whole deployment: True for the first caller,
    False for every other worker and instance (for at least ``ttl_s`` seconds)."""
    return get_store(cms).claim(_fit(name, NAME_MAX), _fit(key, KEY_MAX), process_owner(),
                                ttl_s)


class Lease:
    """A named lease held by one owner at a time (see :func:`lease`)."""

    def __init__(self, cms: Transom, name: str, ttl_s: float, owner: str | None = None) -> None:
        if ttl_s <= 0:
            raise ValueError("a lease needs a positive ttl_s")
        self.cms = cms
        self.name = _fit(name, NAME_MAX)
        self.ttl_s = ttl_s
        self.owner = _fit(owner or f"{process_owner()}:{uuid.uuid4().hex[:6]}", OWNER_MAX)
        self.held = False

    def acquire(self) -> bool:
        """Take the lease if it is free or expired, or renew it if this owner holds it; True
        while this owner holds it. Call it again well within ``ttl_s`` to keep it."""
        self.held = get_store(self.cms).acquire(self.name, self.owner, self.ttl_s)
        return self.held

    renew = acquire

    def release(self) -> None:
        """Give the lease up (if this owner still holds it)."""
        self.held = False
        get_store(self.cms).release(self.name, self.owner)

    def __repr__(self) -> str:
        return f"Lease({self.name!r}, owner={self.owner!r}, held={self.held})"


def lease(cms: Transom, name: str, ttl_s: float, owner: str | None = None) -> Lease:
    """A :class:`Lease` on ``name`` for background work that needs one leader::

        leader = lease(cms, "webhooks-dispatcher", ttl_s=30)
        while not stopping.wait(10):
            if leader.acquire():   # takes or renews it
                dispatch_pending()
        leader.release()
    """
    return Lease(cms, name, ttl_s, owner)
