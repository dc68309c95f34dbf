"""SQL Server dialect tests. No SQL Server runs in CI: SQL is compiled with SQLAlchemy's
mssql dialect and checked as text, errors are fabricated, and introspection reads canned
catalogue rows through a fake connection."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import entry_points
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql
from sqlalchemy.schema import CreateTable
from transom_dialect_mssql import MSSQLDialect, register_dialects
from transom_dialect_mssql.introspect import (
    COLUMNS_SQL,
    FINGERPRINT_SQL,
    FOREIGN_KEYS_SQL,
    INDEXES_SQL,
    MAX_ONLY,
    ONLY_QUERIES,
    QUERIES,
    TABLES_SQL,
    map_mssql_type,
    parse_default,
)

from transom.config import Config
from transom.errors import StartupError

MS = mssql.dialect()


def _sql(expr: Any) -> str:
    return " ".join(str(expr.compile(dialect=MS, compile_kwargs={"literal_binds": True}))
                    .split())


def test_import_does_not_load_the_driver() -> None:
    code = "import sys, transom_dialect_mssql; assert 'pyodbc' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_registration() -> None:
    assert register_dialects() == [MSSQLDialect]
    names = {ep.name: ep.value for ep in entry_points(group="transom.plugins")}
    assert names.get("dialect_mssql") == "transom_dialect_mssql"
    d = MSSQLDialect
    assert (d.db_clients, d.url_schemes) == (("mssql",), ("mssql",))
    assert (d.name, d.vendor, d.default_driver, d.default_port) == (
        "mssql", "mssql", "mssql+pyodbc", 1433)
    assert d.supports_returning and not d.supports_alter_column and d.supports_alter_constraints


def test_url_from_config() -> None:
    url = MSSQLDialect().url_from_config(Config({
        "DB_CLIENT": "mssql", "DB_HOST": "sql", "DB_DATABASE": "cms", "DB_USER": "sa",
        "DB_PASSWORD": "pw", "DB_OPTIONS__ENCRYPT": "false",
        "DB_OPTIONS__TRUST_SERVER_CERTIFICATE": "true"}))
    assert url.drivername == "mssql+pyodbc" and url.port == 1433
    assert url.query == {"driver": "ODBC Driver 18 for SQL Server", "Encrypt": "no",
                         "TrustServerCertificate": "yes"}
    custom = MSSQLDialect().url_from_config(Config({"DB_DATABASE": "cms",
                                                    "DB_ODBC_DRIVER": "FreeTDS"}))
    assert custom.query == {"driver": "FreeTDS"}


def test_normalize_url() -> None:
    d = MSSQLDialect()
    u = d.normalize_url("mssql://sa:pw@h/db")
    assert u.drivername == "mssql+pyodbc" and u.query["driver"] == "ODBC Driver 18 for SQL Server"
    assert "driver" not in d.normalize_url("mssql+pyodbc://?odbc_connect=DSN%3Dx").query


def test_create_engine_is_lazy_about_the_driver() -> None:
    url = MSSQLDialect().url_from_config(Config({"DB_DATABASE": "cms"}))
    try:
        import pyodbc  # noqa: F401
    except ImportError:
        with pytest.raises(StartupError, match="unixODBC"):
            MSSQLDialect().create_engine(url, Config({}))
    else:  # driver installed: the engine is built without connecting
        MSSQLDialect().create_engine(url, Config({})).dispose()


def test_column_types_ddl() -> None:
    d = MSSQLDialect()
    types = ["string", "text", "integer", "bigInteger", "float", "decimal", "boolean",
             "date", "dateTime", "timestamp", "time", "json", "uuid", "binary"]
    t = sa.Table("t", sa.MetaData(), *[sa.Column(n.lower(), d.column_type(n, None, 10, 5))
                                       for n in types])
    ddl = " ".join(str(CreateTable(t).compile(dialect=MS)).split())
    for fragment in ["string NVARCHAR(255)", "text NVARCHAR(max)", "integer INTEGER",
                     "biginteger BIGINT", "float FLOAT", "decimal NUMERIC(10, 5)",
                     "boolean BIT", "date DATE", "datetime DATETIME2",
                     "timestamp DATETIMEOFFSET", "time TIME", "json NVARCHAR(max)",
                     "uuid UNIQUEIDENTIFIER", "binary VARBINARY(max)"]:
        assert fragment in ddl, fragment


@pytest.mark.parametrize(("part", "sql"), [
    ("year", "datepart(year, v)"), ("month", "datepart(month, v)"),
    ("week", "datepart(iso_week, v)"), ("day", "datepart(day, v)"),
    ("hour", "datepart(hour, v)"), ("minute", "datepart(minute, v)"),
    ("second", "datepart(second, v)"),
    ("weekday", "(datepart(weekday, v) + @@DATEFIRST + 6) % 7"),
])
def test_date_parts(part: str, sql: str) -> None:
    assert _sql(MSSQLDialect().date_part(part, sa.column("v"))) == sql


def test_date_parts_of_offsets_are_utc() -> None:
    col = sa.column("v", sa.DateTime(timezone=True))
    assert _sql(MSSQLDialect().date_part("hour", col)) == \
        "datepart(hour, switchoffset(v, '+00:00'))"


def test_json_ops() -> None:
    d = MSSQLDialect()
    t = sa.table("docs", sa.column("data"))
    assert _sql(d.json_extract(t.c.data, ["a", 0, "b c"])) == (
        "coalesce(json_value(docs.data, N'$.\"a\"[0].\"b c\"'), "
        "json_query(docs.data, N'$.\"a\"[0].\"b c\"'))")
    stmt = sa.select(t.c.data).where(d.json_extract(t.c.data, ["k"]) == "x")
    compiled = stmt.compile(dialect=MS)
    assert "__[POSTCOMPILE" in str(compiled)  # rendered inline at execution time
    length = _sql(sa.select(d.json_array_length(t.c.data)))
    assert "CASE WHEN (isjson(docs.data) = 1 AND left(ltrim(docs.data), 1) = '[')" in length
    assert "(SELECT count(*) AS count_1 FROM openjson(docs.data) AS transom_json)" in length


def test_like_and_ilike() -> None:
    d = MSSQLDialect()
    col = sa.column("w")
    assert _sql(d.like(col, "a\\_b%")) == \
        "(w COLLATE Latin1_General_100_CS_AS) LIKE 'a\\_b%' ESCAPE '\\'"
    assert _sql(d.ilike(col, "A%")) == "lower(w) LIKE 'a%' ESCAPE '\\'"


class FakeOdbcError(Exception):
    """Shaped like pyodbc.Error: args = (sqlstate, message)."""


def _odbc(number: int, text: str, state: str = "23000") -> BaseException:
    message = (f"[{state}] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]{text} "
               f"({number}) (SQLExecDirectW); [01000] [Microsoft][ODBC Driver 18 for SQL "
               "Server][SQL Server]The statement has been terminated. (3621)")
    return sa.exc.IntegrityError("INSERT", {}, FakeOdbcError(state, message))


def _classify(number: int, text: str):
    return MSSQLDialect().classify_error(_odbc(number, text))


def test_classify_errors() -> None:
    uq = _classify(2627, "Violation of UNIQUE KEY constraint 'UQ_people_email'. Cannot insert "
                         "duplicate key in object 'dbo.people'. The duplicate key value is "
                         "(a@x.io).")
    assert (uq.kind, uq.table, uq.constraint, uq.value) == (
        "unique", "people", "UQ_people_email", "a@x.io")
    ix = _classify(2601, "Cannot insert duplicate key row in object 'dbo.people' with unique "
                         "index 'people_email_unique'. The duplicate key value is (b).")
    assert (ix.kind, ix.constraint, ix.value) == ("unique", "people_email_unique", "b")
    nn = _classify(515, "Cannot insert the value NULL into column 'name', table "
                        "'cms.dbo.people'; column does not allow nulls. INSERT fails.")
    assert (nn.kind, nn.column, nn.table) == ("not_null", "name", "people")
    alter = _classify(515, "Cannot insert the value NULL into column 'name', table "
                           "'cms.dbo.people'; column does not allow nulls. ALTER TABLE fails.")
    assert alter.kind == "contains_null"
    fk = _classify(547, 'The INSERT statement conflicted with the FOREIGN KEY constraint '
                        '"FK_people_owner". The conflict occurred in database "cms", table '
                        '"dbo.owners", column \'id\'.')
    assert (fk.kind, fk.constraint, fk.column) == ("foreign_key", "FK_people_owner", None)
    assert _classify(547, 'The INSERT statement conflicted with the CHECK constraint "ck".') \
        is None
    long = _classify(2628, "String or binary data would be truncated in table "
                           "'cms.dbo.people', column 'name'. Truncated value: 'xxxxxxxxxx'.")
    assert (long.kind, long.table, long.column, long.value) == (
        "too_long", "people", "name", "xxxxxxxxxx")
    assert _classify(8152, "String or binary data would be truncated.").kind == "too_long"
    assert _classify(8115, "Arithmetic overflow error converting expression to data type "
                           "int.").kind == "out_of_range"
    bad = _classify(245, "Conversion failed when converting the varchar value 'abc' to data "
                         "type int.")
    assert (bad.kind, bad.value) == ("invalid_value", "abc")
    assert _classify(208, "Invalid object name 'x'.") is None
    pymssql_style = MSSQLDialect().classify_error(
        FakeOdbcError(2627, b"Violation of PRIMARY KEY constraint 'PK_t'."))
    assert pymssql_style.kind == "unique" and pymssql_style.constraint == "PK_t"
    assert MSSQLDialect().classify_error(ValueError("x")) is None


@pytest.mark.parametrize(("data_type", "length", "expected"), [
    ("int", None, "integer"), ("bigint", None, "bigInteger"), ("bit", None, "boolean"),
    ("nvarchar", 510, "string"), ("nvarchar", -1, "text"), ("varchar(max)", None, "text"),
    ("ntext", None, "text"), ("datetime2", None, "dateTime"),
    ("datetimeoffset", None, "timestamp"), ("uniqueidentifier", None, "uuid"),
    ("decimal", None, "decimal"), ("varbinary", -1, "binary"), ("sql_variant", None, "unknown"),
])
def test_map_type(data_type: str, length: int | None, expected: str) -> None:
    assert map_mssql_type(data_type, length) == expected


@pytest.mark.parametrize(("raw", "type_", "expected"), [
    (None, "string", None), ("('draft')", "string", "draft"), ("(N'it''s')", "string", "it's"),
    ("((0))", "integer", 0), ("((1))", "boolean", True), ("(getdate())", "dateTime",
                                                          "CURRENT_TIMESTAMP"),
    ("(newid())", "uuid", "newid()"), ("(NULL)", "string", None), ("('5')", "integer", 5),
])
def test_parse_default(raw: str | None, type_: str, expected: Any) -> None:
    assert parse_default(raw, type_) == expected


class _Row:
    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping


class FakeConnection:
    """Answers each catalogue query with canned rows and records what was asked."""

    def __init__(self, answers: dict[str, list[dict[str, Any]]]) -> None:
        self.answers = answers
        self.statements: list[tuple[str, dict[str, Any]]] = []

    def execute(self, stmt: Any, params: dict[str, Any] | None = None) -> list[_Row]:
        sql = getattr(stmt, "text", None) or str(stmt)
        self.statements.append((sql, dict(params or {})))
        return [_Row(r) for r in self.answers.get(sql, [])]


def _catalogue(n_tables: int) -> dict[str, list[dict[str, Any]]]:
    tables = [{"table_name": "authors", "kind": "U ", "comment": "people who write"},
              {"table_name": "articles", "kind": "U ", "comment": None},
              {"table_name": "article_titles", "kind": "V ", "comment": None}]
    tables += [{"table_name": f"extra{i}", "kind": "U ", "comment": None}
               for i in range(n_tables)]

    def col(table: str, name: str, data_type: str, **kw: Any) -> dict[str, Any]:
        row = {"table_name": table, "column_name": name, "column_id": 1, "data_type": data_type,
               "byte_length": None, "numeric_precision": 0, "numeric_scale": 0,
               "is_nullable": True, "is_identity": False, "is_computed": False,
               "generation_expression": None, "column_default": None, "comment": None}
        row.update(kw)
        return row

    columns = [
        col("authors", "id", "int", numeric_precision=10, is_nullable=False, is_identity=True),
        col("authors", "name", "nvarchar", byte_length=200, is_nullable=False,
            comment="full name"),
        col("authors", "uid", "uniqueidentifier", column_default="(newid())"),
        col("articles", "id", "int", numeric_precision=10, is_nullable=False, is_identity=True),
        col("articles", "title", "nvarchar", byte_length=510, column_default="('draft')"),
        col("articles", "body", "nvarchar", byte_length=-1),
        col("articles", "author", "int", numeric_precision=10),
        col("articles", "published", "bit", column_default="((0))"),
        col("articles", "at", "datetimeoffset"),
        col("articles", "slug", "nvarchar", byte_length=100, is_computed=True,
            generation_expression="(lower([title]))"),
        col("article_titles", "title", "nvarchar", byte_length=510),
    ] + [col(f"extra{i}", "id", "int") for i in range(n_tables)]
    indexes = [
        {"table_name": "authors", "index_name": "PK_authors", "is_primary": True,
         "is_unique": True, "has_filter": False, "column_name": "id", "key_count": 1},
        {"table_name": "authors", "index_name": "UQ_name", "is_primary": False,
         "is_unique": True, "has_filter": False, "column_name": "name", "key_count": 1},
        {"table_name": "articles", "index_name": "PK_articles", "is_primary": True,
         "is_unique": True, "has_filter": False, "column_name": "id", "key_count": 1},
        {"table_name": "articles", "index_name": "IX_author", "is_primary": False,
         "is_unique": False, "has_filter": False, "column_name": "author", "key_count": 1},
    ]
    fks = [{"constraint_name": "FK_articles_author", "table_name": "articles",
            "column_name": "author", "foreign_table": "authors", "foreign_schema": "dbo",
            "foreign_column": "id", "on_update": "NO_ACTION", "on_delete": "SET_NULL",
            "column_count": 1}]
    return {TABLES_SQL: tables, COLUMNS_SQL: columns, INDEXES_SQL: indexes,
            FOREIGN_KEYS_SQL: fks}


def test_introspection_assembles_catalogue_rows() -> None:
    conn = FakeConnection(_catalogue(0))
    raw = MSSQLDialect().introspect(conn, None, exclude=("nothing",))  # type: ignore[arg-type]
    assert raw.vendor == "mssql" and set(raw.tables) == {"authors", "articles",
                                                          "article_titles"}
    authors, articles = raw.tables["authors"], raw.tables["articles"]
    assert authors.comment == "people who write" and raw.tables["article_titles"].is_view
    aid = authors.column("id")
    assert aid.is_primary_key and aid.has_auto_increment and not aid.nullable
    assert aid.is_unique and not aid.is_indexed and aid.type == "integer"
    name = authors.column("name")
    assert (name.type, name.max_length, name.is_unique, name.comment) == (
        "string", 100, True, "full name")
    assert authors.column("uid").type == "uuid" and authors.column("uid").default == "newid()"
    title = articles.column("title")
    assert (title.max_length, title.default) == (255, "draft")
    assert articles.column("body").type == "text"
    assert articles.column("published").default is False
    assert articles.column("at").type == "timestamp"
    assert articles.column("author").is_indexed
    slug = articles.column("slug")
    assert slug.is_generated and slug.generation_expression == "(lower([title]))"
    (fk,) = articles.foreign_keys
    assert (fk.column, fk.foreign_table, fk.foreign_column, fk.constraint_name,
            fk.on_update, fk.on_delete) == ("author", "authors", "id", "FK_articles_author",
                                            "NO ACTION", "SET NULL")


def test_introspection_is_bounded_and_read_only() -> None:
    small, large = FakeConnection(_catalogue(2)), FakeConnection(_catalogue(40))
    MSSQLDialect().introspect(small)  # type: ignore[arg-type]
    raw = MSSQLDialect().introspect(large, exclude=("extra3",))  # type: ignore[arg-type]
    assert len(small.statements) == len(large.statements) == len(QUERIES)
    assert "extra3" not in raw.tables and "extra4" in raw.tables
    for sql, params in large.statements:
        assert sql.lstrip().upper().startswith("SELECT") and params == {"schema": None}
    MSSQLDialect().introspect(small, "sales")  # type: ignore[arg-type]
    assert small.statements[-1][1] == {"schema": "sales"}


def test_catalogue_queries_compile_for_mssql() -> None:
    for sql in QUERIES:
        compiled = sa.text(sql).compile(dialect=mssql.dialect(paramstyle="qmark"))
        assert "COALESCE(?, SCHEMA_NAME())" in str(compiled)
        assert list(compiled.binds) == ["schema"]


def _targeted_catalogue(n_tables: int) -> dict[str, list[dict[str, Any]]]:
    """The canned rows for the targeted queries too (the fake does not filter: the dialect
    still keeps only the tables asked for)."""
    full = _catalogue(n_tables)
    answers = dict(full)
    for full_sql, only_sql in zip(QUERIES, ONLY_QUERIES, strict=True):
        answers[only_sql] = full[full_sql]
    return answers


def test_targeted_introspection_filters_in_sql() -> None:
    full = MSSQLDialect().introspect(FakeConnection(_catalogue(3)), "sales")  # type: ignore[arg-type]
    conn = FakeConnection(_targeted_catalogue(3))
    raw = MSSQLDialect().introspect(  # type: ignore[arg-type]
        conn, "sales", only=["articles", "article_titles", "nope"])
    assert set(raw.tables) == {"articles", "article_titles"}
    assert raw.tables["articles"] == full.tables["articles"]
    assert (raw.vendor, raw.schema_name) == ("mssql", "sales")
    assert [sql for sql, _ in conn.statements] == list(ONLY_QUERIES)
    for _sql_text, params in conn.statements:
        assert params == {"schema": "sales", "only": ["articles", "article_titles", "nope"]}
    assert set(MSSQLDialect().introspect(  # type: ignore[arg-type]
        FakeConnection(_targeted_catalogue(0)), only=["authors"], exclude=("authors",)
    ).tables) == set()


def test_targeted_introspection_edge_cases() -> None:
    empty = FakeConnection(_targeted_catalogue(0))
    raw = MSSQLDialect().introspect(empty, "sales", only=[])  # type: ignore[arg-type]
    assert raw.tables == {} and raw.vendor == "mssql" and empty.statements == []
    # More names than SQL Server takes parameters: a full read, filtered afterwards.
    long = FakeConnection(_targeted_catalogue(5))
    names = ["extra1", *(f"missing{i}" for i in range(MAX_ONLY))]
    raw = MSSQLDialect().introspect(long, only=names)  # type: ignore[arg-type]
    assert set(raw.tables) == {"extra1"}
    assert [sql for sql, _ in long.statements] == list(QUERIES)


def test_targeted_queries_compile_for_mssql() -> None:
    for sql in ONLY_QUERIES:
        stmt = sa.text(sql).bindparams(sa.bindparam("only", expanding=True))
        compiled = stmt.compile(dialect=mssql.dialect(paramstyle="qmark"))
        state = compiled.construct_expanded_state({"schema": None, "only": ["a", "b"]})
        text = " ".join(state.statement.split())
        assert re.search(r"\b(o|tp)\.name IN \(\?, \?\)", text), text
        assert state.positional_parameters == (None, "a", "b")


def test_catalogue_fingerprint() -> None:
    conn = FakeConnection({FINGERPRINT_SQL: [{"fingerprint": "3.-12.2024-01-01T00:00:00"}]})
    value = MSSQLDialect().catalogue_fingerprint(conn, "sales")  # type: ignore[arg-type]
    assert value == "3.-12.2024-01-01T00:00:00"
    ((sql, params),) = conn.statements
    assert sql == FINGERPRINT_SQL and params == {"schema": "sales"}
    compiled = sa.text(FINGERPRINT_SQL).compile(dialect=mssql.dialect(paramstyle="qmark"))
    text = " ".join(str(compiled).split())
    assert text.startswith("SELECT CONCAT(") and text.count("COALESCE(?, SCHEMA_NAME())") == 3
    assert list(compiled.binds) == ["schema"]
    for catalogue in ("sys.objects", "sys.columns", "sys.index_columns", "modify_date"):
        assert catalogue in text, catalogue


def test_column_changes_are_refused_not_attempted() -> None:
    """No alter_column() yet, and no table rebuild: the fields service refuses the change."""
    d = MSSQLDialect()
    assert not d.supports_alter_column
    column = sa.Column("name", sa.String(100))
    table = sa.Table("t", sa.MetaData(), column)
    with pytest.raises(NotImplementedError):
        d.alter_column(None, table, column, {"size"})  # type: ignore[arg-type]
    with d.schema_change_connection(sa.create_engine("sqlite://"), rebuild=True) as (_c, ok):
        assert ok is False
