"""The kernel object (``cms``) every hook receives: config, plugins, database and schema.

It knows nothing of Flask requests. It owns the choices made once at start-up (which
dialect, which engine, which filters and listeners) and the current schema snapshot, which
it swaps atomically when the schema changes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError

from .config import CORE_SETTINGS, Config, Setting
from .dialects import Dialect
from .errors import StartupError
from .events import EventBus, EventContext, Filter, Listener, event_names
from .messenger.setup import build_messenger
from .permissions.access import AccessResolver
from .permissions.rules import ItemProbe
from .plugins import PluginInfo, flatten
from .replicas import Replica, ReplicaFailed, ReplicaRouter, replica_urls
from .schema.build import build_snapshot, merge_raw
from .schema.model import SchemaSnapshot
from .schema.raw import RawSchema
from .schema.types import collect_field_types
from .system import collections as system_meta

if TYPE_CHECKING:
    from .accountability import Accountability

log = logging.getLogger("transom")

T = TypeVar("T")

#: Where to find a dialect for each ``DB_CLIENT`` value, named in start-up errors.
KNOWN_CLIENTS: dict[str, str] = {
    "sqlite3": "transom-dialect-sqlite",
    "sqlite": "transom-dialect-sqlite",
    "pg": "transom-dialect-postgres",
    "postgres": "transom-dialect-postgres",
    "postgresql": "transom-dialect-postgres",
    "mysql": "transom-dialect-mysql",
    "mysql2": "transom-dialect-mysql",
    "mariadb": "transom-dialect-mysql",
    "mssql": "transom-dialect-mssql",
    "oracledb": "transom-dialect-oracle",
    "oracle": "transom-dialect-oracle",
}

SYSTEM_META_TABLES = ("directus_collections", "directus_fields", "directus_relations")


class LRUCache:
    """A small thread-safe LRU map (compiled plans); 0 capacity disables it."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class Transom:
    """One Transom instance: built by :func:`transom.create_app`, stored in
    ``app.extensions["transom"]`` and passed to every hook as ``cms``."""

    def __init__(
        self, config: Config, pm: pluggy.PluginManager, plugins: dict[str, PluginInfo]
    ) -> None:
        self.config = config
        self.pm = pm
        self.hook = pm.hook
        self.plugins = plugins
        self.log = log
        #: per-app state of plugins, by key; use :meth:`state` rather than this dict
        self.extensions: dict[str, Any] = {}
        self._state_lock = threading.RLock()
        settings: list[Setting] = list(CORE_SETTINGS)
        settings.extend(flatten(self.hook.register_settings()))
        config.declare(settings)
        #: field types by name (core's and plugins'), also put in the process registry
        self.field_types = collect_field_types(flatten(self.hook.register_field_types(cms=self)))
        self.dialect = self._choose_dialect()
        self.url = self._database_url()
        self.engine: Engine = self.dialect.create_engine(self.url, config)
        sa.event.listen(self.engine, "connect", self._on_connect)
        # the same pool, with the dialect's read options applied once, not per checkout
        self._read_engine = (self.engine.execution_options(**self.dialect.read_options)
                             if self.dialect.read_options else self.engine)
        # Before plugins make their stores and before the first schema read: a change
        # published from now on is not missed.
        self.messenger = build_messenger(self)
        #: read replicas, when configured (``DB_REPLICA_*``); None otherwise
        self.replicas: ReplicaRouter | None = self._replica_router()
        self._replicas_pid: int | None = None
        self.events = EventBus(
            filters=[f for f in flatten(self.hook.register_filters(cms=self))
                     if isinstance(f, Filter)],
            listeners=[lst for lst in flatten(self.hook.register_listeners(cms=self))
                       if isinstance(lst, Listener)],
            inline=bool(config.get("TESTING")),
        )
        self._schema: SchemaSnapshot | None = None
        #: the last introspection, patched in place by targeted refreshes
        self._raw: RawSchema | None = None
        self._fingerprint: str | None = None
        self._fingerprint_stale = False
        self._local = threading.local()
        self._schema_lock = threading.RLock()
        #: whether a caller can see an item under a rule's filter; installed by
        #: ``create_app`` from the items service (services sit above the kernel)
        self.item_exists: ItemProbe | None = None
        self.access = AccessResolver(self)
        self.messenger.subscribe("schema", self._on_schema_message)
        self.messenger.subscribe("access", self._on_access_message)
        self.health_checks = flatten(self.hook.register_health_checks(cms=self))
        self.app: Any = None
        #: compiled root reads, by query shape and caller (see ItemsService.read_by_query)
        self.plans = LRUCache(int(config.get("PLAN_CACHE_SIZE", 512)))
        self._watcher: threading.Thread | None = None
        self._watch_stop: threading.Event | None = None

    # -- plugin state -------------------------------------------------------------------
    def state(self, key: str, factory: Callable[[], T] | None = None) -> T:
        """The per-app state a plugin keeps under ``key``, made by ``factory()`` on first
        use (thread-safe: two threads asking at once get the same object, and ``factory``
        runs once). Without ``factory``, the state if it exists, else None. This is the one
        home of plugin state: use a key of your own (your package name); a factory that
        returns None stores None (asked again, the stored None is returned).
        """
        try:
            return self.extensions[key]
        except KeyError:
            if factory is None:
                return None  # type: ignore[return-value]
        with self._state_lock:
            if key not in self.extensions:
                self.extensions[key] = factory()
            return self.extensions[key]

    def drop_state(self, key: str) -> Any:
        """Forget the state kept under ``key`` and return it (None if there was none)."""
        with self._state_lock:
            return self.extensions.pop(key, None)

    # -- start-up -----------------------------------------------------------------------
    def _choose_dialect(self) -> Dialect:
        classes: dict[str, type[Dialect]] = {}
        for cls in flatten(self.hook.register_dialects()):
            for key in (*cls.db_clients, *(f"scheme:{s}" for s in cls.url_schemes)):
                other = classes.get(key)
                if other is not None and other is not cls:
                    raise StartupError(
                        f"Dialects {other.distribution} and {cls.distribution} both claim "
                        f"{key!r}; uninstall one of them."
                    )
                classes[key] = cls
        self.dialect_classes = classes
        db_url = self.config.get("DB_URL")
        if db_url:
            backend = make_url(db_url).get_backend_name()
            key = f"scheme:{backend}"
            hint = KNOWN_CLIENTS.get(backend, f"a transom-dialect package for {backend!r}")
        else:
            client = (self.config.get("DB_CLIENT") or "sqlite3").lower()
            key = client
            if client not in KNOWN_CLIENTS and client not in classes:
                raise StartupError(
                    f"DB_CLIENT={client!r} is not known: set it to one of sqlite3, pg, mysql, "
                    "mssql, oracledb, or set DB_URL."
                )
            hint = KNOWN_CLIENTS.get(client, "its dialect package")
        cls = classes.get(key)
        if cls is None:
            raise StartupError(
                f"No dialect is installed for {key.removeprefix('scheme:')!r}: "
                f"install {hint} (pip install {hint})."
            )
        return cls(self.config)

    def _database_url(self) -> sa.URL:
        db_url = self.config.get("DB_URL")
        if db_url:
            return self.dialect.normalize_url(db_url)
        return self.dialect.url_from_config(self.config)

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        self.dialect.on_connect(dbapi_connection)
        self.hook.prepare_connection(cms=self, connection=dbapi_connection,
                                     dialect=self.dialect)

    # -- database -----------------------------------------------------------------------
    def connect(self, replica: bool = False) -> AbstractContextManager[Connection]:
        """A connection for reads, with the dialect's read options (autocommit where the
        driver can skip a BEGIN/ROLLBACK round trip).

        ``replica=True`` (item reads) lets a healthy read replica serve it, unless this
        client wrote moments ago. A replica that fails is taken out and the read is
        answered by the primary (see :mod:`transom.replicas`). Without replicas this is
        the read engine's own ``Connection`` (itself a context manager): no generator
        wrapped around every read."""
        if not replica or self.replicas is None:
            return self._read_engine.connect()
        return self._connect_replica()

    @contextmanager
    def _connect_replica(self) -> Iterator[Connection]:
        chosen = self._pick_replica()
        if chosen is None:
            with self._read_engine.connect() as conn:
                yield conn
            return
        try:
            conn = chosen.engine.connect()
        except DBAPIError as exc:
            self.replicas.take_out(chosen, exc)  # type: ignore[union-attr]
            with self._read_engine.connect() as conn:
                yield conn
            return
        try:
            with conn:
                yield conn
        except DBAPIError as exc:
            if exc.connection_invalidated or isinstance(
                    exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
                self.replicas.take_out(chosen, exc)  # type: ignore[union-attr]
            else:
                info = self.dialect.classify_error(exc)
                if info is None or info.kind not in ("undefined_table", "undefined_column"):
                    raise
                # a schema change the replica has not replayed yet: the primary answers
            raise ReplicaFailed(chosen.name) from exc

    def _pick_replica(self) -> Replica | None:
        router = self.replicas
        if router is None:
            return None
        if self._replicas_pid != os.getpid():  # start the checker in each worker process
            with self._state_lock:
                if self._replicas_pid != os.getpid():
                    router.start()
                    self._replicas_pid = os.getpid()
        return router.pick()

    def _replica_router(self) -> ReplicaRouter | None:
        urls = replica_urls(self.config, self.url)
        if not urls:
            return None
        replicas = []
        for n, url in enumerate(urls, 1):
            engine = self.dialect.create_engine(url, self.config)
            sa.event.listen(engine, "connect", self._on_connect)
            if self.dialect.read_options:
                engine = engine.execution_options(**self.dialect.read_options)
            replicas.append(Replica(f"replica{n}", engine))
        router = ReplicaRouter(
            replicas, self.dialect.replica_lag,
            sticky_seconds=float(self.config.get("DB_REPLICA_STICKY", 5.0)),
            max_lag=float(self.config.get("DB_REPLICA_MAX_LAG", 10.0)),
            interval=float(self.config.get("DB_REPLICA_CHECK_INTERVAL", 2.0)),
            publish=lambda key, until: self.messenger.publish(
                "replica", {"key": key, "until": until}),
        )
        self.messenger.subscribe("replica", lambda p: router.remember(
            str(p.get("key")), float(p.get("until") or 0)))
        return router

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside a transaction committed on success, rolled back on error."""
        with self.engine.connect() as conn:
            if self.dialect.write_options:
                conn = conn.execution_options(**self.dialect.write_options)
            with conn.begin():
                yield conn
        if self.replicas is not None:  # committed: this client reads its write next
            self.replicas.mark_written()

    def ping_database(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    # -- schema -------------------------------------------------------------------------
    @property
    def schema(self) -> SchemaSnapshot:
        """The current snapshot; read it once per operation and keep the reference."""
        snap = self._schema
        if snap is None:
            snap = self.refresh_schema()
        return snap

    def introspect(self, conn: Connection | None = None,
                   only: Iterable[str] | None = None) -> RawSchema:
        """Read the catalogue and Directus's metadata rows (bounded queries); with ``only``,
        just those tables and the metadata rows that name them."""
        if conn is None:
            with self.connect() as c:
                return self.introspect(c, only)
        exclude = tuple(self.config.get("DB_EXCLUDE_TABLES") or ())
        names = sorted(set(only)) if only is not None else None
        raw = self.dialect.introspect(conn, self.config.get("DB_SCHEMA"), exclude,
                                      **({"only": names} if names is not None else {}))
        present = self._raw.tables if (names is not None and self._raw) else raw.tables
        for table in SYSTEM_META_TABLES:
            if table not in present:
                continue
            stmt = sa.select(sa.text("*")).select_from(sa.table(table))
            if names is not None:
                key = "many_collection" if table == "directus_relations" else "collection"
                cond = sa.column(key).in_(sa.bindparam("names", names, expanding=True))
                if table == "directus_relations":
                    cond = sa.or_(cond, sa.column("one_collection").in_(
                        sa.bindparam("ones", names, expanding=True)))
                stmt = stmt.where(cond)
            rows = [dict(r._mapping) for r in conn.execute(stmt)]
            if table == "directus_collections":
                raw.collections_meta = rows
            elif table == "directus_fields":
                raw.fields_meta = rows
            else:
                raw.relations_meta = rows
        return raw

    def refresh_schema(self, conn: Connection | None = None,
                       collections: Iterable[str] | None = None) -> SchemaSnapshot:
        """Re-read the database and swap in a new snapshot; emits ``schema.changed``.

        With ``collections``, only those tables and their metadata are re-read and only
        their collections rebuilt (the rest of the snapshot is reused): a change costs what
        it touched, not the whole catalogue. This changes this process only; to tell every
        worker and instance, use :meth:`schema_changed`.
        """
        with self._schema_lock:
            names = set(collections) if collections is not None else None
            old = self._schema
            if names is not None and self._raw is not None and old is not None:
                raw = merge_raw(self._raw, self.introspect(conn, names), names)
            else:
                names = None
                raw = self.introspect(conn)
            overlays = [o for o in self.hook.extend_schema(cms=self, schema=raw) if o]
            snap = build_snapshot(
                raw,
                system_field_meta=system_meta.SYSTEM_FIELD_META,
                system_alias_fields=system_meta.SYSTEM_ALIAS_FIELDS,
                system_relations=system_meta.SYSTEM_RELATIONS,
                overlays=overlays,
                previous=old if names is not None else None,
                changed=names,
            )
            log.debug("schema refresh: %d collections (%s)", len(snap.collections),
                      ", ".join(sorted(names)) if names is not None else "all")
            if names is not None and getattr(self._local, "own_change", False) \
                    and self.config.get("SCHEMA_CHECK_TARGETED"):
                self._check_targeted(conn, snap, names)
            self._raw = raw
            if names is None:
                self._note_fingerprint(conn)
            else:
                self._fingerprint_stale = True
            if old is not None and old.version == snap.version:
                return old  # unchanged: keep the object (and what is cached on it)
            self._schema = snap
            self.plans.clear()
        if old is not None:
            self.events.dispatch(["schema.changed"], {"version": snap.version},
                                 EventContext(cms=self, schema=snap))
        return snap

    def _check_targeted(self, conn: Connection | None, snap: SchemaSnapshot,
                        names: set[str]) -> None:
        """``SCHEMA_CHECK_TARGETED`` (the test suite): the targeted refresh after this
        process's own change must give exactly what a full one gives, so a change that
        touched a collection it did not name fails the test that made it."""
        raw = self.introspect(conn)
        full = build_snapshot(
            raw, system_field_meta=system_meta.SYSTEM_FIELD_META,
            system_alias_fields=system_meta.SYSTEM_ALIAS_FIELDS,
            system_relations=system_meta.SYSTEM_RELATIONS,
            overlays=[o for o in self.hook.extend_schema(cms=self, schema=raw) if o])
        if full.version != snap.version:
            differ = sorted(n for n in set(full._digests) | set(snap._digests)
                            if full._digests.get(n) != snap._digests.get(n))
            raise AssertionError(
                f"a targeted schema refresh of {sorted(names)} differs from a full one in "
                f"{differ or 'the relations'}: the change touched more than it named")

    def schema_changed(self, collections: Iterable[str] | None = None) -> None:
        """A schema change has committed: refresh here, then tell every other worker and
        instance (``None``: anything may have changed)."""
        names = sorted(set(collections)) if collections is not None else None
        self._local.own_change = True  # this process's own change (checked in tests)
        try:
            self.messenger.publish("schema",
                                   {"collections": names} if names is not None else {})
        finally:
            self._local.own_change = False

    def access_changed(self) -> None:
        """Users, roles, policies, access rows, permissions or tokens changed: drop what
        every worker and instance resolved from them."""
        self.messenger.publish("access", {})

    def _on_schema_message(self, payload: dict[str, Any]) -> None:
        names = payload.get("collections")
        self.refresh_schema(collections=names if isinstance(names, list) else None)
        # permissions and policies name collections: what was resolved may be stale too
        self.access.invalidate()

    def _on_access_message(self, payload: dict[str, Any]) -> None:
        self.access.invalidate()
        self.plans.clear()

    def check_catalogue(self) -> bool:
        """The fallback for changes made outside Transom: compare a cheap fingerprint of
        the catalogue (and of the metadata tables) and re-read everything only when it
        moved. True when a refresh ran."""
        with self.connect() as conn:
            mark = self._catalogue_mark(conn)
            if mark is not None:
                if self._fingerprint is None or self._fingerprint_stale:
                    # our own changes moved it since the last look: just note where it is
                    self._fingerprint, self._fingerprint_stale = mark, False
                    return False
                if mark == self._fingerprint:
                    return False
            self.refresh_schema(conn)
        return True

    def _note_fingerprint(self, conn: Connection | None) -> None:
        try:
            if conn is None:
                with self.connect() as c:
                    self._fingerprint = self._catalogue_mark(c)
            else:
                self._fingerprint = self._catalogue_mark(conn)
            self._fingerprint_stale = False
        except Exception:  # noqa: BLE001 - only the fallback poll depends on it
            log.debug("catalogue fingerprint failed", exc_info=True)
            self._fingerprint = None

    def _catalogue_mark(self, conn: Connection) -> str | None:
        fingerprint = getattr(self.dialect, "catalogue_fingerprint", None)
        mark = fingerprint(conn, self.config.get("DB_SCHEMA")) if fingerprint else None
        if mark is None:
            return None
        parts = [str(mark)]
        tables = self._raw.tables if self._raw is not None else {}
        for table in SYSTEM_META_TABLES:
            if table in tables:
                top = "NULL" if table == "directus_collections" else "MAX(id)"
                row = conn.execute(sa.text(
                    f"SELECT COUNT(*), {top} FROM {table}")).first()  # noqa: S608 - fixed names
                parts.append(f"{row[0]}:{row[1]}")
        return "|".join(parts)

    def watch_schema(self) -> None:
        """In the background: handle the local bus now and then (for threads that serve no
        request, such as schedules) and, every ``SCHEMA_REFRESH_INTERVAL`` seconds, compare
        the catalogue's fingerprint so that changes made outside Transom (plain SQL,
        migrations) are picked up without a restart (0 turns that off)."""
        interval = float(self.config.get("SCHEMA_REFRESH_INTERVAL") or 0)
        if self._watcher is not None:
            return
        stop = self._watch_stop = threading.Event()
        tick = min(interval, 1.0) if interval > 0 else 1.0

        def loop() -> None:
            last = time.monotonic()
            failing = False
            while not stop.wait(tick):
                try:
                    self.messenger.sync()
                    if interval > 0 and time.monotonic() - last >= interval:
                        last = time.monotonic()
                        self.check_catalogue()
                except Exception as exc:  # noqa: BLE001 - a failed poll must not kill it
                    # the traceback once per outage, then one line per failed poll
                    if failing:
                        log.debug("schema check still failing: %s", exc)
                    else:
                        log.warning("schema check failed", exc_info=True)
                    failing = True
                    continue
                if failing:
                    failing = False
                    log.info("schema check recovered")

        self._watcher = threading.Thread(target=loop, name="transom-schema-watch",
                                         daemon=True)
        self._watcher.start()

    # -- events -------------------------------------------------------------------------
    def emit_action(self, name: str, meta: dict[str, Any],
                    accountability: Accountability | None = None) -> None:
        """Fire an after-the-fact event that is not tied to a transaction."""
        self.events.dispatch([name], meta, EventContext(accountability, None, self._schema,
                                                        self))

    def event_names(self, collection: str, action: str) -> list[str]:
        return event_names(collection, action)

    def close(self) -> None:
        if self._watch_stop is not None:
            self._watch_stop.set()
            if self._watcher is not None:
                self._watcher.join(2.0)
        self.hook.shutdown(cms=self)
        self.events.close()
        self.messenger.close()
        if self.replicas is not None:
            self.replicas.close()
        self.engine.dispose()
