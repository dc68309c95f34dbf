"""The dialect compliance suite: what every Transom dialect must do on a live database.

A dialect's test package runs it by importing the tests and providing one fixture::

    from transom.testing.dialect_suite import *  # noqa: F403

    @pytest.fixture(scope="module")
    def dialect_case(tmp_path_factory):
        with fresh_database("postgres") as url:
            dialect = PostgresDialect()
            engine = make_engine(dialect, url)
            yield DialectCase(dialect, engine)
            engine.dispose()

The fixture may yield a :class:`DialectCase` or a plain ``(dialect, engine)`` tuple. As in
SQLAlchemy's ``Requirements``, each test is gated on a capability flag: a capability the
dialect declares unsupported skips its tests, one it declares supported must pass. Error
kinds the database never raises (SQLite does not enforce ``varchar`` lengths) are declared
on the case. Tests create their own uniquely named tables and drop them, so one database
can serve the whole module.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DBAPIError

from transom.dialects import CAPABILITIES, DATE_PARTS, DbErrorInfo, Dialect
from transom.schema.raw import RawSchema

__all__ = [
    "DialectCase",
    "ERROR_KINDS",
    "make_engine",
    "test_declares_identity",
    "test_connects",
    "test_introspects_tables_and_columns",
    "test_introspects_every_type",
    "test_introspects_foreign_keys",
    "test_introspects_views",
    "test_introspection_is_bounded",
    "test_introspection_excludes",
    "test_introspection_only_reads",
    "test_introspection_only",
    "test_catalogue_fingerprint",
    "test_date_parts",
    "test_json_ops",
    "test_like_and_ilike",
    "test_like_escapes_wildcards",
    "test_native_ilike",
    "test_error_unique",
    "test_error_not_null",
    "test_error_foreign_key",
    "test_error_too_long",
    "test_error_out_of_range",
    "test_error_invalid_value",
    "test_missing_objects_are_classified",
    "test_unrelated_errors_are_not_classified",
    "test_returning",
    "test_upsert",
    "test_transactional_ddl",
    "test_window_functions",
    "test_alter_column",
    "test_native_uuid",
    "test_native_boolean",
    "test_schemas",
]

#: The constraint errors :meth:`Dialect.classify_error` must recognise.
ERROR_KINDS = frozenset(
    {"unique", "not_null", "foreign_key", "too_long", "out_of_range", "invalid_value"}
)

#: Directus types every dialect stores through ``column_type`` (and reads back).
ROUND_TRIP_TYPES = (
    "integer", "bigInteger", "float", "decimal", "string", "text", "boolean", "date",
    "dateTime", "timestamp", "time", "json", "uuid", "binary",
)


@dataclass
class DialectCase:
    """A dialect under test, its engine on an empty database, and what the database does.

    :param raises: error kinds the database reports at all (SQLite stores any length).
    :param names_column: error kinds whose message names the column (PostgreSQL does not
        name it for a too-long value).
    """

    dialect: Dialect
    engine: Engine
    raises: frozenset[str] = ERROR_KINDS
    names_column: frozenset[str] = ERROR_KINDS


def make_engine(dialect: Dialect, url: str | URL, config: Any = None) -> Engine:
    """Build the engine as the kernel does: ``create_engine`` plus ``on_connect``."""
    if config is None:
        from transom.config import Config

        config = Config({"DB_POOL_SIZE": 2})
    engine = dialect.create_engine(dialect.normalize_url(url), config)
    sa.event.listen(engine, "connect", lambda dbapi_conn, _rec: dialect.on_connect(dbapi_conn))
    return engine


def _case(value: Any) -> DialectCase:
    if isinstance(value, DialectCase):
        return value
    dialect, engine = value
    return DialectCase(dialect, engine)


def _require(case: DialectCase, capability: str) -> None:
    assert capability in CAPABILITIES, capability
    if not getattr(case.dialect, f"supports_{capability}"):
        pytest.skip(f"{case.dialect.name} declares no support for {capability}")


def _prefix() -> str:
    return f"s{uuid.uuid4().hex[:6]}_"


@contextmanager
def _tables(case: DialectCase) -> Iterator[tuple[sa.MetaData, list[str]]]:
    """A MetaData whose tables (and the views listed) are dropped afterwards."""
    md = sa.MetaData()
    views: list[str] = []
    try:
        yield md, views
    finally:
        with case.engine.begin() as conn:
            for v in views:
                conn.execute(sa.text(f"DROP VIEW IF EXISTS {v}"))
        md.drop_all(case.engine, checkfirst=True)


def _introspect(case: DialectCase, **kw: Any) -> RawSchema:
    with case.engine.connect() as conn:
        return case.dialect.introspect(conn, **kw)


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    with _executions(engine) as seen:
        yield seen


@contextmanager
def _executions(engine: Engine) -> Iterator[list[Any]]:
    """Statements sent to the driver, in order; each is a ``str`` subclass whose
    ``parameters`` attribute holds what was bound with it."""
    seen: list[Any] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        seen.append(_Sent(statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


class _Sent(str):
    """A statement as sent, with its bound parameters."""

    parameters: Any

    def __new__(cls, statement: str, parameters: Any) -> _Sent:
        sent = super().__new__(cls, statement)
        sent.parameters = parameters
        return sent


def _bound_values(parameters: Any) -> set[Any]:
    """Every scalar in a driver's parameters (a dict, a tuple, lists of them, arrays)."""
    if isinstance(parameters, dict):
        parameters = list(parameters.values())
    if isinstance(parameters, (list, tuple)):
        return set().union(*(_bound_values(p) for p in parameters)) if parameters else set()
    return {parameters}


