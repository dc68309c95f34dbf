"""The dialect compliance suite, live on a SQLite file database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from transom_dialect_sqlite import SQLiteDialect

from transom.testing.databases import fresh_database
from transom.testing.dialect_suite import *  # noqa: F403
from transom.testing.dialect_suite import DialectCase, make_engine


@pytest.fixture(scope="module")
def dialect_case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DialectCase]:
    with fresh_database("sqlite", tmp_path_factory.mktemp("suite")) as url:
        dialect = SQLiteDialect()
        engine = make_engine(dialect, url)
        # SQLite stores any length and any integer size, and coerces text in int columns.
        yield DialectCase(dialect, engine, raises=frozenset({"unique", "not_null",
                                                             "foreign_key"}),
                          names_column=frozenset({"unique", "not_null"}))
        engine.dispose()
