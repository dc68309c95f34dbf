"""The case a dialect package provides, and the helpers its tests share."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from transom.dialects import CAPABILITIES, Dialect
from transom.schema.raw import RawSchema

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