# -- identity ---------------------------------------------------------------------------
def test_declares_identity(dialect_case: Any) -> None:
    case = _case(dialect_case)
    d = case.dialect
    assert d.name and d.distribution and d.vendor and d.default_driver
    assert d.db_clients and d.url_schemes
    for cap in CAPABILITIES:
        assert isinstance(getattr(d, f"supports_{cap}"), bool), cap
    assert case.engine.dialect.name == d.name or case.engine.dialect.name in d.url_schemes


def test_connects(dialect_case: Any) -> None:
    case = _case(dialect_case)
    with case.engine.connect() as conn:
        assert conn.execute(sa.select(sa.literal(1))).scalar_one() == 1


# -- introspection ----------------------------------------------------------------------
def test_introspects_tables_and_columns(dialect_case: Any) -> None:
    case = _case(dialect_case)
    p = _prefix()
    with _tables(case) as (md, _views):
        sa.Table(
            f"{p}authors", md,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("name", sa.String(100), nullable=False, unique=True),
            sa.Column("status", sa.String(20), server_default="draft"),
            sa.Column("rank", sa.Integer, server_default=sa.text("0")),
            sa.Column("active", case.dialect.column_type("boolean"), server_default=sa.true()),
            sa.Column("bio", sa.Text),
        )
        md.create_all(case.engine)
        raw = _introspect(case)
        assert raw.vendor == case.dialect.vendor
        table = raw.tables[f"{p}authors"]
        assert not table.is_view
        assert [c.name for c in table.columns] == ["id", "name", "status", "rank", "active",
                                                   "bio"]
        cid = table.column("id")
        assert cid is not None and cid.is_primary_key and cid.has_auto_increment
        assert not cid.nullable and cid.type == "integer"
        name = table.column("name")
        assert name is not None
        assert name.type == "string" and name.max_length == 100 and not name.nullable
        assert name.is_unique and not name.is_primary_key and not name.has_auto_increment
        assert name.data_type == name.data_type.lower() and name.data_type
        status, rank, active, bio = (table.column(n) for n in ("status", "rank", "active",
                                                                 "bio"))
        assert status is not None and status.default == "draft" and status.nullable
        assert rank is not None and rank.default == 0
        assert active is not None and active.type == "boolean" and active.default is True
        assert bio is not None and bio.type == "text" and bio.default is None and bio.nullable


def test_introspects_every_type(dialect_case: Any) -> None:
    case = _case(dialect_case)
    d = case.dialect
    p = _prefix()
    with _tables(case) as (md, _views):
        cols = [sa.Column("id", sa.Integer, primary_key=True)]
        for t in ROUND_TRIP_TYPES:
            cols.append(sa.Column(
                f"c_{t.lower()}", d.column_type(t, 255 if t == "string" else None,
                                                10 if t == "decimal" else None,
                                                5 if t == "decimal" else None)))
        sa.Table(f"{p}types", md, *cols)
        md.create_all(case.engine)
        table = _introspect(case).tables[f"{p}types"]
        got = {t: table.column(f"c_{t.lower()}") for t in ROUND_TRIP_TYPES}
        for t, col in got.items():
            assert col is not None, t
            expected = t
            # without a native uuid type, a uuid is a char(36), which reads back as uuid
            # (as Directus reads it)
            assert col.type == expected, (t, col.data_type, col.type)
            assert col.data_type and col.data_type == col.data_type.lower(), t
            assert col.nullable and not col.is_primary_key, t
        assert got["string"] is not None and got["string"].max_length == 255
        dec = got["decimal"]
        assert dec is not None and (dec.numeric_precision, dec.numeric_scale) == (10, 5)
        assert d.map_type(got["integer"].data_type) == "integer"  # type: ignore[union-attr]


