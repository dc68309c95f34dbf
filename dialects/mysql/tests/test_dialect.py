"""MySQL/MariaDB dialect unit tests: configuration, types, SQL and error classification.

The last tests need the local server and skip without it (unless CI=true).
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Any

import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from transom_dialect_mysql import MySQLDialect, register_dialects
from transom_dialect_mysql.dialect import out_of_range_message
from transom_dialect_mysql.introspect import map_mysql_type, parse_default

from transom.config import Config
from transom.testing.databases import fresh_database, in_ci, unavailable_reason
from transom.testing.dialect_suite import make_engine


def _sql(expr: Any) -> str:
    return str(expr.compile(dialect=mysql.dialect(), compile_kwargs={"literal_binds": True}))


def test_registration() -> None:
    assert register_dialects() == [MySQLDialect]
    names = {ep.name: ep.value for ep in entry_points(group="transom.plugins")}
    assert names.get("dialect_mysql") == "transom_dialect_mysql"
    d = MySQLDialect
    assert set(d.db_clients) == {"mysql", "mariadb", "mysql2"}
    assert set(d.url_schemes) == {"mysql", "mariadb"}
    assert (d.name, d.vendor, d.default_driver, d.default_port) == (
        "mysql", "mysql", "mysql+pymysql", 3306)


def test_url_from_config() -> None:
    url = MySQLDialect().url_from_config(Config({
        "DB_CLIENT": "mysql", "DB_HOST": "db", "DB_DATABASE": "cms", "DB_USER": "root"}))
    assert url.drivername == "mysql+pymysql" and url.port == 3306
    assert (url.host, url.database, url.username) == ("db", "cms", "root")
    assert url.query["charset"] == "utf8mb4"


def test_normalize_url() -> None:
    d = MySQLDialect()
    u = d.normalize_url("mysql://root@h/db")
    assert u.drivername == "mysql+pymysql" and u.query["charset"] == "utf8mb4"
    assert d.normalize_url("mariadb://root@h/db").drivername == "mariadb+pymysql"
    assert d.normalize_url("mysql+pymysql://h/db?charset=latin1").query["charset"] == "latin1"


@pytest.mark.parametrize(("column_type", "expected"), [
    ("tinyint(1)", "boolean"), ("tinyint(4)", "integer"), ("tinyint", "integer"),
    ("int(11)", "integer"), ("int unsigned", "integer"), ("bigint(20) unsigned", "bigInteger"),
    ("float", "float"), ("double", "float"), ("decimal(10,5)", "decimal"),
    ("varchar(255)", "string"), ("char(36)", "uuid"), ("text", "text"),
    ("longtext", "text"), ("date", "date"), ("datetime", "dateTime"),
    ("timestamp", "timestamp"), ("time", "time"), ("json", "json"), ("blob", "binary"),
    ("varbinary(16)", "binary"), ("enum('a','b')", "string"), ("bit(1)", "boolean"),
    ("bit(8)", "unknown"), ("point", "geometry"), ("uuid", "uuid"), ("year", "integer"),
])
def test_map_type(column_type: str, expected: str) -> None:
    assert MySQLDialect().map_type(column_type) == expected
    assert map_mysql_type(column_type) == expected


@pytest.mark.parametrize(("raw", "type_", "extra", "mariadb", "expected"), [
    (None, "string", "", True, None),
    ("NULL", "string", "", True, None),
    ("'draft'", "string", "", True, "draft"),
    ("'it''s'", "string", "", True, "it's"),
    ("0", "integer", "", True, 0),
    ("1", "boolean", "", True, True),
    ("1.50", "decimal", "", True, 1.5),
    ("current_timestamp()", "timestamp", "", True, "CURRENT_TIMESTAMP"),
    ("uuid()", "string", "", True, "uuid()"),
    ("draft", "string", "", False, "draft"),
    ("NULL", "string", "", False, "NULL"),
    ("0", "boolean", "", False, False),
    ("-3", "integer", "", False, -3),
    ("CURRENT_TIMESTAMP", "timestamp", "DEFAULT_GENERATED", False, "CURRENT_TIMESTAMP"),
    ("(uuid())", "string", "DEFAULT_GENERATED", False, "(uuid())"),
])
def test_parse_default(raw: str | None, type_: str, extra: str, mariadb: bool,
                       expected: Any) -> None:
    assert parse_default(raw, type_, extra, mariadb) == expected


def test_column_types() -> None:
    d = MySQLDialect()
    ddl = {t: d.column_type(t).compile(dialect=mysql.dialect())
           for t in ("uuid", "json", "timestamp", "dateTime", "boolean", "string")}
    assert ddl == {"uuid": "CHAR(36)", "json": "JSON", "timestamp": "DATETIME(3)",
                   "dateTime": "DATETIME", "boolean": "BOOL", "string": "VARCHAR(255)"}


@pytest.mark.parametrize(("column_type", "expected"), [
    ("datetime(3)", "timestamp"), ("datetime", "dateTime"), ("datetime(6)", "dateTime"),
    ("timestamp", "timestamp"), ("timestamp(3)", "timestamp"),
])
def test_datetime_types_map(column_type: str, expected: str) -> None:
    assert map_mysql_type(column_type) == expected


def test_out_of_range_datetimes_name_the_range() -> None:
    exc = pymysql.err.DataError(1292, "Incorrect datetime value: '2099-01-01 00:00:00' for "
                                      "column `db`.`events`.`at` at row 1")
    info = MySQLDialect().classify_error(exc)
    assert info is not None and info.kind == "invalid_value" and info.column == "at"
    assert "1970-01-01T00:00:01Z to 2038-01-19T03:14:07Z" in (info.message or "")
    assert "1000-01-01T00:00:00Z" in out_of_range_message("at", "2020-01-01 00:00:00")
    other = pymysql.err.DataError(1292, "Incorrect datetime value: 'abc' for column "
                                        "`db`.`events`.`at` at row 1")
    info = MySQLDialect().classify_error(other)
    assert info is not None and info.kind == "invalid_value" and info.column == "at"


def test_expressions_compile() -> None:
    d = MySQLDialect()
    col = sa.column("v")
    assert _sql(d.date_part("weekday", col)) == "dayofweek(v) - 1"
    assert _sql(d.date_part("week", col)) == "week(v, 3)"
    assert _sql(d.date_part("day", col)) == "dayofmonth(v)"
    extract = _sql(d.json_extract(col, ["a b", 0]))
    assert "json_extract(v, '$.\"a b\"[0]')" in extract and "json_unquote" in extract
    assert _sql(d.json_array_length(col)) == \
        "CASE WHEN (json_type(v) = 'ARRAY') THEN json_length(v) END"
    assert _sql(d.like(col, "a_")) == "v LIKE ('a_' COLLATE utf8mb4_bin) ESCAPE '\\\\'"
    assert _sql(d.ilike(col, "A_")) == "lower(v) LIKE 'a_' ESCAPE '\\\\'"


def _classify(errno: int, message: str, cls: type[Exception] = pymysql.err.IntegrityError):
    return MySQLDialect().classify_error(
        sa.exc.IntegrityError("INSERT ...", {}, cls(errno, message)))


def test_classify_unique() -> None:
    maria = _classify(1062, "Duplicate entry 'a@x.io' for key 'email'")
    assert (maria.kind, maria.value, maria.constraint, maria.column) == (
        "unique", "a@x.io", "email", None)
    mysql8 = _classify(1062, "Duplicate entry 'x' for key 'people.people_email_unique'")
    assert mysql8.constraint == "people_email_unique"
    assert _classify(1062, "Duplicate entry '1' for key 'PRIMARY'").constraint == "PRIMARY"


def test_classify_other_kinds() -> None:
    nn = _classify(1048, "Column 'name' cannot be null")
    assert (nn.kind, nn.column) == ("not_null", "name")
    nd = _classify(1364, "Field 'name' doesn't have a default value")
    assert (nd.kind, nd.column) == ("not_null", "name")
    fk = _classify(1452, "Cannot add or update a child row: a foreign key constraint fails "
                         "(`db`.`people`, CONSTRAINT `people_owner_foreign` FOREIGN KEY "
                         "(`owner`) REFERENCES `owners` (`id`))")
    assert (fk.kind, fk.table, fk.column, fk.constraint) == (
        "foreign_key", "people", "owner", "people_owner_foreign")
    parent = _classify(1451, "Cannot delete or update a parent row: a foreign key constraint "
                             "fails (`db`.`people`, CONSTRAINT `c` FOREIGN KEY (`owner`) "
                             "REFERENCES `owners` (`id`))")
    assert (parent.kind, parent.column, parent.constraint) == ("foreign_key", None, "c")
    long = _classify(1406, "Data too long for column 'name' at row 1", pymysql.err.DataError)
    assert (long.kind, long.column) == ("too_long", "name")
    big = _classify(1264, "Out of range value for column 'age' at row 1")
    assert (big.kind, big.column) == ("out_of_range", "age")
    bad = _classify(1366, "Incorrect integer value: 'abc' for column `db`.`people`.`age` at "
                          "row 1")
    assert (bad.kind, bad.table, bad.column, bad.value) == (
        "invalid_value", "people", "age", "abc")
    bad8 = _classify(1366, "Incorrect integer value: 'abc' for column 'age' at row 1")
    assert (bad8.column, bad8.value) == ("age", "abc")
    assert _classify(1138, "Invalid use of NULL value").kind == "contains_null"
    assert _classify(1146, "Table 'db.x' doesn't exist").kind == "undefined_table"
    assert _classify(1054, "Unknown column 'y' in 'field list'").kind == "undefined_column"
    assert _classify(1064, "You have an error in your SQL syntax") is None
    assert MySQLDialect().classify_error(ValueError("x")) is None


# -- live ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def engine() -> Iterator[sa.Engine]:
    reason = unavailable_reason("mysql")
    if reason and not in_ci():
        pytest.skip(reason)
    with fresh_database("mysql") as url:
        eng = make_engine(MySQLDialect(), url)
        yield eng
        eng.dispose()


def test_session_is_strict_utc_utf8mb4(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert "STRICT_ALL_TABLES" in conn.exec_driver_sql("SELECT @@SESSION.sql_mode").scalar()
        assert conn.exec_driver_sql("SELECT @@SESSION.time_zone").scalar() == "+00:00"
        assert conn.exec_driver_sql("SELECT @@character_set_client").scalar() == "utf8mb4"


def test_introspection_details(engine: sa.Engine) -> None:
    d = MySQLDialect()
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE details (id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,"
            " s VARCHAR(20) DEFAULT 'it''s' COMMENT 'a comment', b TINYINT(1) DEFAULT 1,"
            " doc JSON, at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,"
            " g INT GENERATED ALWAYS AS (id * 2) VIRTUAL, code CHAR(36),"
            " UNIQUE KEY details_code_unique (code)) COMMENT 'about'")
    with engine.connect() as conn:
        raw = d.introspect(conn, exclude=("nothing",))
    t = raw.tables["details"]
    assert t.comment == "about" and raw.vendor == "mysql"
    assert t.column("id").has_auto_increment and t.column("id").is_primary_key
    s = t.column("s")
    assert (s.default, s.comment, s.max_length) == ("it's", "a comment", 20)
    assert t.column("b").type == "boolean" and t.column("b").default is True
    assert t.column("doc").type == "json"  # LONGTEXT + json_valid() on MariaDB
    assert t.column("at").default == "CURRENT_TIMESTAMP"
    assert t.column("g").is_generated and t.column("g").default is None
    code = t.column("code")
    assert code.type == "uuid" and code.is_unique and code.is_indexed  # char(36)


def test_targeted_reads_and_fingerprint(engine: sa.Engine) -> None:
    d = MySQLDialect()
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE fp_owner (id INT AUTO_INCREMENT PRIMARY KEY, doc JSON,"
            " email VARCHAR(50) UNIQUE, at DATETIME DEFAULT CURRENT_TIMESTAMP) COMMENT 'o'")
        conn.exec_driver_sql(
            "CREATE TABLE fp_thing (id INT PRIMARY KEY, owner INT, label VARCHAR(30),"
            " CONSTRAINT fp_thing_owner FOREIGN KEY (owner) REFERENCES fp_owner (id)"
            " ON DELETE CASCADE)")
        conn.exec_driver_sql("CREATE VIEW fp_labels AS SELECT label FROM fp_thing")
    try:
        with engine.connect() as conn:
            full = d.introspect(conn)
            for name in ("fp_owner", "fp_thing", "fp_labels"):
                raw = d.introspect(conn, only=[name, "FP_OWNER" if name != "fp_owner" else ""])
                assert raw.tables == {name: full.tables[name]}, name
                assert (raw.vendor, raw.schema_name) == (full.vendor, full.schema_name)
            assert full.tables["fp_owner"].column("doc").type == "json"
            fp = d.catalogue_fingerprint(conn)
            assert fp == d.catalogue_fingerprint(conn, full.schema_name)
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO fp_owner (email) VALUES ('a@b.c')")
            conn.exec_driver_sql("ANALYZE TABLE fp_owner")
        with engine.connect() as conn:
            assert d.catalogue_fingerprint(conn) == fp  # rows and statistics are not schema
        steps = ["ALTER TABLE fp_owner COMMENT 'owners'",
                 "ALTER TABLE fp_owner ALTER COLUMN at SET DEFAULT '2024-01-01 00:00:00'",
                 "ALTER TABLE fp_owner ALTER COLUMN at SET DEFAULT '2025-01-01 00:00:00'",
                 "ALTER TABLE fp_owner ALTER COLUMN at DROP DEFAULT",
                 "ALTER TABLE fp_thing MODIFY label VARCHAR(40)",
                 "ALTER TABLE fp_thing DROP FOREIGN KEY fp_thing_owner",
                 "ALTER TABLE fp_thing ADD CONSTRAINT fp_thing_owner FOREIGN KEY (owner)"
                 " REFERENCES fp_owner (id)",
                 "ALTER TABLE fp_thing RENAME INDEX fp_thing_owner TO fp_thing_owner_idx",
                 "ALTER TABLE fp_thing ADD UNIQUE KEY fp_thing_label (label)",
                 "CREATE OR REPLACE VIEW fp_labels AS SELECT label, id FROM fp_thing",
                 "ALTER TABLE fp_owner DROP COLUMN at"]
        if getattr(engine.dialect, "is_mariadb", False):
            # JSON is LONGTEXT plus a json_valid() check there: dropping the check alone
            # leaves COLUMNS as it was
            steps.append("ALTER TABLE fp_owner MODIFY doc LONGTEXT")
        for sql in steps:
            with engine.begin() as conn:
                conn.exec_driver_sql(sql)
            with engine.connect() as conn:
                now = d.catalogue_fingerprint(conn)
            assert now != fp, sql
            fp = now
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP VIEW IF EXISTS fp_labels")
            conn.exec_driver_sql("DROP TABLE IF EXISTS fp_thing, fp_owner")
