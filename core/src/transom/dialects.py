"""The dialect contract: capability flags plus a few compiled fragments per database.

A dialect is not a fork of the query compiler. It declares what the database can do (the
``supports_*`` flags, all False by default so a dialect claims only what it proves in the
compliance suite), builds the SQLAlchemy engine, introspects the catalogue in bounded
queries, compiles the handful of expressions that differ between vendors (date parts, JSON
paths, case-insensitive LIKE), owns the DDL that differs (altering a column, SQLite's table
rebuild, dropping indexes and foreign keys) and translates driver errors into Directus's
error codes. Core never branches on a dialect's name: it reads a flag or calls a method.
Dialect distributions register a subclass through ``register_dialects``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateColumn, ExecutableDDLElement

from .errors import StartupError
from .pool_ping import install_idle_ping, ping_idle_seconds
from .schema.types import default_sa_type, plugin_field_type

if TYPE_CHECKING:
    from .config import Config
    from .schema.raw import RawSchema


#: Capability names, each a ``supports_<name>`` class attribute on :class:`Dialect`.
#: Each one is read by core, which behaves differently on it; what a dialect method already
#: hides (ILIKE, UUID and boolean storage, JSON paths...) needs no flag.
CAPABILITIES: tuple[str, ...] = (
    "returning",
    "transactional_ddl",
    "schemas",
    "alter_column",
    "foreign_keys",
    "alter_constraints",
)

DATE_PARTS = ("year", "month", "week", "day", "weekday", "hour", "minute", "second")


def only_tables(only: Collection[str] | None) -> list[str] | None:
    """The ``only`` argument of :meth:`Dialect.introspect` as a list of distinct names
    (in the order given), or None for "every table". A lone string is one name, not a
    collection of one-letter names."""
    if only is None:
        return None
    if isinstance(only, str):
        return [only]
    return list(dict.fromkeys(str(name) for name in only))


# -- small DDL elements SQLAlchemy Core has no construct for -------------------------------
class AlterTable(ExecutableDDLElement):
    """``ALTER TABLE <table> ...``; subclasses compile the rest (dialect distributions add
    their own, compiled for their database only)."""

    def __init__(self, table: sa.Table, column: sa.Column[Any] | None = None,
                 name: str | None = None) -> None:
        self.table = table
        self.column = column
        self.name = name

    @staticmethod
    def table_sql(compiler: Any, element: AlterTable) -> str:
        return str(compiler.preparer.format_table(element.table))

    @staticmethod
    def column_sql(compiler: Any, element: AlterTable) -> str:
        name = element.column.name if element.column is not None else element.name
        return str(compiler.preparer.quote(name))


class AddColumn(AlterTable):
    pass


class DropColumn(AlterTable):
    pass


class DropView(AlterTable):
    pass


@compiles(AddColumn)
def _add_column(element: AddColumn, compiler: Any, **kw: Any) -> str:
    return (f"ALTER TABLE {AlterTable.table_sql(compiler, element)} ADD COLUMN "
            f"{compiler.process(CreateColumn(element.column), **kw)}")


@compiles(DropColumn)
def _drop_column(element: DropColumn, compiler: Any, **kw: Any) -> str:
    return (f"ALTER TABLE {AlterTable.table_sql(compiler, element)} DROP COLUMN "
            f"{AlterTable.column_sql(compiler, element)}")


@compiles(DropView)
def _drop_view(element: DropView, compiler: Any, **kw: Any) -> str:
    return f"DROP VIEW {AlterTable.table_sql(compiler, element)}"


@dataclass(frozen=True)
class DbErrorInfo:
    """A driver error, classified. ``kind`` is one of ``unique``, ``not_null``,
    ``foreign_key``, ``too_long``, ``out_of_range``, ``invalid_value``, ``contains_null``.
    The names are what the message gave; any may be None. ``message``, when set, is the
    client-facing explanation (e.g. the range a date column holds)."""

    kind: str
    table: str | None = None
    column: str | None = None
    value: Any = None
    constraint: str | None = None
    message: str | None = None


class Dialect:
    """Base class of every dialect; subclasses set the class attributes and override methods.

    :cvar name: short name (``sqlite``, ``postgresql``, ``mysql``, ``mssql``, ``oracle``).
    :cvar distribution: the distribution to install for it (named in start-up errors).
    :cvar db_clients: ``DB_CLIENT`` values it answers to (Directus's names).
    :cvar url_schemes: SQLAlchemy URL backend names it answers to (the part before ``+``).
    :cvar driver: the DBAPI driver module it uses.
    :cvar default_driver: the SQLAlchemy ``backend+driver`` used when building URLs.
    :cvar vendor: Directus's vendor name, as written in schema snapshots.
    """

    name: ClassVar[str] = ""
    distribution: ClassVar[str] = ""
    db_clients: ClassVar[tuple[str, ...]] = ()
    url_schemes: ClassVar[tuple[str, ...]] = ()
    driver: ClassVar[str] = ""
    default_driver: ClassVar[str] = ""
    vendor: ClassVar[str] = ""
    default_port: ClassVar[int | None] = None

    #: ``INSERT ... RETURNING`` (the item writer reads keys back in the same statement)
    supports_returning: ClassVar[bool] = False
    #: DDL takes part in transactions (else schema changes register compensating steps)
    supports_transactional_ddl: ClassVar[bool] = False
    #: named schemas (``DB_SCHEMA``) qualify tables
    supports_schemas: ClassVar[bool] = False
    #: :meth:`alter_column` changes a column's type, size, nullability or default in place
    #: (else the fields service asks for :meth:`rebuild_table`, or refuses)
    supports_alter_column: ClassVar[bool] = False
    #: foreign keys are declared and enforced
    supports_foreign_keys: ClassVar[bool] = False
    #: foreign keys can be added to and dropped from existing tables (else relations made
    #: after the table are metadata only)
    supports_alter_constraints: ClassVar[bool] = False
    #: Significant digits a decimal column keeps (None: as many as its precision). A value
    #: with more is refused with a 400 rather than silently cut.
    max_decimal_digits: ClassVar[int | None] = None

    #: execution options of read-only connections: dialects whose driver can skip the
    #: BEGIN/ROLLBACK round trip of a pooled read say so here (autocommit reads)
    read_options: ClassVar[dict[str, Any]] = {}
    #: execution options of write transactions (SQLite takes its write lock up front)
    write_options: ClassVar[dict[str, Any]] = {}

    def __init__(self, config: Config | None = None) -> None:
        self.config = config

    # -- capabilities -------------------------------------------------------------------
    @classmethod
    def capabilities(cls) -> dict[str, bool]:
        """Every capability flag of this dialect, by name."""
        return {c: bool(getattr(cls, f"supports_{c}")) for c in CAPABILITIES}

    # -- connecting ---------------------------------------------------------------------
    def url_from_config(self, config: Config) -> URL:
        """Build the SQLAlchemy URL from ``DB_HOST``, ``DB_PORT``, ``DB_DATABASE``, ... ."""
        missing = [k for k in ("DB_DATABASE",) if not config.get(k)]
        if missing:
            raise StartupError(
                f"DB_CLIENT={config.get('DB_CLIENT')} needs {', '.join(missing)}: set it, "
                "or set DB_URL to a full SQLAlchemy URL."
            )
        return URL.create(
            self.default_driver,
            username=config.get("DB_USER"),
            password=config.get("DB_PASSWORD"),
            host=config.get("DB_HOST") or "127.0.0.1",
            port=config.get("DB_PORT") or self.default_port,
            database=config.get("DB_DATABASE"),
        )

    def normalize_url(self, url: str | URL) -> URL:
        """Put this dialect's default driver into a URL that names only the backend."""
        u = make_url(url)
        if "+" not in u.drivername and self.default_driver:
            u = u.set(drivername=self.default_driver)
        return u

    def engine_options(self, config: Config) -> dict[str, Any]:
        """Keyword arguments for :func:`sqlalchemy.create_engine`."""
        return {
            "pool_size": int(config.get("DB_POOL_SIZE", 10)),
            "max_overflow": 5,
            # a ping at every checkout only when asked (see transom.pool_ping)
            "pool_pre_ping": ping_idle_seconds(config) == 0,
            "pool_recycle": 1800,
        }

    def create_engine(self, url: URL, config: Config) -> Engine:
        engine = sa.create_engine(url, **self.engine_options(config))
        install_idle_ping(engine, ping_idle_seconds(config))
        return engine

    def session_statements(self) -> list[str]:
        """Statements every new connection runs (time zone, pragmas, message language)."""
        return []

    def on_connect(self, dbapi_connection: Any) -> None:
        """Per-connection set-up this dialect always needs (before ``prepare_connection``):
        by default, run :meth:`session_statements` on one cursor."""
        statements = self.session_statements()
        if not statements:
            return
        cur = dbapi_connection.cursor()
        try:
            for statement in statements:
                cur.execute(statement)
        finally:
            cur.close()

    # -- catalogue --------------------------------------------------------------------
    def introspect(
        self,
        connection: Connection,
        schema: str | None = None,
        exclude: tuple[str, ...] = (),
        only: Collection[str] | None = None,
    ) -> RawSchema:
        """Read every table, view, column and foreign key in a bounded number of queries.

        ``exclude`` names tables to leave out. ``only``, when not None, names the tables and
        views to read (their columns, indexes, uniques and the foreign keys declared on
        them); the rest are not read at all, and names that do not exist are simply absent
        from the result. Each table read this way is the same :class:`RawTable` a full read
        returns, and the :class:`RawSchema` keeps its ``vendor`` and ``schema_name``.
        Dialects put the filter into the catalogue queries (bound parameters), so the number
        of statements stays fixed and their cost follows the tables named, not the database.
        """
        raise NotImplementedError

    def catalogue_fingerprint(self, connection: Connection, schema: str | None = None
                              ) -> str | None:
        """A token that changes whenever a table, view, column (type, nullability, default),
        primary key, foreign key, index or unique constraint of ``schema`` is created,
        dropped, renamed or altered, by anyone; data changes leave it alone.

        It is one cheap catalogue query, for the kernel to poll and notice schema changes
        made outside Transom; compare tokens for equality only. None means this dialect
        cannot tell (the kernel then re-reads the whole catalogue), which is the default.
        """
        return None

    def map_type(self, data_type: str, column: Any = None) -> str:
        """Map a catalogue ``data_type`` to a Directus type name (``unknown`` if none fits)."""
        return "unknown"

    def column_type(
        self,
        type_: str,
        max_length: int | None = None,
        precision: int | None = None,
        scale: int | None = None,
    ) -> sa.types.TypeEngine[Any]:
        """The SQLAlchemy type that stores a Directus field type on this database."""
        ft = plugin_field_type(type_)  # a type of a plugin (register_field_types)
        if ft is not None:
            return ft.column_type(self.name)
        return default_sa_type(type_, max_length, precision, scale)

    # -- expressions ------------------------------------------------------------------
    def date_part(self, part: str, expr: Any) -> Any:
        """``year(expr)`` and friends; ``part`` is one of :data:`DATE_PARTS`.

        ``weekday`` is 0 for Sunday (Directus/knex), ``week`` the ISO week number.
        """
        if part == "weekday":
            return sa.cast(sa.extract("dow", expr), sa.Integer)
        return sa.cast(sa.extract(part, expr), sa.Integer)

    def json_extract(self, expr: Any, path: list[str | int]) -> Any:
        """The value at ``path`` inside a JSON column, as text."""
        raise NotImplementedError

    def json_array_length(self, expr: Any) -> Any:
        """Length of a JSON array column (``count(json_field)``)."""
        raise NotImplementedError

    def key_as_text(self, expr: Any) -> Any:
        """A primary key as text, to compare with an m2a junction's ``item`` column."""
        return sa.cast(expr, sa.String(255))

    def ilike(self, expr: Any, pattern: str) -> Any:
        """Case-insensitive LIKE; the default lowers both sides."""
        return sa.func.lower(expr).like(pattern.lower(), escape="\\")

    def like(self, expr: Any, pattern: str) -> Any:
        """Case-sensitive LIKE (SQLite and MySQL need help to make it so)."""
        return expr.like(pattern, escape="\\")

    # -- decimals stored as text (SQLite) --------------------------------------------------
    def decimal_digits(self, data_type: str | None) -> int | None:
        """Significant digits a decimal column of this catalogue ``data_type`` keeps (None:
        as many as its precision); :attr:`max_decimal_digits` unless the column is exact."""
        return self.max_decimal_digits

    def decimal_key(self, expr: Any, data_type: str | None) -> Any | None:
        """An expression that compares and orders a decimal column (or a bound decimal as
        text) numerically and exactly, for columns that do not do it themselves (SQLite's
        text decimals); None: the column compares as it is."""
        return None

    def decimal_number(self, expr: Any, data_type: str | None) -> Any | None:
        """A decimal column as a number for ``sum``/``avg``/``min``/``max``, when it is not
        stored as one; None: as it is."""
        return None

    def upsert_statement(self, table: sa.Table, values: dict[str, Any],
                         conflict_columns: list[str],
                         update_columns: list[str] | None = None) -> Any:
        """INSERT that updates ``update_columns`` when ``conflict_columns`` already exist;
        raises NotImplementedError where the database has no such statement."""
        raise NotImplementedError(f"{self.name} does not support upsert")

    @staticmethod
    def on_conflict_upsert(insert: Any, table: sa.Table, values: dict[str, Any],
                           conflict_columns: list[str],
                           update_columns: list[str] | None = None) -> Any:
        """``INSERT ... ON CONFLICT (...) DO UPDATE`` (or ``DO NOTHING``) for the databases
        whose SQLAlchemy ``insert`` construct has it (PostgreSQL, SQLite)."""
        stmt = insert(table).values(**values)
        update = update_columns if update_columns is not None else [
            c for c in values if c not in conflict_columns]
        if not update:
            return stmt.on_conflict_do_nothing(index_elements=conflict_columns)
        return stmt.on_conflict_do_update(
            index_elements=conflict_columns, set_={c: stmt.excluded[c] for c in update})

    # -- schema changes ---------------------------------------------------------------
    def table_options(self, auto_increment: bool = False) -> dict[str, Any]:
        """Dialect keyword arguments of a new ``sa.Table`` (``auto_increment``: its primary
        key auto-increments)."""
        return {}

    def auto_increment_type(self, type_: sa.types.TypeEngine[Any]
                            ) -> sa.types.TypeEngine[Any]:
        """The type of an auto-incrementing primary key stored as ``type_``."""
        return type_

    @contextmanager
    def schema_change_connection(self, engine: Engine, rebuild: bool = False
                                 ) -> Iterator[tuple[Connection, bool]]:
        """The connection a schema change runs on (the caller begins the transaction), and
        whether :meth:`rebuild_table` may run on it. ``rebuild`` asks for that: dialects
        that alter columns by rebuilding their table prepare the connection for it (SQLite
        turns foreign keys off around the transaction). By default there is no rebuild."""
        with engine.connect() as conn:
            yield conn, False

    def alter_column(self, conn: Connection, table: sa.Table, column: sa.Column[Any],
                     changes: Collection[str]) -> None:
        """Change ``column`` of ``table`` (a throw-away table holding just that column, as
        it should become) in place; ``changes`` is a subset of ``type``, ``size``,
        ``nullable`` and ``default``. Called only when :attr:`supports_alter_column`."""
        raise NotImplementedError(f"{self.name} cannot alter columns")

    def rebuild_table(self, conn: Connection, table: str, column: sa.Column[Any]) -> None:
        """Replace one column's definition by rebuilding the table, for dialects without
        :attr:`supports_alter_column`; runs on a connection :meth:`schema_change_connection`
        prepared with ``rebuild=True`` (and said so)."""
        raise NotImplementedError(f"{self.name} cannot rebuild tables")

    def drop_column(self, conn: Connection, table: sa.Table, name: str) -> None:
        """``ALTER TABLE ... DROP COLUMN``, with whatever the database needs first."""
        conn.execute(DropColumn(table, name=name))

    def drop_index(self, conn: Connection, table: sa.Table, name: str,
                   is_constraint: bool) -> None:
        """Drop a single-column index or unique constraint of ``table`` (a throw-away
        table holding that column); ``is_constraint`` tells a constraint from an index."""
        column = next(iter(table.columns))
        sa.Index(name, column).drop(conn)

    def add_foreign_key(self, conn: Connection, fk: sa.ForeignKeyConstraint) -> None:
        """Add a foreign key to an existing table (:attr:`supports_alter_constraints`)."""
        conn.execute(sa.schema.AddConstraint(fk))

    def drop_foreign_key(self, conn: Connection, fk: sa.ForeignKeyConstraint) -> None:
        """Drop a named foreign key of an existing table."""
        conn.execute(sa.schema.DropConstraint(fk))

    # -- replicas ---------------------------------------------------------------------
    def replica_lag(self, connection: Connection) -> float | None:
        """Seconds a read replica is behind its primary (0 when caught up), or None when
        this dialect cannot tell (the replica is then trusted while it answers)."""
        connection.execute(sa.text("SELECT 1"))
        return None

    # -- errors -----------------------------------------------------------------------
    def classify_error(self, exc: BaseException) -> DbErrorInfo | None:
        """Recognise a constraint error in a driver exception, or return None."""
        return None

    def __repr__(self) -> str:
        return f"<Dialect {self.name} ({self.distribution})>"
