"""Each capability flag and the schema-change DDL a dialect owns."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from .base import (
    _case,
    _introspect,
    _prefix,
    _require,
    _tables,
)


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
    d = case.dialect
    p = _prefix()
    try:
        d.upsert_statement(sa.table("t", sa.column("k")), {"k": 1}, ["k"])
    except NotImplementedError as exc:
        pytest.skip(str(exc))
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


def test_alter_column(dialect_case: Any) -> None:
    """:meth:`Dialect.alter_column` in place, or :meth:`Dialect.rebuild_table` on the
    connection :meth:`Dialect.schema_change_connection` prepared for it; then
    :meth:`Dialect.drop_column` on an indexed column."""
    case = _case(dialect_case)
    d = case.dialect
    p = _prefix()
    with _tables(case) as (md, _views):
        t = sa.Table(f"{p}alt", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("name", sa.String(50)), sa.Column("tag", sa.String(10)))
        sa.Index(f"{p}alt_tag_index", t.c.tag)
        md.create_all(case.engine)
        with case.engine.begin() as conn:
            conn.execute(t.insert().values(id=1, name="x", tag="a"))
        column = sa.Column("name", d.column_type("string", 100), nullable=False,
                           server_default="y")
        target = sa.Table(t.name, sa.MetaData(), column)
        rebuild = not d.supports_alter_column
        with d.schema_change_connection(case.engine, rebuild) as (conn, can_rebuild):
            if rebuild and not can_rebuild:
                pytest.skip(f"{d.name} can neither alter a column nor rebuild its table")
            with conn.begin():
                if d.supports_alter_column:
                    d.alter_column(conn, target, column, {"size", "nullable", "default"})
                else:
                    d.rebuild_table(conn, t.name, column)
        raw = _introspect(case).tables[t.name]
        col = raw.column("name")
        assert col is not None and col.max_length == 100 and not col.nullable
        with case.engine.begin() as conn:
            assert conn.execute(sa.select(t.c.name)).scalar_one() == "x"
            conn.execute(sa.insert(sa.table(t.name, sa.column("id"))).values(id=2))
            assert conn.execute(sa.select(t.c.name).where(t.c.id == 2)).scalar_one() == "y"
        with case.engine.begin() as conn:
            d.drop_column(conn, sa.Table(t.name, sa.MetaData(), sa.Column("tag", sa.Integer)),
                          "tag")
        assert _introspect(case).tables[t.name].column("tag") is None


def test_alter_constraints(dialect_case: Any) -> None:
    case = _case(dialect_case)
    _require(case, "alter_constraints")
    d = case.dialect
    p = _prefix()
    with _tables(case) as (md, _views):
        parent = sa.Table(f"{p}par", md, sa.Column("id", sa.Integer, primary_key=True))
        child = sa.Table(f"{p}chi", md, sa.Column("id", sa.Integer, primary_key=True),
                         sa.Column("par", sa.Integer))
        md.create_all(case.engine)
        fk_md = sa.MetaData()
        one = sa.Table(parent.name, fk_md, sa.Column("id", sa.Integer))
        many = sa.Table(child.name, fk_md, sa.Column("par", sa.Integer))
        fk = sa.ForeignKeyConstraint(["par"], [one.c.id], name=f"{p}chi_par_foreign",
                                     ondelete="CASCADE")
        many.append_constraint(fk)
        with case.engine.begin() as conn:
            d.add_foreign_key(conn, fk)
        fks = _introspect(case).tables[child.name].foreign_keys
        assert [(f.column, f.foreign_table, f.on_delete) for f in fks] == [
            ("par", parent.name, "CASCADE")]
        with case.engine.begin() as conn:
            d.drop_foreign_key(conn, fk)
        assert _introspect(case).tables[child.name].foreign_keys == []


def test_drop_unique_index(dialect_case: Any) -> None:
    case = _case(dialect_case)
    d = case.dialect
    p = _prefix()
    with _tables(case) as (md, _views):
        t = sa.Table(f"{p}uq", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("code", sa.String(10)))
        sa.Index(f"{p}uq_code_unique", t.c.code, unique=True)
        md.create_all(case.engine)
        target = sa.Table(t.name, sa.MetaData(), sa.Column("code", sa.Integer))
        with case.engine.begin() as conn:
            d.drop_index(conn, target, f"{p}uq_code_unique", False)
        with case.engine.begin() as conn:
            conn.execute(t.insert(), [{"id": 1, "code": "a"}, {"id": 2, "code": "a"}])


def test_uuid_round_trip(dialect_case: Any) -> None:
    case = _case(dialect_case)
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
            assert conn.execute(sa.select(t.c.id).where(t.c.id == value)).first()


def test_boolean_round_trip(dialect_case: Any) -> None:
    case = _case(dialect_case)
    p = _prefix()
    with _tables(case) as (md, _views):
        t = sa.Table(f"{p}b", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("flag", case.dialect.column_type("boolean")))
        md.create_all(case.engine)
        with case.engine.begin() as conn:
            conn.execute(t.insert().values(id=1, flag=True))
        with case.engine.connect() as conn:
            assert conn.execute(sa.select(t.c.flag)).scalar_one() is True
            assert conn.execute(sa.select(t.c.id).where(t.c.flag.is_(True))).scalar_one() == 1


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