def test_introspects_foreign_keys(dialect_case: Any) -> None:
    case = _case(dialect_case)
    _require(case, "foreign_keys")
    p = _prefix()
    with _tables(case) as (md, _views):
        sa.Table(f"{p}authors", md, sa.Column("id", sa.Integer, primary_key=True))
        sa.Table(
            f"{p}articles", md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("author", sa.Integer),
            sa.Column("editor", sa.Integer),
            sa.ForeignKeyConstraint(["author"], [f"{p}authors.id"], name=f"{p}author_fk",
                                    ondelete="SET NULL", onupdate="CASCADE"),
            sa.ForeignKeyConstraint(["editor"], [f"{p}authors.id"], name=f"{p}editor_fk"),
        )
        md.create_all(case.engine)
        raw = _introspect(case)
        fks = {fk.column: fk for fk in raw.tables[f"{p}articles"].foreign_keys}
        assert set(fks) == {"author", "editor"}
        author = fks["author"]
        assert (author.table, author.foreign_table, author.foreign_column) == (
            f"{p}articles", f"{p}authors", "id")
        assert author.constraint_name == f"{p}author_fk"
        assert author.on_delete == "SET NULL" and author.on_update == "CASCADE"
        assert fks["editor"].on_delete in ("NO ACTION", "RESTRICT")
        assert raw.tables[f"{p}authors"].foreign_keys == []
        with pytest.raises(DBAPIError), case.engine.begin() as conn:
            conn.execute(sa.text(f"INSERT INTO {p}articles (id, author) VALUES (1, 99)"))


def test_introspects_views(dialect_case: Any) -> None:
    case = _case(dialect_case)
    _require(case, "views")
    p = _prefix()
    with _tables(case) as (md, views):
        sa.Table(f"{p}items", md, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("title", sa.String(50)))
        md.create_all(case.engine)
        with case.engine.begin() as conn:
            conn.execute(sa.text(f"CREATE VIEW {p}v AS SELECT id, title FROM {p}items"))
            views.append(f"{p}v")
            conn.execute(sa.text(f"INSERT INTO {p}items (id, title) VALUES (1, 'x')"))
        raw = _introspect(case)
        view = raw.tables[f"{p}v"]
        assert view.is_view and not raw.tables[f"{p}items"].is_view
        assert [c.name for c in view.columns] == ["id", "title"]
        assert view.column("title").type == "string"  # type: ignore[union-attr]
        assert view.foreign_keys == []


def test_introspection_is_bounded(dialect_case: Any) -> None:
    case = _case(dialect_case)
    p = _prefix()

    def count() -> int:
        with case.engine.connect() as conn:
            conn.execute(sa.select(sa.literal(1)))
            with _statements(case.engine) as seen:
                case.dialect.introspect(conn)
        return len(seen)

    with _tables(case) as (md, _views):
        def add(i: int) -> None:
            sa.Table(f"{p}b{i}", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("parent", sa.Integer, sa.ForeignKey(f"{p}b0.id")),
                     sa.Column("name", sa.String(20), unique=True))

        for i in range(2):
            add(i)
        md.create_all(case.engine)
        small = count()
        for i in range(2, 12):
            add(i)
        md.create_all(case.engine)
        large = count()
        assert small == large, f"{small} statements for 2 tables, {large} for 12"
        assert large <= 12


def test_introspection_excludes(dialect_case: Any) -> None:
    case = _case(dialect_case)
    p = _prefix()
    with _tables(case) as (md, _views):
        sa.Table(f"{p}keep", md, sa.Column("id", sa.Integer, primary_key=True))
        sa.Table(f"{p}hide", md, sa.Column("id", sa.Integer, primary_key=True))
        md.create_all(case.engine)
        raw = _introspect(case, exclude=(f"{p}hide",))
        assert f"{p}keep" in raw.tables and f"{p}hide" not in raw.tables
        assert not any(name.startswith("sqlite_") for name in raw.tables)


def test_introspection_only_reads(dialect_case: Any) -> None:
    case = _case(dialect_case)
    with case.engine.connect() as conn:
        conn.execute(sa.select(sa.literal(1)))
        with _statements(case.engine) as seen:
            case.dialect.introspect(conn)
    for statement in seen:
        first = statement.lstrip().split(None, 1)[0].upper()
        assert first in ("SELECT", "WITH", "PRAGMA", "SHOW"), statement


