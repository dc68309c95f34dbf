"""PostgreSQL dialect unit tests: configuration, types, SQL and error classification.

The last tests need the local server and skip without it (unless CI=true).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from importlib.metadata import entry_points
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from transom_dialect_postgres import PostgresDialect, register_dialects
from transom_dialect_postgres.introspect import base_type, map_pg_type, parse_default

from transom.config import Config
from transom.errors import StartupError
from transom.testing.databases import fresh_database, in_ci, unavailable_reason
from transom.testing.dialect_suite import make_engine


def _sql(expr: Any) -> str:
    return str(expr.compile(dialect=postgresql.dialect(),
                            compile_kwargs={"literal_binds": True}))


def test_registration() -> None:
    assert register_dialects() == [PostgresDialect]
    names = {ep.name: ep.value for ep in entry_points(group="transom.plugins")}
    assert names.get("dialect_postgres") == "transom_dialect_postgres"
    d = PostgresDialect
    assert set(d.db_clients) == {"pg", "postgres", "postgresql"}
    assert set(d.url_schemes) == {"postgresql", "postgres"}
    assert (d.name, d.vendor, d.default_driver, d.default_port) == (
        "postgresql", "postgres", "postgresql+psycopg", 5432)


def test_url_from_config() -> None:
    url = PostgresDialect().url_from_config(Config({
        "DB_CLIENT": "pg", "DB_HOST": "db.local", "DB_PORT": 6543, "DB_DATABASE": "cms",
        "DB_USER": "me", "DB_PASSWORD": "p@ss"}))
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.username, url.password) == (
        "db.local", 6543, "cms", "me", "p@ss")
    default_port = PostgresDialect().url_from_config(Config({"DB_DATABASE": "cms"}))
    assert default_port.port == 5432 and default_port.host == "127.0.0.1"
    with pytest.raises(StartupError):
        PostgresDialect().url_from_config(Config({"DB_CLIENT": "pg"}))
    conn_string = PostgresDialect().url_from_config(
        Config({"DB_CONNECTION_STRING": "postgres://u@h:1/d"}))
    assert conn_string.drivername == "postgresql+psycopg" and conn_string.database == "d"


def test_normalize_url() -> None:
    d = PostgresDialect()
    assert d.normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert d.normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert d.normalize_url("postgresql+psycopg2://u@h/db").drivername == "postgresql+psycopg2"


def test_search_path() -> None:
    assert PostgresDialect().search_path() == []
    assert PostgresDialect(Config({"DB_SCHEMA": "cms"})).search_path() == ["cms", "public"]
    assert PostgresDialect(Config({"DB_SCHEMA": "public"})).search_path() == ["public"]


@pytest.mark.parametrize(("data_type", "expected"), [
    ("integer", "integer"), ("smallint", "integer"), ("bigint", "bigInteger"),
    ("real", "float"), ("double precision", "float"), ("numeric(10,5)", "decimal"),
    ("character varying(255)", "string"), ("character(36)", "string"), ("text", "text"),
    ("boolean", "boolean"), ("date", "date"), ("timestamp without time zone", "dateTime"),
    ("timestamp(3) with time zone", "timestamp"), ("time without time zone", "time"),
    ("json", "json"), ("jsonb", "json"), ("uuid", "uuid"), ("bytea", "binary"),
    ("integer[]", "unknown"), ("interval", "unknown"), ("geometry(Point,4326)", "geometry"),
])
def test_map_type(data_type: str, expected: str) -> None:
    assert PostgresDialect().map_type(data_type) == expected
    assert map_pg_type(data_type) == expected


def test_base_type() -> None:
    assert base_type("timestamp(6) with time zone") == "timestamp with time zone"
    assert base_type("character varying(20)") == "character varying"


@pytest.mark.parametrize(("raw", "type_", "expected"), [
    (None, "string", None),
    ("'draft'::character varying", "string", "draft"),
    ("'it''s'::text", "text", "it's"),
    ("0", "integer", 0),
    ("'-1'::integer", "integer", -1),
    ("1.50", "decimal", 1.5),
    ("true", "boolean", True),
    ("false", "boolean", False),
    ("now()", "timestamp", "CURRENT_TIMESTAMP"),
    ("CURRENT_TIMESTAMP", "timestamp", "CURRENT_TIMESTAMP"),
    ("CURRENT_DATE", "date", "CURRENT_DATE"),
    ("NULL::character varying", "string", None),
    ("nextval('articles_id_seq'::regclass)", "integer", "nextval('articles_id_seq'::regclass)"),
    ("gen_random_uuid()", "uuid", "gen_random_uuid()"),
    ("'{}'::jsonb", "json", "{}"),
    ("('a'::text || 'b'::text)", "text", "('a'::text || 'b'::text)"),
])
def test_parse_default(raw: str | None, type_: str, expected: Any) -> None:
    assert parse_default(raw, type_) == expected


def test_column_types() -> None:
    d = PostgresDialect()
    ddl = {t: d.column_type(t).compile(dialect=postgresql.dialect())
           for t in ("uuid", "json", "float", "timestamp", "dateTime", "boolean")}
    assert ddl == {"uuid": "UUID", "json": "JSON", "float": "REAL",
                   "timestamp": "TIMESTAMP WITH TIME ZONE",
                   "dateTime": "TIMESTAMP WITHOUT TIME ZONE", "boolean": "BOOLEAN"}


def test_expressions_compile() -> None:
    d = PostgresDialect()
    col = sa.column("v")
    assert _sql(d.date_part("weekday", col)) == "CAST(EXTRACT(dow FROM v) AS INTEGER)"
    assert _sql(d.date_part("week", col)) == "CAST(EXTRACT(week FROM v) AS INTEGER)"
    assert _sql(d.date_part("second", col)) == \
        "CAST(floor(EXTRACT(second FROM v)) AS INTEGER)"
    assert _sql(d.json_extract(col, ["a", 0])) == \
        "jsonb_extract_path_text(CAST(v AS JSONB), 'a', '0')"
    assert "jsonb_array_length(CAST(v AS JSONB))" in _sql(d.json_array_length(col))
    assert _sql(d.ilike(col, "a_")) == "v ILIKE 'a_' ESCAPE '\\'"
    assert _sql(d.like(col, "a_")) == "v LIKE 'a_' ESCAPE '\\'"


class FakePgError(Exception):
    def __init__(self, sqlstate: str, message: str, **diag: Any) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        fields = {"message_primary": message, "table_name": None, "column_name": None,
                  "constraint_name": None, "message_detail": None}
        fields.update(diag)
        self.diag = SimpleNamespace(sqlstate=sqlstate, **fields)


def _classify(err: Exception):
    return PostgresDialect().classify_error(sa.exc.IntegrityError("INSERT ...", {}, err))


def test_classify_unique() -> None:
    info = _classify(FakePgError(
        "23505", 'duplicate key value violates unique constraint "people_email_key"',
        table_name="people", constraint_name="people_email_key",
        message_detail="Key (email)=(a@x.io) already exists."))
    assert (info.kind, info.table, info.column, info.value, info.constraint) == (
        "unique", "people", "email", "a@x.io", "people_email_key")
    multi = _classify(FakePgError("23505", "dup", message_detail="Key (a, b)=(1, 2) "
                                  "already exists.", constraint_name="ab_key"))
    assert multi.column is None and multi.constraint == "ab_key"


def test_classify_other_kinds() -> None:
    nn = _classify(FakePgError("23502", 'null value in column "name" of relation "people" '
                               "violates not-null constraint", table_name="people",
                               column_name="name"))
    assert (nn.kind, nn.column, nn.table) == ("not_null", "name", "people")
    fk = _classify(FakePgError("23503", "insert or update violates foreign key constraint",
                               table_name="people", constraint_name="people_owner_fkey",
                               message_detail='Key (owner)=(99) is not present in table '
                                              '"owners".'))
    assert (fk.kind, fk.column, fk.value) == ("foreign_key", "owner", "99")
    assert _classify(FakePgError("22001", "value too long for type character varying(10)")
                     ).kind == "too_long"
    assert _classify(FakePgError("22003", "integer out of range")).kind == "out_of_range"
    bad = _classify(FakePgError("22P02", 'invalid input syntax for type integer: "abc"'))
    assert (bad.kind, bad.value) == ("invalid_value", "abc")
    nulls = _classify(FakePgError("23502", 'column "x" of relation "t" contains null values',
                                  column_name="x"))
    assert nulls.kind == "contains_null"
    assert _classify(FakePgError("42P01", 'relation "x" does not exist')).kind == \
        "undefined_table"
    assert _classify(FakePgError("42703", 'column "y" does not exist')).kind == \
        "undefined_column"
    assert _classify(FakePgError("42601", "syntax error at or near")) is None
    assert PostgresDialect().classify_error(ValueError("nothing")) is None


# -- live ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pg_url() -> Iterator[sa.URL]:
    reason = unavailable_reason("postgres")
    if reason and not in_ci():
        pytest.skip(reason)
    with fresh_database("postgres") as url:
        yield url


def test_session_is_utc_with_schema_search_path(pg_url: sa.URL) -> None:
    d = PostgresDialect(Config({"DB_SCHEMA": "cms"}))
    engine = make_engine(d, pg_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS cms")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW TIME ZONE").scalar_one() == "UTC"
            assert conn.exec_driver_sql("SHOW search_path").scalar_one() == "cms, public"
            conn.exec_driver_sql("CREATE TABLE in_cms (id int primary key, at timestamptz)")
            conn.exec_driver_sql("INSERT INTO in_cms VALUES (1, '2024-03-10 23:30:00-05')")
            conn.commit()
            raw = d.introspect(conn, "cms")
            assert "in_cms" in raw.tables and raw.tables["in_cms"].schema == "cms"
            t = sa.table("in_cms", sa.column("at"))  # untyped, as the query engine has it
            parts = conn.execute(sa.select(d.date_part("day", t.c.at),
                                           d.date_part("hour", t.c.at))).one()
            assert tuple(parts) == (11, 4)
            at = conn.execute(sa.select(t.c.at)).scalar_one()
            assert at == dt.datetime(2024, 3, 11, 4, 30, tzinfo=dt.UTC)
        with engine.connect() as conn:
            default = d.introspect(conn)
            assert default.schema_name == "cms" and "in_cms" in default.tables
            assert default.tables["in_cms"].schema is None
    finally:
        engine.dispose()


def test_introspection_catalogue_details(pg_url: sa.URL) -> None:
    d = PostgresDialect()
    engine = make_engine(d, pg_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE DOMAIN short_text AS varchar(12)")
            conn.exec_driver_sql(
                "CREATE TABLE details (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                " g int GENERATED ALWAYS AS (id * 2) STORED, dom short_text, tags int[],"
                " doc jsonb DEFAULT '{}'::jsonb)")
            conn.exec_driver_sql("COMMENT ON TABLE details IS 'about'")
            conn.exec_driver_sql("COMMENT ON COLUMN details.dom IS 'a domain'")
            conn.exec_driver_sql("CREATE MATERIALIZED VIEW details_mv AS SELECT id FROM details")
            conn.exec_driver_sql(
                "CREATE TABLE pairs (a int, b int, d int REFERENCES details ON DELETE CASCADE,"
                " PRIMARY KEY (a, b))")
        with engine.connect() as conn:
            raw = d.introspect(conn)
        t = raw.tables["details"]
        assert t.comment == "about" and t.column("id").has_auto_increment
        assert t.column("g").is_generated and t.column("g").generation_expression == "(id * 2)"
        dom = t.column("dom")
        assert (dom.type, dom.max_length, dom.comment) == ("string", 12, "a domain")
        assert t.column("tags").type == "unknown" and t.column("doc").default == "{}"
        assert raw.tables["details_mv"].is_view
        pairs = raw.tables["pairs"]
        assert pairs.column("a").is_primary_key and pairs.column("b").is_primary_key
        (fk,) = pairs.foreign_keys
        assert (fk.column, fk.foreign_table, fk.foreign_column, fk.on_delete) == (
            "d", "details", "id", "CASCADE")
    finally:
        engine.dispose()


def test_targeted_reads_and_fingerprint_of_a_schema(pg_url: sa.URL) -> None:
    d = PostgresDialect()
    engine = make_engine(d, pg_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE SCHEMA fp")
            conn.exec_driver_sql(
                "CREATE TABLE fp.owner (id serial PRIMARY KEY, email text UNIQUE,"
                " at timestamptz DEFAULT now())")
            conn.exec_driver_sql(
                "CREATE TABLE fp.thing (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
                " owner int REFERENCES fp.owner ON DELETE CASCADE, label varchar(30))")
            conn.exec_driver_sql("CREATE INDEX thing_label ON fp.thing (label)")
            conn.exec_driver_sql("COMMENT ON COLUMN fp.thing.label IS 'shown'")
            conn.exec_driver_sql("CREATE MATERIALIZED VIEW fp.labels AS SELECT label FROM fp.thing")
        with engine.connect() as conn:
            full = d.introspect(conn, "fp")
            assert set(full.tables) == {"owner", "thing", "labels"}
            for name in full.tables:
                raw = d.introspect(conn, "fp", only=[name, "details"])  # details: public
                assert raw.tables == {name: full.tables[name]} and raw.schema_name == "fp"
            fp, public = d.catalogue_fingerprint(conn, "fp"), d.catalogue_fingerprint(conn)
            assert fp != public and fp == d.catalogue_fingerprint(conn, "fp")
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE public.elsewhere (id int)")
            conn.exec_driver_sql("INSERT INTO fp.owner (email) VALUES ('a@b.c')")
            conn.exec_driver_sql("ANALYZE fp.owner")
        with engine.connect() as conn:
            assert d.catalogue_fingerprint(conn, "fp") == fp  # other schema, rows, statistics
            assert d.catalogue_fingerprint(conn) != public
        steps = ["COMMENT ON COLUMN fp.thing.label IS 'changed'",
                 "ALTER TABLE fp.owner ALTER COLUMN at SET DEFAULT '2024-01-01'",
                 "ALTER TABLE fp.owner ALTER COLUMN at SET DEFAULT '2025-01-01'",
                 "ALTER TABLE fp.owner ALTER COLUMN at DROP DEFAULT",
                 "DROP MATERIALIZED VIEW fp.labels",
                 "ALTER TABLE fp.thing ALTER COLUMN label TYPE varchar(40)",
                 "ALTER TABLE fp.thing DROP CONSTRAINT thing_owner_fkey",
                 "ALTER TABLE fp.thing ADD FOREIGN KEY (owner) REFERENCES fp.owner",
                 "ALTER TABLE fp.thing ADD UNIQUE (label)",
                 "DROP INDEX fp.thing_label",
                 "ALTER INDEX fp.thing_label_key RENAME TO thing_label_unique",
                 "ALTER TABLE fp.thing ALTER COLUMN label SET NOT NULL",
                 "ALTER TABLE fp.owner RENAME COLUMN email TO mail",
                 "ALTER TABLE fp.owner DROP COLUMN mail"]
        for sql in steps:
            with engine.begin() as conn:
                conn.exec_driver_sql(sql)
            with engine.connect() as conn:
                now = d.catalogue_fingerprint(conn, "fp")
            assert now != fp, sql
            fp = now
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS fp CASCADE")
            conn.exec_driver_sql("DROP TABLE IF EXISTS public.elsewhere")
        engine.dispose()
