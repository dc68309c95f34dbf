"""The dialect compliance suite, live on MySQL/MariaDB (skipped if unreachable, unless CI)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from transom_dialect_mysql import MySQLDialect

from transom.testing.databases import fresh_database, in_ci, unavailable_reason
from transom.testing.dialect_suite import *  # noqa: F403
from transom.testing.dialect_suite import ERROR_KINDS, DialectCase, make_engine


@pytest.fixture(scope="module")
def dialect_case() -> Iterator[DialectCase]:
    reason = unavailable_reason("mysql")
    if reason and not in_ci():
        pytest.skip(reason)
    with fresh_database("mysql") as url:
        dialect = MySQLDialect()
        engine = make_engine(dialect, url)
        # A duplicate-key message names the index, not the column.
        yield DialectCase(dialect, engine, names_column=ERROR_KINDS)
        engine.dispose()