def test_introspection_only(dialect_case: Any) -> None:
    """``only=`` reads just the tables and views named, exactly as a full read reports them,
    with the names bound as parameters (the filter is in the SQL) and a fixed number of
    statements however many tables exist or are named."""
    case = _case(dialect_case)
    p = _prefix()
    a, b, c, v = f"{p}a", f"{p}b", f"{p}c", f"{p}v"

    def only_read(names: list[str]) -> tuple[RawSchema, list[Any]]:
        with case.engine.connect() as conn:
            conn.execute(sa.select(sa.literal(1)))
            with _executions(case.engine) as seen:
                raw = case.dialect.introspect(conn, only=names)
        return raw, seen

    with _tables(case) as (md, views):
        sa.Table(a, md, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("name", sa.String(20), unique=True),
                 sa.Column("code", sa.String(10), index=True),
                 sa.Column("status", sa.String(10), server_default="draft", nullable=False))
        sa.Table(b, md, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("a", sa.Integer, sa.ForeignKey(f"{a}.id"), index=True),
                 sa.Column("note", sa.Text))
        # c's key points at b: it is declared on c, so not part of b
        sa.Table(c, md, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("b", sa.Integer, sa.ForeignKey(f"{b}.id")))
        md.create_all(case.engine)
        asked = [a, b]
        if case.dialect.supports_views:
            with case.engine.begin() as conn:
                conn.execute(sa.text(f"CREATE VIEW {v} AS SELECT id, name FROM {a}"))
            views.append(v)
            asked.append(v)

        full = _introspect(case)
        raw, seen = only_read([*asked, f"{p}missing"])
        assert set(raw.tables) == set(asked)
        for name in asked:
            assert raw.tables[name] == full.tables[name], name
        assert (raw.vendor, raw.schema_name) == (full.vendor, full.schema_name)
        if case.dialect.supports_foreign_keys:
            assert [fk.foreign_table for fk in raw.tables[b].foreign_keys] == [a]
        # the names travel as bound parameters, never spliced into the SQL
        assert any(a in _bound_values(s.parameters) for s in seen), seen
        assert not any(a in s for s in seen), seen

        assert set(_introspect(case, only=[a, b], exclude=(b,)).tables) == {a}
        assert set(_introspect(case, only=(name for name in [b])).tables) == {b}
        assert set(_introspect(case, only=a).tables) == {a}  # a lone name, not its letters
        empty = _introspect(case, only=[])
        assert empty.tables == {} and empty.vendor == full.vendor

        small = len(only_read([a, b])[1])
        for i in range(10):
            sa.Table(f"{p}x{i}", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("a", sa.Integer, sa.ForeignKey(f"{a}.id")))
        md.create_all(case.engine)
        large = len(only_read([a, b])[1])
        many = only_read([a, b, c, *(f"{p}x{i}" for i in range(10))])
        assert small == large == len(many[1]), (small, large, len(many[1]))
        assert large <= 12
        assert len(many[0].tables) == 13


_RENAME_COLUMN = {"mssql": "EXEC sp_rename '{t}.{old}', '{new}', 'COLUMN'"}
_RENAME_TABLE = {"mssql": "EXEC sp_rename '{t}', '{new}'"}
_SET_DEFAULT = {
    "mssql": "ALTER TABLE {t} ADD DEFAULT 'x' FOR name",
    "oracle": "ALTER TABLE {t} MODIFY (name DEFAULT 'x')",
}
_ADD_FOREIGN_KEY = "ALTER TABLE {t} ADD CONSTRAINT {t}_fk FOREIGN KEY (parent) REFERENCES {t}(id)"


def test_catalogue_fingerprint(dialect_case: Any) -> None:
    """``catalogue_fingerprint`` is one read-only statement whose value holds still while
    nothing changes (writing rows included) and moves on every kind of schema change."""
    case = _case(dialect_case)
    engine_name = case.engine.dialect.name

    def fingerprint() -> str | None:
        with case.engine.connect() as conn:
            conn.execute(sa.select(sa.literal(1)))
            with _statements(case.engine) as seen:
                value = case.dialect.catalogue_fingerprint(conn)
        if value is not None:
            assert len(seen) == 1, seen
            first = seen[0].lstrip().split(None, 1)[0].upper()
            assert first in ("SELECT", "WITH", "PRAGMA", "SHOW"), seen
        return value

    def ddl(sql: str, **names: str) -> None:
        with case.engine.begin() as conn:
            conn.execute(sa.text(sql.format(**names)))

    start = fingerprint()
    if start is None:
        pytest.skip(f"{case.dialect.name} has no catalogue fingerprint")
    assert isinstance(start, str) and start
    assert fingerprint() == start

    p = _prefix()
    t, renamed = f"{p}fp", f"{p}fp2"
    steps: list[tuple[str, str]] = []

    def changed(step: str) -> None:
        value = fingerprint()
        previous = steps[-1][1] if steps else start
        assert value is not None and value != previous, f"unchanged after {step}"
        steps.append((step, value))

    with _tables(case) as (md, _views):
        table = sa.Table(t, md, sa.Column("id", sa.Integer, primary_key=True),
                         sa.Column("name", sa.String(20)), sa.Column("parent", sa.Integer))
        md.create_all(case.engine)
        changed("CREATE TABLE")
        with case.engine.begin() as conn:
            conn.execute(table.insert(), [{"id": i, "name": f"n{i}"} for i in range(1, 51)])
            conn.execute(table.update().values(parent=1).where(table.c.id < 10))
            conn.execute(table.delete().where(table.c.id > 40))
        assert fingerprint() == steps[-1][1], "rows written, no schema change"

        ddl("ALTER TABLE {t} ADD extra INTEGER", t=t)
        changed("ALTER TABLE ADD COLUMN")
        ddl("CREATE INDEX {t}_parent ON {t} (parent)", t=t)
        changed("CREATE INDEX")
        ddl("CREATE UNIQUE INDEX {t}_name ON {t} (name)", t=t)
        changed("CREATE UNIQUE INDEX")
        ddl(_RENAME_COLUMN.get(engine_name, "ALTER TABLE {t} RENAME COLUMN {old} TO {new}"),
            t=t, old="extra", new="extra2")
        changed("RENAME COLUMN")
        ddl("ALTER TABLE {t} DROP COLUMN extra2", t=t)
        changed("DROP COLUMN")
        if case.dialect.supports_alter_column:  # ALTER COLUMN and ADD CONSTRAINT
            for sql in _ALTER[engine_name]:
                ddl(sql, t=t)
                changed(sql.format(t=t))
            ddl(_SET_DEFAULT.get(engine_name, "ALTER TABLE {t} ALTER COLUMN name SET DEFAULT 'x'"),
                t=t)
            changed("SET DEFAULT")
            if case.dialect.supports_foreign_keys:
                ddl(_ADD_FOREIGN_KEY, t=t)
                changed("ADD FOREIGN KEY")
        rename = _RENAME_TABLE.get(engine_name, "ALTER TABLE {t} RENAME TO {new}")
        ddl(rename, t=t, new=renamed)
        changed("RENAME TABLE")
        ddl(rename, t=renamed, new=t)
        changed("RENAME TABLE back")
        table.drop(case.engine)
        changed("DROP TABLE")
    assert fingerprint() == steps[-1][1]


