"""The SQLite dialect: file databases through the standard library's ``sqlite3``.

SQLite needs more help than the server databases: the driver's legacy transaction handling
is replaced by explicit ``BEGIN`` so DDL is transactional, LIKE is case-insensitive by
default (so case-sensitive matching goes through GLOB), and date parts must cope with the
two ways Directus stores dates there (ISO text or epoch milliseconds).
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import re
import sqlite3
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import base as sqlite_types
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import QueuePool, StaticPool

from transom.dialects import DbErrorInfo, Dialect

from .decimals import (
    TEXT_DECIMAL,
    DecimalText,
    canonical_text,
    key_expression,
    register_functions,
)
from .introspect import catalogue_fingerprint_sqlite, introspect_sqlite, map_sqlite_type
from .rebuild import rebuild_table

if TYPE_CHECKING:
    from transom.config import Config
    from transom.schema.raw import RawSchema


def _has_json1() -> bool:
    """JSON functions are compiled into SQLite by default since 3.38, optional before."""
    try:
        with sqlite3.connect(":memory:") as conn:
            conn.execute("SELECT json_extract('[1]', '$[0]')")
    except sqlite3.Error:
        return False
    return True


#: Whether this SQLite has the JSON functions the JSON filters compile to.
HAS_JSON1 = _has_json1()

_STRFTIME = {
    "year": "%Y",
    "month": "%m",
    "day": "%d",
    "hour": "%H",
    "minute": "%M",
    "second": "%S",
    "weekday": "%w",
}


def datetime_text(value: dt.datetime) -> str:
    """The stored text of a datetime: UTC, ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (what Python's
    former default adapter wrote, so existing rows keep comparing equal)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(" ")


class DateTimeText(sqlite_types.DATETIME):
    """SQLAlchemy's SQLite DATETIME, binding :func:`datetime_text` (SQLAlchemy's own form
    always has six fractional digits, so ``... 00:00:00.000000`` never equalled the stored
    ``... 00:00:00``)."""

    def bind_processor(self, dialect: Any) -> Any:
        def process(value: Any) -> Any:
            if isinstance(value, dt.datetime):
                return datetime_text(value)
            if isinstance(value, dt.date):
                return value.isoformat()
            return value

        return process


def like_to_glob(pattern: str) -> str:
    """Turn a LIKE pattern (``\\`` escapes) into the equivalent, case-sensitive GLOB."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(_glob_literal(pattern[i + 1]))
            i += 2
            continue
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        else:
            out.append(_glob_literal(ch))
        i += 1
    return "".join(out)


def _glob_literal(ch: str) -> str:
    return f"[{ch}]" if ch in "*?[" else ch


def json_path(path: list[str | int]) -> str:
    """A SQLite/MySQL style JSON path; keys are always quoted so dots and spaces are safe."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += '."' + str(part).replace('"', '\\"') + '"'
    return out


_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")
_NOT_NULL = re.compile(r"NOT NULL constraint failed: ([^.\s]+)\.(\S+)")


