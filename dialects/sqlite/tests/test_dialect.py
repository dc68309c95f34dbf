"""SQLite dialect unit tests: configuration, types, expressions and error classification."""

from __future__ import annotations

import decimal
import sqlite3
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.pool import QueuePool, StaticPool
from transom_dialect_sqlite import SQLiteDialect, register_dialects
from transom_dialect_sqlite.decimals import decimal_key
from transom_dialect_sqlite.dialect import BEGIN_MODE_OPTION, json_path, like_to_glob
from transom_dialect_sqlite.introspect import map_sqlite_type, parse_default, split_declared

from transom.config import Config
from transom.testing.dialect_suite import make_engine


@pytest.fixture
def engine(tmp_path: Path):
    eng = make_engine(SQLiteDialect(), f"sqlite:///{tmp_path / 'u.db'}")
    yield eng
    eng.dispose()


def test_registration() -> None:
    assert register_dialects() == [SQLiteDialect]
    names = {ep.name: ep.value for ep in entry_points(group="transom.plugins")}
    assert names.get("dialect_sqlite") == "transom_dialect_sqlite"
    d = SQLiteDialect
    assert set(d.db_clients) == {"sqlite3", "sqlite"} and d.url_schemes == ("sqlite",)
    assert (d.name, d.vendor, d.default_driver) == ("sqlite", "sqlite", "sqlite+pysqlite")


