"""Identity, connecting, introspection and the catalogue fingerprint."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from transom.dialects import CAPABILITIES
from transom.schema.raw import RawSchema

from .base import (
    ROUND_TRIP_TYPES,
    _bound_values,
    _case,
    _executions,
    _introspect,
    _prefix,
    _require,
    _statements,
    _tables,
)


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
_ALTER = {
    "postgresql": ["ALTER TABLE {t} ALTER COLUMN name TYPE VARCHAR(100)",
                   "ALTER TABLE {t} ALTER COLUMN name SET NOT NULL"],
    "mysql": ["ALTER TABLE {t} MODIFY name VARCHAR(100) NOT NULL"],
    "mariadb": ["ALTER TABLE {t} MODIFY name VARCHAR(100) NOT NULL"],
    "mssql": ["ALTER TABLE {t} ALTER COLUMN name NVARCHAR(100) NOT NULL"],
    "oracle": ["ALTER TABLE {t} MODIFY (name VARCHAR2(100 CHAR) NOT NULL)"],
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