class SQLiteDialect(Dialect):
    """SQLite 3.35+ (``RETURNING`` needs 3.35; JSON functions must be compiled in)."""

    name = "sqlite"
    distribution = "transom-dialect-sqlite"
    db_clients = ("sqlite3", "sqlite")
    url_schemes = ("sqlite",)
    driver = "sqlite+pysqlite"
    default_driver = "sqlite+pysqlite"
    vendor = "sqlite"
    default_port = None

    supports_returning = sqlite3.sqlite_version_info >= (3, 35)
    supports_transactional_ddl = True  # with the explicit BEGIN installed by create_engine
    supports_schemas = False
    supports_alter_column = False  # SQLite rebuilds the table instead
    supports_foreign_keys = True  # PRAGMA foreign_keys=ON on every connection
    supports_alter_constraints = False  # only CREATE TABLE declares them
    #: NUMERIC affinity stores a REAL beyond integers: columns declared so by hand keep 15
    #: digits; the ``DECIMAL_TEXT`` columns Transom creates are exact (``decimals``)
    max_decimal_digits = 15

    #: reads get no BEGIN (the driver autocommits each statement). A Transom option rather
    #: than SQLAlchemy's ``isolation_level="AUTOCOMMIT"``, whose reset on every check-in
    #: costs a ``PRAGMA read_uncommitted`` round trip (~40 us a request, measured)
    read_options: ClassVar[dict[str, Any]] = {"transom_sqlite_begin": "NONE"}
    write_options: ClassVar[dict[str, Any]] = {"transom_sqlite_begin": "IMMEDIATE"}

    #: Milliseconds a connection waits on a locked database before failing.
    busy_timeout_ms = 5000
    #: Page cache per connection in KiB (``DB_SQLITE_CACHE_MB``; set by ``create_engine``).
    #: SQLite's own 2 MiB re-reads a 7 MB table from the OS on every scan: a filtered,
    #: sorted list of 10,000 articles took 1.9 ms with it, 0.95 ms with 16 MiB (measured).
    cache_kib = 16 * 1024

    # -- connecting ---------------------------------------------------------------------
    def url_from_config(self, config: Config) -> URL:
        filename = str(config.get("DB_FILENAME") or "./data/data.db")
        if filename == ":memory:":
            return URL.create(self.default_driver, database=":memory:")
        path = Path(filename).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        return URL.create(self.default_driver, database=str(path))

    def normalize_url(self, url: str | URL) -> URL:
        u = make_url(url)
        if "+" not in u.drivername:
            u = u.set(drivername=self.default_driver)
        return u

    @staticmethod
    def _is_memory(url: URL) -> bool:
        db = url.database or ""
        return db in ("", ":memory:") or "mode=memory" in str(url)

    def engine_options(self, config: Config) -> dict[str, Any]:
        return {
            "poolclass": QueuePool,
            "pool_size": int(config.get("DB_POOL_SIZE", 10)),
            "max_overflow": 5,
            # the connection used last is taken first: its page cache is the warm one, and
            # connections only a burst needed stay idle instead of each warming its own
            "pool_use_lifo": True,
            "connect_args": {"check_same_thread": False,
                             "timeout": self.busy_timeout_ms / 1000},
        }

    def create_engine(self, url: URL, config: Config) -> Engine:
        # sqlite3 can't bind Decimal; store decimals as their exact, canonical text (kept
        # as is by DECIMAL_TEXT columns; NUMERIC affinity turns it into a number).
        # Registered here, at start-up, not at import.
        sqlite3.register_adapter(decimal.Decimal, canonical_text)
        url = make_url(url)
        self.cache_kib = max(0, int(float(config.get("DB_SQLITE_CACHE_MB", 16)) * 1024))
        if self._is_memory(url):
            # One shared connection: every new connection would see a new, empty database.
            options: dict[str, Any] = {
                "poolclass": StaticPool,
                "connect_args": {"check_same_thread": False},
            }
        else:
            if url.database and not url.query.get("uri"):
                Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            options = self.engine_options(config)
        engine = sa.create_engine(url, **options)
        # Datetimes bound to a typed expression (a filter's operand) take the same text form
        # as the values written through untyped columns: one form, compared as text.
        sqlite3.register_adapter(dt.datetime, datetime_text)
        # sqlite3 binds no time of day (a ``time`` field answered 500), and its date
        # adapter is deprecated: both as the ISO text Directus stores
        sqlite3.register_adapter(dt.time, dt.time.isoformat)
        sqlite3.register_adapter(dt.date, dt.date.isoformat)
        engine.dialect.colspecs = {**engine.dialect.colspecs, sa.DateTime: DateTimeText}
        install_transactions(engine)
        sa.event.listen(engine, "connect", lambda dbapi, _record: register_functions(dbapi))
        sa.event.listen(engine, "handle_error", _drop_stale_connections)
        if url.database and not self._is_memory(url) and not url.query.get("uri"):
            replace_read_only_connections(engine, str(Path(url.database).expanduser()))
        return engine

    def session_statements(self) -> list[str]:
        # mmap_size=0: reads through a memory map of a file on a full or read-only disk
        # end in SIGBUS (a dead worker); plain reads fail with an error instead.
        statements = ["PRAGMA foreign_keys=ON",
                      f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}",
                      "PRAGMA mmap_size=0", "PRAGMA journal_mode=WAL"]
        if self.cache_kib:
            statements.append(f"PRAGMA cache_size=-{int(self.cache_kib)}")
        return statements

    # -- catalogue --------------------------------------------------------------------
    def introspect(
        self,
        connection: Connection,
        schema: str | None = None,
        exclude: tuple[str, ...] = (),
        only: Collection[str] | None = None,
    ) -> RawSchema:
        return introspect_sqlite(connection, exclude, only)

    def catalogue_fingerprint(self, connection: Connection, schema: str | None = None
                              ) -> str | None:
        """``PRAGMA schema_version``: SQLite increments it on every schema change."""
        return catalogue_fingerprint_sqlite(connection)

    def map_type(self, data_type: str, column: Any = None) -> str:
        return map_sqlite_type(data_type)

    def column_type(
        self,
        type_: str,
        max_length: int | None = None,
        precision: int | None = None,
        scale: int | None = None,
    ) -> sa.types.TypeEngine[Any]:
        if type_ == "timestamp":
            # A distinct declared type so introspection can tell it from dateTime.
            return sa.TIMESTAMP(timezone=True)
        if type_ == "uuid":
            return sa.CHAR(36)  # Directus's textual form, dashes included
        if type_ == "decimal":  # exact: TEXT affinity (see .decimals)
            return DecimalText(precision or 10, 5 if scale is None else scale)
        return super().column_type(type_, max_length, precision, scale)

    # -- decimals -----------------------------------------------------------------------
    def decimal_digits(self, data_type: str | None) -> int | None:
        return None if data_type == TEXT_DECIMAL else self.max_decimal_digits

    def decimal_key(self, expr: Any, data_type: str | None) -> Any | None:
        return key_expression(expr) if data_type == TEXT_DECIMAL else None

    def decimal_number(self, expr: Any, data_type: str | None) -> Any | None:
        return sa.cast(expr, sa.Float()) if data_type == TEXT_DECIMAL else None

    # -- expressions ------------------------------------------------------------------
    def date_part(self, part: str, expr: Any) -> Any:
        """Parts of ISO text (any SQLite time string) or of epoch milliseconds."""
        numeric = sa.func.typeof(expr).in_(("integer", "real"))
        epoch = (sa.type_coerce(expr, sa.Float) / 1000.0, "unixepoch")
        if part == "week":
            def iso_week(*source: Any) -> Any:
                # The ISO week is the week of that week's Thursday.
                thursday = sa.func.date(*source, "-3 days", "weekday 4")
                day_of_year = sa.cast(sa.func.strftime("%j", thursday), sa.Integer)
                return (day_of_year - 1) // 7 + 1

            return sa.case((numeric, iso_week(*epoch)), else_=iso_week(expr))
        fmt = _STRFTIME[part]
        value = sa.case(
            (numeric, sa.func.strftime(fmt, *epoch)), else_=sa.func.strftime(fmt, expr)
        )
        return sa.cast(value, sa.Integer)

    def json_extract(self, expr: Any, path: list[str | int]) -> Any:
        if not HAS_JSON1:
            raise NotImplementedError("this SQLite was built without the JSON functions")
        p = json_path(path)
        kind = sa.func.json_type(expr, p)
        return sa.case(
            (kind == "true", "true"),
            (kind == "false", "false"),
            else_=sa.cast(sa.func.json_extract(expr, p), sa.Text),
        )

    def json_array_length(self, expr: Any) -> Any:
        if not HAS_JSON1:
            raise NotImplementedError("this SQLite was built without the JSON functions")
        return sa.case((sa.func.json_type(expr) == "array", sa.func.json_array_length(expr)))

    def like(self, expr: Any, pattern: str) -> Any:
        # LIKE ignores ASCII case on SQLite and the pragma that changes it is per
        # connection and global to all LIKEs; GLOB is always case-sensitive.
        return expr.op("GLOB", is_comparison=True)(like_to_glob(pattern))

    def ilike(self, expr: Any, pattern: str) -> Any:
        # lower() on both sides in SQL: SQLite folds ASCII only, so fold both the same way.
        return sa.func.lower(expr).like(sa.func.lower(pattern), escape="\\")

    # -- schema changes -------------------------------------------------------------------
    @contextmanager
    def schema_change_connection(self, engine: Engine, rebuild: bool = False
                                 ) -> Iterator[tuple[Connection, bool]]:
        """With ``rebuild``, foreign keys are off for the change, as SQLite's table rebuild
        procedure requires; the pragma only works outside a transaction, so it is set
        before ``BEGIN`` and restored after the commit or rollback."""
        with engine.connect() as conn:
            raw = conn.connection.driver_connection if rebuild else None
            if raw is None:
                yield conn, False
                return
            raw.execute("PRAGMA foreign_keys=OFF")
            try:
                yield conn, True
            finally:
                raw.execute("PRAGMA foreign_keys=ON")

    def table_options(self, auto_increment: bool = False) -> dict[str, Any]:
        # knex's "integer primary key autoincrement": keys are never reused
        return {"sqlite_autoincrement": True} if auto_increment else {}

    def auto_increment_type(self, type_: sa.types.TypeEngine[Any]
                            ) -> sa.types.TypeEngine[Any]:
        return sa.Integer()  # only INTEGER PRIMARY KEY is the rowid

    def rebuild_table(self, conn: Connection, table: str, column: sa.Column[Any]) -> None:
        rebuild_table(conn, table, column)

    def drop_column(self, conn: Connection, table: sa.Table, name: str) -> None:
        """SQLite refuses to drop an indexed column: its indexes go first."""
        insp = sa.inspect(conn)
        names = [uc["name"] for uc in insp.get_unique_constraints(table.name)
                 if uc.get("column_names") == [name] and uc.get("name")]
        names += [ix["name"] for ix in insp.get_indexes(table.name)
                  if ix.get("column_names") == [name] and ix.get("name")
                  and ix["name"] not in names]
        column = sa.Column(name, sa.Integer())
        sa.Table(table.name, sa.MetaData(), column)
        for index in names:
            if not index.startswith("sqlite_autoindex"):
                sa.Index(index, column).drop(conn)
        super().drop_column(conn, table, name)

    # -- upsert -------------------------------------------------------------------------
    def upsert_statement(
        self,
        table: sa.Table,
        values: dict[str, Any],
        conflict_columns: list[str],
        update_columns: list[str] | None = None,
    ) -> Any:
        """``INSERT ... ON CONFLICT (...) DO UPDATE`` (or ``DO NOTHING``)."""
        from sqlalchemy.dialects.sqlite import insert

        return self.on_conflict_upsert(insert, table, values, conflict_columns,
                                       update_columns)

    # -- errors -----------------------------------------------------------------------
    def classify_error(self, exc: BaseException) -> DbErrorInfo | None:
        orig = getattr(exc, "orig", None) or exc
        if isinstance(orig, OverflowError):
            return DbErrorInfo("out_of_range")
        message = str(orig.args[0]) if getattr(orig, "args", None) else str(orig)
        m = _UNIQUE.search(message)
        if m:
            cols = [c.strip() for c in m.group(1).split(",")]
            table, _, column = cols[0].partition(".")
            if len(cols) > 1:
                names = ",".join(c.partition(".")[2] for c in cols)
                return DbErrorInfo("unique", table=table, constraint=names)
            return DbErrorInfo("unique", table=table, column=column or None)
        m = _NOT_NULL.search(message)
        if m:
            return DbErrorInfo("not_null", table=m.group(1), column=m.group(2))
        if "FOREIGN KEY constraint failed" in message:
            return DbErrorInfo("foreign_key")
        if "datatype mismatch" in message:
            return DbErrorInfo("invalid_value")
        if "integer overflow" in message:
            return DbErrorInfo("out_of_range")
        if message.startswith("no such table"):  # the snapshot is older than the database
            return DbErrorInfo("undefined_table", table=message.partition(": ")[2] or None)
        if message.startswith("no such column") or "has no column named" in message:
            return DbErrorInfo("undefined_column")
        return None


