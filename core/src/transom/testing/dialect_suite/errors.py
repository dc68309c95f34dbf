"""Driver errors classified as Directus error kinds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from transom.dialects import DbErrorInfo

from .base import (
    DialectCase,
    _case,
    _prefix,
    _require,
    _tables,
)


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
