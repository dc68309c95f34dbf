"""Oracle dialect tests. No Oracle server runs in CI: SQL is compiled with SQLAlchemy's
oracle dialect and checked as text, errors are fabricated, and introspection reads canned
data-dictionary rows through a fake connection."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import oracle
from sqlalchemy.schema import CreateTable
from transom_dialect_oracle import OracleDialect, register_dialects
from transom_dialect_oracle.introspect import (
    COLUMNS_SQL,
    CONSTRAINTS_SQL,
    FINGERPRINT_SQL,
    INDEXES_SQL,
    MAX_ONLY,
    ONLY_QUERIES,
    QUERIES,
    TABLES_SQL,
    base_type,
    map_oracle_type,
    parse_default,
)

from transom.config import Config
from transom.errors import StartupError

ORA = oracle.dialect()


def _sql(expr: Any) -> str:
    return " ".join(str(expr.compile(dialect=ORA, compile_kwargs={"literal_binds": True}))
                    .split())


def test_import_does_not_load_the_driver() -> None:
    code = "import sys, transom_dialect_oracle; assert 'oracledb' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_registration() -> None:
    assert register_dialects() == [OracleDialect]
    names = {ep.name: ep.value for ep in entry_points(group="transom.plugins")}
    assert names.get("dialect_oracle") == "transom_dialect_oracle"
    d = OracleDialect
    assert set(d.db_clients) == {"oracledb", "oracle"} and d.url_schemes == ("oracle",)
    assert (d.name, d.vendor, d.default_driver, d.default_port) == (
        "oracle", "oracle", "oracle+oracledb", 1521)
    assert not d.supports_transactional_ddl and not d.supports_alter_column


def test_url_from_config() -> None:
    url = OracleDialect().url_from_config(Config({
        "DB_CLIENT": "oracledb", "DB_HOST": "ora", "DB_DATABASE": "FREEPDB1",
        "DB_USER": "cms", "DB_PASSWORD": "pw"}))
    assert url.drivername == "oracle+oracledb" and (url.host, url.port) == ("ora", 1521)
    assert url.query == {"service_name": "FREEPDB1"} and url.username == "cms"
    dsn = OracleDialect().url_from_config(Config({
        "DB_CONNECT_STRING": "ora:1521/FREEPDB1", "DB_USER": "cms"}))
    assert dsn.host is None and dsn.query == {"dsn": "ora:1521/FREEPDB1"}
    with pytest.raises(StartupError):
        OracleDialect().url_from_config(Config({"DB_HOST": "ora"}))


def test_engine_connect_args() -> None:
    """The driver is pure Python (thin mode): build an engine and check the DSN it gets."""
    d = OracleDialect()
    engine = d.create_engine(d.url_from_config(Config({
        "DB_HOST": "ora", "DB_DATABASE": "FREEPDB1", "DB_USER": "u", "DB_PASSWORD": "p"})),
        Config({}))
    _args, kwargs = engine.dialect.create_connect_args(engine.url)
    assert "FREEPDB1" in str(kwargs["dsn"]) and kwargs["user"] == "u"
    engine.dispose()
    engine = d.create_engine(d.url_from_config(Config({
        "DB_CONNECT_STRING": "ora:1521/FREEPDB1", "DB_USER": "u"})), Config({}))
    _args, kwargs = engine.dialect.create_connect_args(engine.url)
    assert kwargs["dsn"] == "ora:1521/FREEPDB1"
    engine.dispose()


def test_normalize_url() -> None:
    assert OracleDialect().normalize_url("oracle://u:p@h/?service_name=x").drivername == \
        "oracle+oracledb"


def test_column_types_ddl() -> None:
    d = OracleDialect()
    types = ["string", "text", "integer", "bigInteger", "float", "decimal", "boolean",
             "date", "dateTime", "timestamp", "time", "json", "uuid", "binary"]
    t = sa.Table("t", sa.MetaData(), *[sa.Column(f"c_{n.lower()}", d.column_type(n, None, 10, 5))
                                       for n in types])
    ddl = " ".join(str(CreateTable(t).compile(dialect=ORA)).split())
    for fragment in ["c_string VARCHAR2(255 CHAR)", "c_text CLOB", "c_integer INTEGER",
                     "c_biginteger NUMBER(19)", "c_float FLOAT", "c_decimal NUMERIC(10, 5)",
                     "c_boolean NUMBER(1, 0)", "c_date DATE", "c_datetime TIMESTAMP,",
                     "c_timestamp TIMESTAMP WITH TIME ZONE", "c_time TIMESTAMP",
                     "c_json CLOB", "c_uuid CHAR(36)", "c_binary BLOB"]:
        assert fragment in ddl, fragment


@pytest.mark.parametrize(("part", "sql"), [
    ("year", "to_number(to_char(v, 'YYYY'))"), ("month", "to_number(to_char(v, 'MM'))"),
    ("week", "to_number(to_char(v, 'IW'))"), ("day", "to_number(to_char(v, 'DD'))"),
    ("hour", "to_number(to_char(v, 'HH24'))"), ("minute", "to_number(to_char(v, 'MI'))"),
    ("second", "to_number(to_char(v, 'SS'))"),
    ("weekday", "mod((trunc(v) - trunc(v, 'IW')) + 1, 7)"),
])
def test_date_parts(part: str, sql: str) -> None:
    assert _sql(OracleDialect().date_part(part, sa.column("v"))) == sql


def test_json_ops() -> None:
    d = OracleDialect()
    t = sa.table("docs", sa.column("data"))
    assert _sql(d.json_extract(t.c.data, ["a", 1])) == (
        "coalesce(json_value(docs.data, '$.\"a\"[1]'), json_query(docs.data, '$.\"a\"[1]'))")
    assert "__[POSTCOMPILE" in str(sa.select(d.json_extract(t.c.data, ["a"])).compile(
        dialect=ORA))
    assert _sql(d.json_array_length(t.c.data)) == (
        "CASE WHEN (json_value(docs.data, '$.type()') = 'array') "
        "THEN to_number(json_value(docs.data, '$.size()')) END")


def test_like_and_ilike() -> None:
    d = OracleDialect()
    col = sa.column("w")
    assert _sql(d.like(col, "a\\_b%")) == "w LIKE 'a\\_b%' ESCAPE '\\'"
    assert _sql(d.ilike(col, "A%")) == "lower(w) LIKE 'a%' ESCAPE '\\'"


class FakeOracleError(Exception):
    """Shaped like oracledb.DatabaseError: args[0] has .code and .message."""


def _classify(code: int, message: str):
    err = FakeOracleError(SimpleNamespace(code=code, message=message, full_code=f"ORA-{code}"))
    return OracleDialect().classify_error(sa.exc.IntegrityError("INSERT", {}, err))


def test_classify_errors() -> None:
    uq = _classify(1, "ORA-00001: unique constraint (CMS.PEOPLE_EMAIL_UK) violated")
    assert (uq.kind, uq.constraint, uq.column) == ("unique", "PEOPLE_EMAIL_UK", None)
    uq23 = _classify(1, 'ORA-00001: unique constraint (CMS.PEOPLE_EMAIL_UK) violated on table '
                        'CMS.PEOPLE columns (EMAIL)')
    assert (uq23.table, uq23.column) == ("PEOPLE", "EMAIL")
    nn = _classify(1400, 'ORA-01400: cannot insert NULL into ("CMS"."people"."name")')
    assert (nn.kind, nn.table, nn.column) == ("not_null", "people", "name")
    upd = _classify(1407, 'ORA-01407: cannot update ("CMS"."people"."name") to NULL')
    assert (upd.kind, upd.column) == ("not_null", "name")
    fk = _classify(2291, "ORA-02291: integrity constraint (CMS.PEOPLE_OWNER_FK) violated - "
                         "parent key not found")
    assert (fk.kind, fk.constraint) == ("foreign_key", "PEOPLE_OWNER_FK")
    long = _classify(12899, 'ORA-12899: value too large for column "CMS"."people"."name" '
                            "(actual: 40, maximum: 10)")
    assert (long.kind, long.table, long.column) == ("too_long", "people", "name")
    assert _classify(1438, "ORA-01438: value larger than specified precision allowed for "
                           "this column").kind == "out_of_range"
    assert _classify(1722, "ORA-01722: invalid number").kind == "invalid_value"
    assert _classify(2296, "ORA-02296: cannot enable (CMS.) - null values found").kind == \
        "contains_null"
    assert _classify(942, "ORA-00942: table or view does not exist") is None
    text_only = OracleDialect().classify_error(
        FakeOracleError("ORA-00001: unique constraint (X.Y) violated"))
    assert text_only.kind == "unique" and text_only.constraint == "Y"
    assert OracleDialect().classify_error(ValueError("x")) is None


@pytest.mark.parametrize(("data_type", "precision", "scale", "expected"), [
    ("NUMBER", 10, 0, "integer"), ("NUMBER", None, 0, "integer"), ("NUMBER", 19, 0,
                                                                    "bigInteger"),
    ("NUMBER", 1, 0, "boolean"), ("NUMBER", 10, 5, "decimal"), ("NUMBER", None, None,
                                                                 "decimal"),
    ("NUMBER", 38, 0, "decimal"), ("FLOAT", 126, None, "float"),
    ("BINARY_DOUBLE", None, None, "float"), ("VARCHAR2", None, None, "string"),
    ("NVARCHAR2", None, None, "string"), ("CHAR", None, None, "string"),
    ("CLOB", None, None, "text"), ("DATE", None, None, "date"),
    ("TIMESTAMP(6)", None, 6, "dateTime"), ("TIMESTAMP(6) WITH TIME ZONE", None, 6,
                                            "timestamp"),
    ("TIMESTAMP(6) WITH LOCAL TIME ZONE", None, 6, "timestamp"), ("BLOB", None, None,
                                                                   "binary"),
    ("RAW", None, None, "binary"), ("JSON", None, None, "json"),
    ("INTERVAL DAY(2) TO SECOND(6)", None, None, "unknown"),
])
def test_map_type(data_type: str, precision: int | None, scale: int | None,
                  expected: str) -> None:
    assert map_oracle_type(data_type, precision, scale) == expected
    column = SimpleNamespace(numeric_precision=precision, numeric_scale=scale)
    assert OracleDialect().map_type(data_type, column) == expected


def test_base_type() -> None:
    assert base_type("TIMESTAMP(6) WITH TIME ZONE") == "timestamp with time zone"


@pytest.mark.parametrize(("raw", "type_", "expected"), [
    (None, "string", None), ("'draft' ", "string", "draft"), ("'it''s'", "string", "it's"),
    ("0\n", "integer", 0), ("1", "boolean", True), ("SYSDATE", "dateTime",
                                                    "CURRENT_TIMESTAMP"),
    ("NULL", "string", None), ("sys_guid()", "string", "sys_guid()"),
])
def test_parse_default(raw: str | None, type_: str, expected: Any) -> None:
    assert parse_default(raw, type_) == expected


class _Row:
    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping


class FakeConnection:
    """Answers each data-dictionary query with canned rows and records what was asked."""

    def __init__(self, answers: dict[str, list[dict[str, Any]]]) -> None:
        self.answers = answers
        self.statements: list[tuple[str, dict[str, Any]]] = []

    def execute(self, stmt: Any, params: dict[str, Any] | None = None) -> list[_Row]:
        sql = getattr(stmt, "text", None) or str(stmt)
        self.statements.append((sql, dict(params or {})))
        return [_Row(r) for r in self.answers.get(sql, [])]


def _catalogue(n_tables: int) -> dict[str, list[dict[str, Any]]]:
    tables = [{"table_name": "authors", "kind": "TABLE", "comments": "writers"},
              {"table_name": "articles", "kind": "TABLE", "comments": None},
              {"table_name": "article_titles", "kind": "VIEW", "comments": None}]
    tables += [{"table_name": f"extra{i}", "kind": "TABLE", "comments": None}
               for i in range(n_tables)]

    def col(table: str, name: str, data_type: str, **kw: Any) -> dict[str, Any]:
        row = {"table_name": table, "column_name": name, "column_id": 1,
               "data_type": data_type, "char_length": 0, "data_precision": None,
               "data_scale": None, "nullable": "Y", "data_default": None,
               "identity_column": "NO", "virtual_column": "NO", "comments": None}
        row.update(kw)
        return row

    columns = [
        col("authors", "id", "NUMBER", data_scale=0, nullable="N", identity_column="YES",
            data_default='"CMS"."ISEQ$$_1".nextval'),
        col("authors", "name", "VARCHAR2", char_length=100, nullable="N", comments="full"),
        col("articles", "id", "NUMBER", data_precision=10, data_scale=0, nullable="N"),
        col("articles", "title", "VARCHAR2", char_length=255, data_default="'draft' "),
        col("articles", "body", "CLOB"),
        col("articles", "author", "NUMBER", data_precision=10, data_scale=0),
        col("articles", "published", "NUMBER", data_precision=1, data_scale=0,
            data_default="0"),
        col("articles", "at", "TIMESTAMP(6) WITH TIME ZONE", data_scale=6),
        col("articles", "slug", "VARCHAR2", char_length=255, virtual_column="YES",
            data_default='LOWER("title")'),
        col("article_titles", "title", "VARCHAR2", char_length=255),
    ] + [col(f"extra{i}", "id", "NUMBER", data_scale=0) for i in range(n_tables)]
    constraints = [
        {"constraint_name": "AUTHORS_PK", "constraint_type": "P", "table_name": "authors",
         "delete_rule": None, "column_name": "id", "foreign_table": None,
         "foreign_schema": None, "foreign_column": None, "column_count": 1},
        {"constraint_name": "AUTHORS_NAME_UK", "constraint_type": "U",
         "table_name": "authors", "delete_rule": None, "column_name": "name",
         "foreign_table": None, "foreign_schema": None, "foreign_column": None,
         "column_count": 1},
        {"constraint_name": "ARTICLES_PK", "constraint_type": "P", "table_name": "articles",
         "delete_rule": None, "column_name": "id", "foreign_table": None,
         "foreign_schema": None, "foreign_column": None, "column_count": 1},
        {"constraint_name": "articles_author_foreign", "constraint_type": "R",
         "table_name": "articles", "delete_rule": "SET NULL", "column_name": "author",
         "foreign_table": "authors", "foreign_schema": "CMS", "foreign_column": "id",
         "column_count": 1},
    ]
    indexes = [
        {"table_name": "authors", "index_name": "AUTHORS_PK", "uniqueness": "UNIQUE",
         "column_name": "id", "column_count": 1},
        {"table_name": "articles", "index_name": "ARTICLES_AUTHOR_IX",
         "uniqueness": "NONUNIQUE", "column_name": "author", "column_count": 1},
    ]
    return {TABLES_SQL: tables, COLUMNS_SQL: columns, CONSTRAINTS_SQL: constraints,
            INDEXES_SQL: indexes}


def test_introspection_assembles_dictionary_rows() -> None:
    raw = OracleDialect().introspect(FakeConnection(_catalogue(0)))  # type: ignore[arg-type]
    assert raw.vendor == "oracle"
    assert set(raw.tables) == {"authors", "articles", "article_titles"}
    authors, articles = raw.tables["authors"], raw.tables["articles"]
    assert authors.comment == "writers" and raw.tables["article_titles"].is_view
    aid = authors.column("id")
    assert aid.is_primary_key and aid.has_auto_increment and aid.default is None
    assert aid.type == "integer" and not aid.is_indexed and aid.is_unique
    name = authors.column("name")
    assert (name.type, name.max_length, name.is_unique, name.comment) == (
        "string", 100, True, "full")
    title = articles.column("title")
    assert (title.max_length, title.default) == (255, "draft")
    assert articles.column("body").type == "text"
    published = articles.column("published")
    assert published.type == "boolean" and published.default is False
    assert articles.column("at").type == "timestamp"
    assert articles.column("author").is_indexed
    slug = articles.column("slug")
    assert slug.is_generated and slug.generation_expression == 'LOWER("title")'
    (fk,) = articles.foreign_keys
    assert (fk.column, fk.foreign_table, fk.foreign_column, fk.on_update, fk.on_delete) == (
        "author", "authors", "id", "NO ACTION", "SET NULL")


def test_introspection_is_bounded_and_read_only() -> None:
    small, large = FakeConnection(_catalogue(2)), FakeConnection(_catalogue(40))
    OracleDialect().introspect(small)  # type: ignore[arg-type]
    raw = OracleDialect().introspect(large, exclude=("extra7",))  # type: ignore[arg-type]
    assert len(small.statements) == len(large.statements) == len(QUERIES)
    assert "extra7" not in raw.tables and "extra8" in raw.tables
    for sql, params in large.statements:
        assert sql.lstrip().upper().startswith("SELECT") and params == {"owner": None}
    OracleDialect().introspect(small, "CMS")  # type: ignore[arg-type]
    assert small.statements[-1][1] == {"owner": "CMS"}


def test_dictionary_queries_compile_for_oracle() -> None:
    for sql in QUERIES:
        compiled = sa.text(sql).compile(dialect=ORA)
        assert "COALESCE(:owner, SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA'))" in str(compiled)


def _targeted_catalogue(n_tables: int) -> dict[str, list[dict[str, Any]]]:
    """The canned rows for the targeted queries too (the fake does not filter: the dialect
    still keeps only the tables asked for)."""
    full = _catalogue(n_tables)
    answers = dict(full)
    for full_sql, only_sql in zip(QUERIES, ONLY_QUERIES, strict=True):
        answers[only_sql] = full[full_sql]
    return answers


def test_targeted_introspection_filters_in_sql() -> None:
    full = OracleDialect().introspect(FakeConnection(_catalogue(3)), "CMS")  # type: ignore[arg-type]
    conn = FakeConnection(_targeted_catalogue(3))
    raw = OracleDialect().introspect(  # type: ignore[arg-type]
        conn, "CMS", only=["articles", "article_titles", "nope"])
    assert set(raw.tables) == {"articles", "article_titles"}
    assert raw.tables["articles"] == full.tables["articles"]
    assert (raw.vendor, raw.schema_name) == ("oracle", "CMS")
    assert [sql for sql, _ in conn.statements] == list(ONLY_QUERIES)
    for _sql_text, params in conn.statements:
        assert params == {"owner": "CMS", "only": ["articles", "article_titles", "nope"]}


def test_targeted_introspection_edge_cases() -> None:
    empty = FakeConnection(_targeted_catalogue(0))
    raw = OracleDialect().introspect(empty, only=[])  # type: ignore[arg-type]
    assert raw.tables == {} and raw.vendor == "oracle" and empty.statements == []
    # Past Oracle's 1,000-element IN lists: a full read, filtered afterwards.
    long = FakeConnection(_targeted_catalogue(5))
    names = ["extra1", *(f"missing{i}" for i in range(MAX_ONLY))]
    raw = OracleDialect().introspect(long, only=names)  # type: ignore[arg-type]
    assert set(raw.tables) == {"extra1"}
    assert [sql for sql, _ in long.statements] == list(QUERIES)


def test_targeted_queries_compile_for_oracle() -> None:
    for sql in ONLY_QUERIES:
        stmt = sa.text(sql).bindparams(sa.bindparam("only", expanding=True))
        state = stmt.compile(dialect=ORA).construct_expanded_state(
            {"owner": None, "only": ["a", "b"]})
        text = " ".join(state.statement.split())
        assert "table_name IN (:only_1, :only_2)" in text, text
        assert state.parameters == {"owner": None, "only_1": "a", "only_2": "b"}


def test_catalogue_fingerprint() -> None:
    conn = FakeConnection({FINGERPRINT_SQL: [{"fingerprint": "4.123.20240101000000|1.2|3.4"}]})
    value = OracleDialect().catalogue_fingerprint(conn)  # type: ignore[arg-type]
    assert value == "4.123.20240101000000|1.2|3.4"
    ((sql, params),) = conn.statements
    assert sql == FINGERPRINT_SQL and params == {"owner": None}
    compiled = sa.text(FINGERPRINT_SQL).compile(dialect=ORA)
    text = " ".join(str(compiled).split())
    assert text.startswith("SELECT") and text.endswith("FROM dual")
    assert text.count("COALESCE(:owner, SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA'))") == 3
    assert list(compiled.binds) == ["owner"]
    for catalogue in ("all_objects", "last_ddl_time", "all_tab_cols", "all_constraints"):
        assert catalogue in text, catalogue


def test_column_changes_are_refused_not_attempted() -> None:
    """No alter_column() yet, and no table rebuild: the fields service refuses the change."""
    d = OracleDialect()
    assert not d.supports_alter_column
    column = sa.Column("name", sa.String(100))
    table = sa.Table("t", sa.MetaData(), column)
    with pytest.raises(NotImplementedError):
        d.alter_column(None, table, column, {"size"})  # type: ignore[arg-type]
    with d.schema_change_connection(sa.create_engine("sqlite://"), rebuild=True) as (_c, ok):
        assert ok is False