#: Execution option naming the BEGIN mode of a transaction: ``"IMMEDIATE"`` takes the write
#: lock up front, so a read-then-write transaction never fails with "database is locked"
#: when another writer got in between (deferred is the default, best for reads).
BEGIN_MODE_OPTION = "transom_sqlite_begin"


#: Errors after which a pooled SQLite connection must be reopened: a connection opened while
#: the file was read-only stays read-only after the file becomes writable again.
_REOPEN_MARKERS = ("readonly database", "disk i/o error", "unable to open database file")


def _drop_stale_connections(context: Any) -> None:
    """``handle_error``: treat storage faults as a disconnect, so the pool is refilled with
    fresh connections and writes work as soon as the fault clears."""
    text = str(context.original_exception).lower()
    if any(marker in text for marker in _REOPEN_MARKERS):
        context.is_disconnect = True


def _writable(path: str) -> bool:
    """Whether this process may write the database file and its WAL (modes, ownership and
    the immutable flag all count, for root too)."""
    wal = f"{path}-wal"
    return os.access(path, os.W_OK) and (not os.path.exists(wal) or os.access(wal, os.W_OK))


def replace_read_only_connections(engine: Engine, path: str) -> None:
    """SQLite opens a file it may not write read-only, and that connection stays read-only:
    note such connections when they open, and replace them at checkout once the file is
    writable again, so no write fails after the fault has cleared (the pool would otherwise
    hand out each of them once more, to fail)."""

    @sa.event.listens_for(engine, "connect")
    def _note_read_only(_dbapi_connection: Any, record: Any) -> None:
        record.info["transom_read_only"] = not _writable(path)

    @sa.event.listens_for(engine, "checkout")
    def _reopen_if_writable(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.get("transom_read_only") and _writable(path):
            raise sa.exc.DisconnectionError("the SQLite file is writable again: reconnect")


def install_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not ``sqlite3``, begin transactions, so DDL and SAVEPOINT take part.

    Connections run in ``AUTOCOMMIT`` (``execution_options(isolation_level=...)``) get no
    BEGIN, as SQLAlchemy expects; nor do those with ``transom_sqlite_begin="NONE"`` (the
    kernel's read engine), without SQLAlchemy's isolation-level switch at each checkout.
    """

    @sa.event.listens_for(engine, "connect")
    def _driver_autocommit(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return
        mode = str(options.get(BEGIN_MODE_OPTION) or "").upper()
        if mode == "NONE":  # the read engine: each statement autocommits in the driver
            return
        if mode in ("IMMEDIATE", "EXCLUSIVE"):
            conn.exec_driver_sql(f"BEGIN {mode}")
        else:
            conn.exec_driver_sql("BEGIN")