# -- expressions ------------------------------------------------------------------------
_DATES = [
    dt.datetime(2024, 3, 10, 14, 5, 9),    # a Sunday, ISO week 10
    dt.datetime(2021, 1, 3, 8, 30, 45),    # a Sunday in ISO week 53 of 2020
    dt.datetime(2024, 12, 30, 23, 59, 58),  # a Monday in ISO week 1 of 2025
    dt.datetime(2023, 6, 15, 0, 0, 0),     # a Thursday
]


def _expected(value: dt.datetime | dt.date | dt.time, part: str) -> int:
    if part == "week":
        return value.isocalendar()[1]  # type: ignore[union-attr]
    if part == "weekday":
        return value.isoweekday() % 7  # type: ignore[union-attr]
    return int(getattr(value, part))


def test_date_parts(dialect_case: Any) -> None:
    case = _case(dialect_case)
    d = case.dialect
    p = _prefix()
    with _tables(case) as (md, _views):
        t = sa.Table(
            f"{p}dates", md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("dt", d.column_type("dateTime")),
            sa.Column("ts", d.column_type("timestamp")),
            sa.Column("d", d.column_type("date")),
            sa.Column("tm", d.column_type("time")),
        )
        md.create_all(case.engine)
        with case.engine.begin() as conn:
            conn.execute(t.insert(), [
                {"id": i, "dt": v, "ts": v.replace(tzinfo=dt.UTC), "d": v.date(),
                 "tm": v.time()} for i, v in enumerate(_DATES, start=1)])
        with case.engine.connect() as conn:
            for part in DATE_PARTS:
                exprs = [d.date_part(part, t.c.dt), d.date_part(part, t.c.ts)]
                if part not in ("hour", "minute", "second"):
                    exprs.append(d.date_part(part, t.c.d))
                else:
                    exprs.append(d.date_part(part, t.c.tm))
                rows = conn.execute(sa.select(*exprs).order_by(t.c.id)).all()
                for value, row in zip(_DATES, rows, strict=True):
                    want = _expected(value, part)
                    assert [int(x) for x in row] == [want] * len(exprs), (part, value, row)
            # As a filter, as the query engine uses it.
            year = d.date_part("year", t.c.dt)
            ids = conn.execute(sa.select(t.c.id).where(year == 2024).order_by(t.c.id)).scalars()
            assert list(ids) == [1, 3]


def test_json_ops(dialect_case: Any) -> None:
    case = _case(dialect_case)
    _require(case, "json_ops")
    d = case.dialect
    p = _prefix()
    doc = {"a": {"b": "x"}, "list": [1, 2, 3], "n": 5, "t": True, "z": None,
           "my key": "spaced", "s": "it's"}
    with _tables(case) as (md, _views):
        t = sa.Table(f"{p}docs", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("data", d.column_type("json")))
        md.create_all(case.engine)
        with case.engine.begin() as conn:
            conn.execute(t.insert(), [{"id": 1, "data": doc}, {"id": 2, "data": [1, 2]}])
            conn.execute(t.insert().values(id=3, data=sa.null()))

        def one(path: list[str | int], row: int = 1) -> Any:
            with case.engine.connect() as conn:
                return conn.execute(sa.select(d.json_extract(t.c.data, path))
                                    .where(t.c.id == row)).scalar_one()

        assert one(["a", "b"]) == "x"
        assert one(["list", 1]) == "2"
        assert one(["n"]) == "5"
        assert one(["t"]) == "true"
        assert one(["z"]) is None
        assert one(["missing"]) is None
        assert one(["my key"]) == "spaced"
        assert one(["s"]) == "it's"
        assert json.loads(one(["a"])) == {"b": "x"}
        assert one([0], row=2) == "1"
        with case.engine.connect() as conn:
            lengths = conn.execute(sa.select(t.c.id, d.json_array_length(t.c.data))
                                   .order_by(t.c.id)).all()
            assert [tuple(r) for r in lengths] == [(1, None), (2, 2), (3, None)]
            hit = conn.execute(sa.select(t.c.id).where(
                d.json_extract(t.c.data, ["a", "b"]) == "x")).scalars().all()
            assert hit == [1]


