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

The package: :mod:`.base` (the case and helpers), :mod:`.catalogue` (identity,
introspection, fingerprint), :mod:`.expressions`, :mod:`.errors` and :mod:`.capabilities`
(flags and the schema-change methods); every test is re-exported here.
"""

from __future__ import annotations

from .base import ERROR_KINDS, DialectCase, make_engine
from .capabilities import (
    test_alter_column,
    test_alter_constraints,
    test_boolean_round_trip,
    test_drop_unique_index,
    test_returning,
    test_schemas,
    test_transactional_ddl,
    test_upsert,
    test_uuid_round_trip,
    test_window_functions,
)
from .catalogue import (
    test_catalogue_fingerprint,
    test_connects,
    test_declares_identity,
    test_introspection_excludes,
    test_introspection_is_bounded,
    test_introspection_only,
    test_introspection_only_reads,
    test_introspects_every_type,
    test_introspects_foreign_keys,
    test_introspects_tables_and_columns,
    test_introspects_views,
)
from .errors import (
    test_error_foreign_key,
    test_error_invalid_value,
    test_error_not_null,
    test_error_out_of_range,
    test_error_too_long,
    test_error_unique,
    test_missing_objects_are_classified,
    test_unrelated_errors_are_not_classified,
)
from .expressions import (
    test_date_parts,
    test_json_ops,
    test_like_and_ilike,
    test_like_escapes_wildcards,
)

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
    "test_alter_constraints",
    "test_drop_unique_index",
    "test_uuid_round_trip",
    "test_boolean_round_trip",
    "test_schemas",
]