def test_url_from_db_filename_creates_folder(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "deeper" / "data.db"
    url = SQLiteDialect().url_from_config(Config({"DB_FILENAME": str(target)}))
    assert url.drivername == "sqlite+pysqlite" and url.database == str(target)
    assert target.parent.is_dir()
    memory = SQLiteDialect().url_from_config(Config({"DB_FILENAME": ":memory:"}))
    assert memory.database == ":memory:"


def test_normalize_url() -> None:
    assert SQLiteDialect().normalize_url("sqlite:///x.db").drivername == "sqlite+pysqlite"
    assert SQLiteDialect().normalize_url("sqlite+pysqlite:///x.db").database == "x.db"


def test_pools(tmp_path: Path) -> None:
    d = SQLiteDialect()
    mem = d.create_engine(sa.make_url("sqlite://"), Config({}))
    assert isinstance(mem.pool, StaticPool)
    filed = d.create_engine(sa.make_url(f"sqlite:///{tmp_path / 'a' / 'b.db'}"), Config({}))
    assert isinstance(filed.pool, QueuePool) and (tmp_path / "a").is_dir()
    mem.dispose()
    filed.dispose()


def test_memory_database_is_shared_and_transactional() -> None:
    eng = make_engine(SQLiteDialect(), "sqlite:///:memory:")
    with eng.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    with eng.connect() as conn:
        with conn.begin():
            conn.exec_driver_sql("INSERT INTO t (id) VALUES (1)")
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 1
    eng.dispose()


def test_on_connect_pragmas(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 5000
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -16 * 1024


def test_cache_size_setting_and_lifo_pool(tmp_path: Path) -> None:
    """DB_SQLITE_CACHE_MB sizes each connection's page cache (0 keeps SQLite's 2 MiB); the
    pool hands out the connection used last, the one whose cache is warm."""
    for value, expected in (("64", -64 * 1024), ("0.5", -512), ("0", -2000)):
        dialect = SQLiteDialect()
        eng = make_engine(dialect, f"sqlite:///{tmp_path / 'c.db'}",
                          Config({"DB_SQLITE_CACHE_MB": value}))
        with eng.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == expected
        eng.dispose()
    eng = make_engine(SQLiteDialect(), f"sqlite:///{tmp_path / 'l.db'}")
    a, b = eng.connect(), eng.connect()
    first, second = a.connection.dbapi_connection, b.connection.dbapi_connection
    a.close()
    b.close()
    for _ in range(3):  # b went back last, and comes out every time
        with eng.connect() as again:
            assert again.connection.dbapi_connection is second is not first
    eng.dispose()


def test_begin_modes(engine: sa.Engine) -> None:
    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda _c, _cur, statement, *_a: seen.append(statement))
    with engine.connect() as conn:
        with conn.begin():
            conn.exec_driver_sql("SELECT 1")
    with engine.connect().execution_options(**{BEGIN_MODE_OPTION: "immediate"}) as conn:
        with conn.begin():
            conn.exec_driver_sql("SELECT 1")
    assert [s for s in seen if s.startswith("BEGIN")] == ["BEGIN", "BEGIN IMMEDIATE"]


def test_autocommit_connections_get_no_begin(engine: sa.Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("CREATE TABLE a (id INTEGER PRIMARY KEY)")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM a").scalar_one() == 0


@pytest.mark.parametrize(("declared", "expected"), [
    ("INTEGER", "integer"), ("int", "integer"), ("BIGINT", "bigInteger"),
    ("FLOAT", "float"), ("REAL", "float"), ("NUMERIC(10, 5)", "decimal"),
    ("DECIMAL", "decimal"), ("VARCHAR(255)", "string"), ("CHAR(36)", "string"),
    ("TEXT", "text"), ("BOOLEAN", "boolean"), ("DATE", "date"), ("DATETIME", "dateTime"),
    ("TIMESTAMP", "timestamp"), ("TIME", "time"), ("JSON", "json"), ("BLOB", "binary"),
    ("UUID", "uuid"), ("", "unknown"), ("UNSIGNED BIG INT", "bigInteger"),
    ("MEDIUMINT", "integer"), ("NATIVE CHARACTER(70)", "string"), ("CLOB", "text"),
    ("GEOMETRY", "unknown"),
])
def test_map_type(declared: str, expected: str) -> None:
    assert map_sqlite_type(declared) == expected
    assert SQLiteDialect().map_type(declared) == expected


def test_split_declared() -> None:
    assert split_declared("NUMERIC(10, 5)") == ("numeric", 10, 5)
    assert split_declared("varchar(255)") == ("varchar", 255, None)
    assert split_declared(None) == ("", None, None)


@pytest.mark.parametrize(("raw", "type_", "expected"), [
    (None, "string", None), ("NULL", "string", None), ("'draft'", "string", "draft"),
    ("'it''s'", "string", "it's"), ("0", "integer", 0), ("1.5", "float", 1.5),
    ("1", "boolean", True), ("'0'", "boolean", False), ("TRUE", "boolean", True),
    ("CURRENT_TIMESTAMP", "timestamp", "CURRENT_TIMESTAMP"), ("(42)", "integer", 42),
    ("(datetime('now'))", "dateTime", "datetime('now')"), ("(1) + (2)", "integer", "(1) + (2)"),
])
def test_parse_default(raw: str | None, type_: str, expected: object) -> None:
    assert parse_default(raw, type_) == expected


def test_like_to_glob() -> None:
    assert like_to_glob("%abc%") == "*abc*"
    assert like_to_glob("a_c") == "a?c"
    assert like_to_glob("50\\%%") == "50%*"
    assert like_to_glob("a\\_b") == "a_b"
    assert like_to_glob("[x]*?") == "[[]x][*][?]"
    assert like_to_glob("\\\\") == "\\"


def test_json_path() -> None:
    assert json_path(["a", 0, "b c"]) == '$."a"[0]."b c"'
    assert json_path([]) == "$"


def _classify(message: str, cls: type[Exception] = sqlite3.IntegrityError):
    return SQLiteDialect().classify_error(cls(message))


def test_classify_error_messages() -> None:
    info = _classify("UNIQUE constraint failed: people.email")
    assert (info.kind, info.table, info.column) == ("unique", "people", "email")
    multi = _classify("UNIQUE constraint failed: t.a, t.b")
    assert multi.kind == "unique" and multi.column is None and multi.constraint == "a,b"
    nn = _classify("NOT NULL constraint failed: people.name")
    assert (nn.kind, nn.table, nn.column) == ("not_null", "people", "name")
    assert _classify("FOREIGN KEY constraint failed").kind == "foreign_key"
    assert _classify("datatype mismatch").kind == "invalid_value"
    assert _classify("no such table: x", sqlite3.OperationalError).kind == "undefined_table"
    assert _classify("no such column: y", sqlite3.OperationalError).kind == "undefined_column"
    assert _classify('near "FROM": syntax error', sqlite3.OperationalError) is None
    assert SQLiteDialect().classify_error(OverflowError("int too big")).kind == "out_of_range"


def test_classify_wrapped_error(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE p (id INTEGER PRIMARY KEY, email TEXT UNIQUE)")
        conn.exec_driver_sql("INSERT INTO p (email) VALUES ('a')")
    with pytest.raises(sa.exc.IntegrityError) as caught, engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO p (email) VALUES ('a')")
    info = SQLiteDialect().classify_error(caught.value)
    assert (info.kind, info.table, info.column) == ("unique", "p", "email")


def test_date_parts_of_epoch_ms_and_iso_text(engine: sa.Engine) -> None:
    d = SQLiteDialect()
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE d (id INTEGER PRIMARY KEY, v DATETIME)")
        conn.exec_driver_sql(
            "INSERT INTO d (id, v) VALUES (1, 1710079509000), (2, '2024-03-10T14:05:09.000Z'),"
            " (3, '2024-03-10 14:05:09'), (4, '2024-03-10T16:05:09+02:00'), (5, NULL),"
            " (6, 1710079509000.0)")
    t = sa.table("d", sa.column("id"), sa.column("v", sa.DateTime))
    with engine.connect() as conn:
        for part, want in [("year", 2024), ("month", 3), ("day", 10), ("hour", 14),
                           ("minute", 5), ("second", 9), ("weekday", 0), ("week", 10)]:
            got = conn.execute(sa.select(d.date_part(part, t.c.v)).order_by(t.c.id)).scalars()
            assert list(got) == [want, want, want, want, None, want], part


def test_introspection_details(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE parent (code TEXT PRIMARY KEY)")
        conn.exec_driver_sql("CREATE TABLE alias (id INTEGER PRIMARY KEY, n INT)")
        conn.exec_driver_sql("CREATE TABLE notalias (id INT PRIMARY KEY)")
        conn.exec_driver_sql("CREATE TABLE wr (id INTEGER PRIMARY KEY) WITHOUT ROWID")
        conn.exec_driver_sql(
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent TEXT,"
            " full TEXT GENERATED ALWAYS AS (parent || '!') VIRTUAL,"
            " CONSTRAINT child_parent_foreign FOREIGN KEY (parent) REFERENCES parent"
            " ON DELETE CASCADE)")
        conn.exec_driver_sql("CREATE INDEX child_parent_idx ON child (parent)")
        conn.exec_driver_sql("CREATE VIEW fine AS SELECT id FROM alias")
        conn.exec_driver_sql("ALTER TABLE parent RENAME TO parent2")
        conn.exec_driver_sql("CREATE TABLE gone (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("CREATE VIEW broken AS SELECT * FROM gone")
        conn.exec_driver_sql("DROP TABLE gone")
    with engine.connect() as conn:
        raw = SQLiteDialect().introspect(conn)
    assert raw.vendor == "sqlite"
    assert raw.tables["alias"].column("id").has_auto_increment
    assert not raw.tables["notalias"].column("id").has_auto_increment
    assert not raw.tables["wr"].column("id").has_auto_increment
    code = raw.tables["parent2"].column("code")
    assert code.is_primary_key and code.is_unique and not code.is_indexed
    child = raw.tables["child"]
    assert child.column("full").is_generated
    assert child.column("parent").is_indexed
    (fk,) = child.foreign_keys
    assert (fk.column, fk.foreign_table, fk.foreign_column) == ("parent", "parent2", "code")
    assert fk.constraint_name == "child_parent_foreign" and fk.on_delete == "CASCADE"
    assert raw.tables["fine"].is_view and "broken" not in raw.tables
    assert "sqlite_sequence" not in raw.tables


def test_targeted_introspection_matches_a_full_read(engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE parent (code TEXT PRIMARY KEY, n INT UNIQUE)")
        conn.exec_driver_sql("CREATE TABLE pair (a INT, b INT, PRIMARY KEY (a, b))")
        conn.exec_driver_sql(
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent TEXT REFERENCES parent,"
            " p2 INT REFERENCES pair, pn INT REFERENCES parent (n) ON DELETE SET NULL,"
            " full TEXT GENERATED ALWAYS AS (parent || '!') VIRTUAL)")
        conn.exec_driver_sql("CREATE INDEX child_pn ON child (pn)")
        conn.exec_driver_sql("CREATE TABLE wr (id INTEGER PRIMARY KEY) WITHOUT ROWID")
        conn.exec_driver_sql("CREATE VIEW fine AS SELECT id FROM child")
        conn.exec_driver_sql("CREATE TABLE gone (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("CREATE VIEW broken AS SELECT * FROM gone")
        conn.exec_driver_sql("DROP TABLE gone")
    d = SQLiteDialect()
    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    with engine.connect() as conn:
        full = d.introspect(conn)
        for name in full.tables:
            assert d.introspect(conn, only=[name]).tables == {name: full.tables[name]}, name
        # "REFERENCES parent" names no column: its key is looked up in one more statement,
        # and only when parent itself is not read
        seen.clear()
        child = d.introspect(conn, only=["child"]).tables["child"]
        assert {(fk.column, fk.foreign_column) for fk in child.foreign_keys} == {
            ("parent", "code"), ("pn", "n")}  # pair's key has two columns: no relation
        assert len(seen) == 5 and "pragma_table_info" in seen[-1]
        seen.clear()
        parents = d.introspect(conn, only=["child", "parent", "pair"])
        assert parents.tables["child"] == full.tables["child"] and len(seen) == 4
        # a broken view asked for is absent, as in a full read; the others still come back
        assert set(d.introspect(conn, only=["broken", "fine", "wr"]).tables) == {"fine", "wr"}
        # more names than old SQLite builds bind: a full read, filtered afterwards
        many = ["wr", *(f"missing{i}" for i in range(1000))]
        assert d.introspect(conn, only=many).tables == {"wr": full.tables["wr"]}
        assert d.introspect(conn, only=["sqlite_sequence", "Parent"]).tables == {}


def test_catalogue_fingerprint_is_the_schema_version(engine, tmp_path: Path) -> None:
    d = SQLiteDialect()
    with engine.connect() as conn:
        first = d.catalogue_fingerprint(conn)
        assert first == str(conn.exec_driver_sql("PRAGMA schema_version").scalar_one())
    # a change made outside Transom, by another process's connection
    other = sqlite3.connect(tmp_path / "u.db")
    other.execute("CREATE TABLE outside (id INTEGER PRIMARY KEY)")
    other.commit()
    with engine.connect() as conn:
        second = d.catalogue_fingerprint(conn)
        assert second != first
        conn.exec_driver_sql("INSERT INTO outside (id) VALUES (1)")
        conn.commit()
        assert d.catalogue_fingerprint(conn) == second
    other.execute("DROP TABLE outside")
    other.commit()
    other.close()
    with engine.connect() as conn:
        assert d.catalogue_fingerprint(conn) not in (first, second)


# -- exact decimals (DECIMAL_TEXT) ---------------------------------------------------------
_DECIMALS = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: abs(d.adjusted()) < 1000)


@settings(max_examples=400, deadline=None, database=None)
@given(a=_DECIMALS, b=_DECIMALS)
def test_decimal_key_orders_like_the_numbers(a: decimal.Decimal, b: decimal.Decimal) -> None:
    ka, kb = decimal_key(format(a, "f")), decimal_key(str(b))
    assert (ka < kb) == (a < b) and (ka == kb) == (a == b)


def test_decimal_columns_are_text_and_compare_exactly(engine) -> None:
    assert map_sqlite_type("DECIMAL_TEXT(25, 5)") == "decimal"
    assert split_declared("DECIMAL_TEXT(25, 5)") == ("decimal_text", 25, 5)
    dialect = SQLiteDialect()
    col_type = dialect.column_type("decimal", precision=25, scale=5)
    table = sa.Table("d", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("v", col_type))
    big = decimal.Decimal("12345678901234567890.12345")
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(table.insert(), [{"id": 1, "v": big}, {"id": 2, "v": big + 1},
                                      {"id": 3, "v": decimal.Decimal("-0.00")},
                                      {"id": 4, "v": decimal.Decimal("1E-7")}])
        rows = conn.exec_driver_sql("SELECT v, typeof(v) FROM d ORDER BY id").all()
        assert rows == [(str(big), "text"), (str(big + 1), "text"), ("0.00", "text"),
                        ("0.0000001", "text")]
        key = dialect.decimal_key(table.c.v, "decimal_text")
        assert dialect.decimal_key(table.c.v, "numeric") is None
        bound = dialect.decimal_key(sa.literal(str(big), sa.Text()), "decimal_text")
        ids = conn.execute(sa.select(table.c.id).where(key > bound)).scalars().all()
        assert ids == [2]
        ids = conn.execute(sa.select(table.c.id).order_by(key.desc())).scalars().all()
        assert ids == [2, 1, 4, 3]