_WORDS = ["Apple", "apple", "APPLE pie", "50% off", "5000 off", "a_b", "axb", "[x]*?"]


def _matches(case: DialectCase, make: Any) -> set[str]:
    p = _prefix()
    with _tables(case) as (md, _views):
        t = sa.Table(f"{p}words", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("w", sa.String(50)))
        md.create_all(case.engine)
        with case.engine.begin() as conn:
            conn.execute(t.insert(), [{"id": i, "w": w}
                                      for i, w in enumerate(_WORDS, start=1)])
        with case.engine.connect() as conn:
            return set(conn.execute(sa.select(t.c.w).where(make(t.c.w))).scalars())


def test_like_and_ilike(dialect_case: Any) -> None:
    case = _case(dialect_case)
    d = case.dialect
    assert _matches(case, lambda c: d.like(c, "%pple%")) == {"Apple", "apple"}
    assert _matches(case, lambda c: d.like(c, "App%")) == {"Apple"}
    assert _matches(case, lambda c: ~d.like(c, "%pple%")) == set(_WORDS) - {"Apple", "apple"}
    assert _matches(case, lambda c: d.ilike(c, "%pple%")) == {"Apple", "apple", "APPLE pie"}
    assert _matches(case, lambda c: d.ilike(c, "APP%")) == {"Apple", "apple", "APPLE pie"}
    assert _matches(case, lambda c: d.ilike(c, "%PIE")) == {"APPLE pie"}


def test_like_escapes_wildcards(dialect_case: Any) -> None:
    case = _case(dialect_case)
    d = case.dialect
    assert _matches(case, lambda c: d.like(c, "50\\%%")) == {"50% off"}
    assert _matches(case, lambda c: d.ilike(c, "50\\%%")) == {"50% off"}
    assert _matches(case, lambda c: d.like(c, "a\\_b")) == {"a_b"}
    assert _matches(case, lambda c: d.ilike(c, "A\\_B")) == {"a_b"}
    assert _matches(case, lambda c: d.like(c, "%[x]*?%")) == {"[x]*?"}
    assert _matches(case, lambda c: d.like(c, "a_b")) == {"a_b", "axb"}


def test_native_ilike(dialect_case: Any) -> None:
    case = _case(dialect_case)
    _require(case, "ilike")
    d = case.dialect
    sql = str(d.ilike(sa.column("w", sa.String), "%x%").compile(dialect=case.engine.dialect))
    assert "ILIKE" in sql.upper() and "LOWER" not in sql.upper(), sql
    assert _matches(case, lambda c: d.ilike(c, "%PPLE")) == {"Apple", "apple"}


# -- errors ------------------------------------------------------------------------------
@contextmanager
def _people(case: DialectCase) -> Iterator[tuple[sa.Table, str]]:
    p = _prefix()
    with _tables(case) as (md, _views):
        sa.Table(f"{p}owners", md, sa.Column("id", sa.Integer, primary_key=True))
        t = sa.Table(
            f"{p}people", md,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("email", sa.String(100), unique=True),
            sa.Column("name", sa.String(10), nullable=False),
            sa.Column("age", sa.Integer),
            sa.Column("owner", sa.Integer, sa.ForeignKey(f"{p}owners.id")),
        )
        md.create_all(case.engine)
        with case.engine.begin() as conn:
            conn.execute(sa.text(f"INSERT INTO {p}owners (id) VALUES (1)"))
            conn.execute(t.insert().values(id=1, email="a@x.io", name="Ann", owner=1))
        yield t, f"{p}people"


def _error(case: DialectCase, stmt: Any, params: dict[str, Any] | None = None) -> DbErrorInfo:
    with pytest.raises(DBAPIError) as caught, case.engine.begin() as conn:
        conn.execute(stmt, params or {})
    info = case.dialect.classify_error(caught.value)
    assert info is not None, f"unclassified: {caught.value.orig!r}"
    return info


def _check(case: DialectCase, info: DbErrorInfo, kind: str, column: str, table: str) -> None:
    assert info.kind == kind, info
    if kind in case.names_column:
        assert info.column == column or (
            info.column is None and column in (info.constraint or "")), info
    else:
        assert info.column in (None, column), info
    assert info.table in (None, table), info


def _gate_error(case: DialectCase, kind: str) -> None:
    if kind not in case.raises:
        pytest.skip(f"{case.dialect.name} does not raise {kind} errors")


