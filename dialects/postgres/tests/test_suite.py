"""The dialect compliance suite, live on PostgreSQL (skipped if unreachable, unless CI)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from transom_dialect_postgres import PostgresDialect

from transom.testing.databases import fresh_database, in_ci, unavailable_reason
from transom.testing.dialect_suite import *  # noqa: F403
from transom.testing.dialect_suite import ERROR_KINDS, DialectCase, make_engine


@pytest.fixture(scope="module")
def dialect_case() -> Iterator[DialectCase]:
    reason = unavailable_reason("postgres")
    if reason and not in_ci():
        pytest.skip(reason)
    with fresh_database("postgres") as url:
        dialect = PostgresDialect()
        engine = make_engine(dialect, url)
        # PostgreSQL names no column for too-long, out-of-range or malformed values.
        yield DialectCase(dialect, engine, names_column=ERROR_KINDS - {
            "too_long", "out_of_range", "invalid_value"})
        engine.dispose()