def test_error_unique(dialect_case: Any) -> None:
    case = _case(dialect_case)
    _gate_error(case, "unique")
    with _people(case) as (t, name):
        info = _error(case, t.insert().values(id=2, email="a@x.io", name="Bob"))
        _check(case, info, "unique", "email", name)
        assert info.value in (None, "a@x.io"), info


def test_error_not_null(dialect_case: Any) -> None:
    case = _case(dialect_case)
    _gate_error(case, "not_null")
    with _people(case) as (t, name):
        info = _error(case, t.insert().values(id=2, email="b@x.io", name=None))
        _check(case, info, "not_null", "name", name)


def test_error_foreign_key(dialect_case: Any) -> None:
    case = _case(dialect_case)
    _require(case, "foreign_keys")
    _gate_error(case, "foreign_key")
    with _people(case) as (t, name):
        info = _error(case, t.insert().values(id=2, name="Bob", owner=99))
        _check(case, info, "foreign_key", "owner", name)


def test_error_too_long(dialect_case: Any) -> None:
    case = _case(dialect_case)
    _gate_error(case, "too_long")
    with _people(case) as (t, name):
        info = _error(case, t.insert().values(id=2, name="x" * 40))
        _check(case, info, "too_long", "name", name)


def test_error_out_of_range(dialect_case: Any) -> None:
    case = _case(dialect_case)
    _gate_error(case, "out_of_range")
    with _people(case) as (t, name):
        info = _error(case, t.insert().values(id=2, name="Bob", age=2**40))
        _check(case, info, "out_of_range", "age", name)


def test_error_invalid_value(dialect_case: Any) -> None:
    case = _case(dialect_case)
    _gate_error(case, "invalid_value")
    with _people(case) as (_t, name):
        info = _error(case, sa.text(f"INSERT INTO {name} (id, name, age) "
                                    "VALUES (2, 'Bob', :age)"), {"age": "abc"})
        _check(case, info, "invalid_value", "age", name)


def test_missing_objects_are_classified(dialect_case: Any) -> None:
    """A table or column the snapshot still names but the database dropped: the kernel
    re-reads the schema and retries instead of answering 500."""
    case = _case(dialect_case)
    with pytest.raises(DBAPIError) as caught, case.engine.connect() as conn:
        conn.execute(sa.text("SELECT * FROM transom_no_such_table"))
    info = case.dialect.classify_error(caught.value)
    assert info is not None and info.kind == "undefined_table", info
    with _people(case) as (_t, name):
        with pytest.raises(DBAPIError) as caught, case.engine.connect() as conn:
            conn.execute(sa.text(f"SELECT no_such_column FROM {name}"))
        info = case.dialect.classify_error(caught.value)
        assert info is not None and info.kind == "undefined_column", info


def test_unrelated_errors_are_not_classified(dialect_case: Any) -> None:
    case = _case(dialect_case)
    with pytest.raises(DBAPIError) as caught, case.engine.connect() as conn:
        conn.execute(sa.text("SELECT FROM WHERE"))
    assert case.dialect.classify_error(caught.value) is None



# -- capabilities ------------------------------------------------------------------------
def test_returning(dialect_case: Any) -> None:
    case = _case(dialect_case)
    _require(case, "returning")
    p = _prefix()
    with _tables(case) as (md, _views):
        t = sa.Table(f"{p}ret", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("title", sa.String(20)))
        md.create_all(case.engine)
        with case.engine.begin() as conn:
            first = conn.execute(t.insert().values(title="a").returning(t.c.id)).scalar_one()
            second = conn.execute(t.insert().values(title="b").returning(t.c.id, t.c.title)).one()
        assert isinstance(first, int) and second.id != first and second.title == "b"


def test_upsert(dialect_case: Any) -> None:
    case = _case(dialect_case)
    _require(case, "upsert")
    d = case.dialect
    assert hasattr(d, "upsert_statement"), "supports_upsert needs upsert_statement()"
    p = _prefix()
    with _tables(case) as (md, _views):
        t = sa.Table(f"{p}kv", md, sa.Column("k", sa.String(20), primary_key=True),
                     sa.Column("v", sa.Integer), sa.Column("note", sa.String(20)))
        md.create_all(case.engine)
        with case.engine.begin() as conn:
            conn.execute(d.upsert_statement(t, {"k": "a", "v": 1, "note": "n"}, ["k"]))
            conn.execute(d.upsert_statement(t, {"k": "a", "v": 2, "note": "m"}, ["k"], ["v"]))
            conn.execute(d.upsert_statement(t, {"k": "b", "v": 3, "note": "o"}, ["k"]))
            conn.execute(d.upsert_statement(t, {"k": "b", "v": 9}, ["k"], []))
        with case.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.k, t.c.v, t.c.note).order_by(t.c.k)).all()
        assert [tuple(r) for r in rows] == [("a", 2, "n"), ("b", 3, "o")]


def test_transactional_ddl(dialect_case: Any) -> None:
    case = _case(dialect_case)
    _require(case, "transactional_ddl")
    name = f"{_prefix()}ddl"
    md = sa.MetaData()
    t = sa.Table(name, md, sa.Column("id", sa.Integer, primary_key=True))
    with case.engine.connect() as conn:
        trans = conn.begin()
        t.create(conn)
        conn.execute(t.insert().values(id=1))
        assert name in case.dialect.introspect(conn).tables
        trans.rollback()
    assert name not in _introspect(case).tables
    with case.engine.connect() as conn:
        with conn.begin():
            t.create(conn)
        assert name in case.dialect.introspect(conn).tables
    md.drop_all(case.engine)


def test_window_functions(dialect_case: Any) -> None:
    case = _case(dialect_case)
    _require(case, "window_functions")
    p = _prefix()
    with _tables(case) as (md, _views):
        t = sa.Table(f"{p}win", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("g", sa.String(5)), sa.Column("v", sa.Integer))
        md.create_all(case.engine)
        with case.engine.begin() as conn:
            conn.execute(t.insert(), [{"id": 1, "g": "a", "v": 5}, {"id": 2, "g": "a", "v": 3},
                                      {"id": 3, "g": "b", "v": 4}])
            rn = sa.func.row_number().over(partition_by=t.c.g, order_by=t.c.v)
            rows = conn.execute(sa.select(t.c.id, rn).order_by(t.c.id)).all()
        assert [tuple(r) for r in rows] == [(1, 2), (2, 1), (3, 1)]


_ALTER = {
    "postgresql": ["ALTER TABLE {t} ALTER COLUMN name TYPE VARCHAR(100)",
                   "ALTER TABLE {t} ALTER COLUMN name SET NOT NULL"],
    "mysql": ["ALTER TABLE {t} MODIFY name VARCHAR(100) NOT NULL"],
    "mariadb": ["ALTER TABLE {t} MODIFY name VARCHAR(100) NOT NULL"],
    "mssql": ["ALTER TABLE {t} ALTER COLUMN name NVARCHAR(100) NOT NULL"],
    "oracle": ["ALTER TABLE {t} MODIFY (name VARCHAR2(100 CHAR) NOT NULL)"],
}


def test_alter_column(dialect_case: Any) -> None:
    case = _case(dialect_case)
    _require(case, "alter_column")
    p = _prefix()
    with _tables(case) as (md, _views):
        sa.Table(f"{p}alt", md, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("name", sa.String(50)))
        md.create_all(case.engine)
        with case.engine.begin() as conn:
            for sql in _ALTER[case.engine.dialect.name]:
                conn.execute(sa.text(sql.format(t=f"{p}alt")))
        col = _introspect(case).tables[f"{p}alt"].column("name")
        assert col is not None and col.max_length == 100 and not col.nullable


def test_native_uuid(dialect_case: Any) -> None:
    case = _case(dialect_case)
    _require(case, "native_uuid")
    d = case.dialect
    p = _prefix()
    value = str(uuid.uuid4())
    with _tables(case) as (md, _views):
        t = sa.Table(f"{p}u", md, sa.Column("id", d.column_type("uuid"), primary_key=True))
        md.create_all(case.engine)
        with case.engine.begin() as conn:
            conn.execute(t.insert().values(id=value))
        with case.engine.connect() as conn:
            assert str(conn.execute(sa.select(t.c.id)).scalar_one()).lower() == value
            assert conn.execute(sa.select(t.c.id).where(t.c.id == value.upper())).first()
        col = _introspect(case).tables[f"{p}u"].column("id")
        assert col is not None and col.type == "uuid"


def test_native_boolean(dialect_case: Any) -> None:
    case = _case(dialect_case)
    _require(case, "native_boolean")
    p = _prefix()
    with _tables(case) as (md, _views):
        t = sa.Table(f"{p}b", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("flag", case.dialect.column_type("boolean")))
        md.create_all(case.engine)
        with case.engine.begin() as conn:
            conn.execute(t.insert().values(id=1, flag=True))
        with case.engine.connect() as conn:
            raw = conn.exec_driver_sql(f"SELECT flag FROM {p}b").scalar_one()
        assert raw is True


def test_schemas(dialect_case: Any) -> None:
    case = _case(dialect_case)
    _require(case, "schemas")
    schema = f"{_prefix()}sch"
    md = sa.MetaData()
    sa.Table("inside", md, sa.Column("id", sa.Integer, primary_key=True), schema=schema)
    with case.engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema(schema))
    try:
        md.create_all(case.engine)
        raw = _introspect(case, schema=schema)
        assert raw.schema_name == schema and set(raw.tables) == {"inside"}
        assert raw.tables["inside"].column("id").is_primary_key  # type: ignore[union-attr]
        assert "inside" not in _introspect(case).tables
    finally:
        md.drop_all(case.engine)
        with case.engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(schema))
