"""The PostgreSQL dialect (psycopg 3).

PostgreSQL does nearly everything natively (ILIKE, RETURNING, ON CONFLICT, transactional
DDL), so most of this is catalogue reading and turning SQLSTATEs into Directus error codes.
Every connection runs in UTC so that date parts of ``timestamptz`` columns are UTC, as
Directus reports them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.compiler import compiles

from transom.dialects import AlterTable, DbErrorInfo, Dialect

from .introspect import catalogue_fingerprint_postgres, introspect_postgres, map_pg_type

if TYPE_CHECKING:
    from transom.config import Config
    from transom.schema.raw import RawSchema

#: SQLSTATE -> error kind.
SQLSTATES = {
    "23505": "unique",
    "23502": "not_null",
    "23503": "foreign_key",
    "22001": "too_long",
    "22003": "out_of_range",
    "22P02": "invalid_value",
    "22007": "invalid_value",
    "22008": "invalid_value",
    # the snapshot names what the database no longer has (a change not yet seen)
    "42P01": "undefined_table",
    "42703": "undefined_column",
}

_DETAIL = re.compile(
    r"Key \((?P<cols>.*?)\)=\((?P<vals>.*)\) "
    r"(?:already exists|is not present in table|is still referenced from table)",
    re.DOTALL,
)
_INVALID_INPUT = re.compile(r'invalid input syntax for type [\w ]+: "(?P<val>.*)"', re.DOTALL)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SetType(AlterTable):
    """``ALTER COLUMN ... TYPE ... USING col::type`` (PostgreSQL casts the rows)."""


class SetNullable(AlterTable):
    pass


class SetDefault(AlterTable):
    pass


@compiles(SetType)
def _set_type(element: SetType, compiler: Any, **kw: Any) -> str:
    assert element.column is not None
    type_sql = compiler.dialect.type_compiler_instance.process(
        element.column.type, type_expression=element.column)
    col = AlterTable.column_sql(compiler, element)
    return (f"ALTER TABLE {AlterTable.table_sql(compiler, element)} ALTER COLUMN {col} "
            f"TYPE {type_sql} USING {col}::{type_sql}")


@compiles(SetNullable)
def _set_nullable(element: SetNullable, compiler: Any, **kw: Any) -> str:
    assert element.column is not None
    action = "DROP NOT NULL" if element.column.nullable else "SET NOT NULL"
    return (f"ALTER TABLE {AlterTable.table_sql(compiler, element)} ALTER COLUMN "
            f"{AlterTable.column_sql(compiler, element)} {action}")


@compiles(SetDefault)
def _set_default(element: SetDefault, compiler: Any, **kw: Any) -> str:
    assert element.column is not None
    default = compiler.get_column_default_string(element.column)
    action = "DROP DEFAULT" if default is None else f"SET DEFAULT {default}"
    return (f"ALTER TABLE {AlterTable.table_sql(compiler, element)} ALTER COLUMN "
            f"{AlterTable.column_sql(compiler, element)} {action}")


class PostgresDialect(Dialect):
    """PostgreSQL 12 or later (generated columns are read from ``pg_attribute``)."""

    name = "postgresql"
    distribution = "transom-dialect-postgres"
    db_clients = ("pg", "postgres", "postgresql")
    url_schemes = ("postgresql", "postgres")
    driver = "postgresql+psycopg"
    default_driver = "postgresql+psycopg"
    vendor = "postgres"
    default_port = 5432

    supports_returning = True
    supports_transactional_ddl = True
    supports_schemas = True
    supports_alter_column = True
    supports_foreign_keys = True
    supports_alter_constraints = True

    #: reads skip the BEGIN/ROLLBACK round trip (psycopg switches autocommit client-side)
    read_options: ClassVar[dict[str, Any]] = {"isolation_level": "AUTOCOMMIT"}

    # -- connecting ---------------------------------------------------------------------
    def url_from_config(self, config: Config) -> URL:
        conn_string = config.get("DB_CONNECTION_STRING")
        if conn_string:
            return self.normalize_url(str(conn_string))
        return super().url_from_config(config)

    def normalize_url(self, url: str | URL) -> URL:
        u = make_url(url)
        backend, _, driver = u.drivername.partition("+")
        if backend == "postgres" or not driver:
            u = u.set(drivername=f"postgresql+{driver or 'psycopg'}")
        return u

    def search_path(self) -> list[str]:
        """``DB_SCHEMA`` first (where new tables go), then ``public`` for extensions."""
        schema = self.config.get("DB_SCHEMA") if self.config is not None else None
        if not schema:
            return []
        return [str(schema)] + (["public"] if schema != "public" else [])

    def on_connect(self, dbapi_connection: Any) -> None:
        # Outside any transaction, so the pool's reset-on-return cannot roll these back.
        previous = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        try:
            cur = dbapi_connection.cursor()
            try:
                cur.execute("SET TIME ZONE 'UTC'")
                path = self.search_path()
                if path:
                    cur.execute("SET search_path TO " + ", ".join(map(_quote_ident, path)))
            finally:
                cur.close()
        finally:
            dbapi_connection.autocommit = previous

    # -- catalogue --------------------------------------------------------------------
    def introspect(
        self,
        connection: Connection,
        schema: str | None = None,
        exclude: tuple[str, ...] = (),
        only: Collection[str] | None = None,
    ) -> RawSchema:
        return introspect_postgres(connection, schema, exclude, only)

    def catalogue_fingerprint(self, connection: Connection, schema: str | None = None
                              ) -> str | None:
        """Counts and hash sums of the schema's pg_class, pg_attribute, pg_attrdef,
        pg_constraint and pg_description rows, in one statement."""
        return catalogue_fingerprint_postgres(connection, schema)

    def map_type(self, data_type: str, column: Any = None) -> str:
        return map_pg_type(data_type)

    def column_type(
        self,
        type_: str,
        max_length: int | None = None,
        precision: int | None = None,
        scale: int | None = None,
    ) -> sa.types.TypeEngine[Any]:
        from sqlalchemy.dialects import postgresql

        if type_ == "uuid":
            return postgresql.UUID(as_uuid=False)
        if type_ == "json":
            return postgresql.JSON()
        if type_ == "float":
            return postgresql.REAL()
        return super().column_type(type_, max_length, precision, scale)

    # -- expressions ------------------------------------------------------------------
    def date_part(self, part: str, expr: Any) -> Any:
        field = {"weekday": "dow", "week": "week"}.get(part, part)
        value = sa.extract(field, expr)
        if part == "second":
            value = sa.func.floor(value)  # EXTRACT(SECOND) keeps the fraction
        return sa.cast(value, sa.Integer)

    @staticmethod
    def _jsonb(expr: Any) -> Any:
        # Columns may be json or jsonb (or text holding JSON); jsonb functions take all.
        from sqlalchemy.dialects import postgresql

        return sa.cast(expr, postgresql.JSONB)

    def json_extract(self, expr: Any, path: list[str | int]) -> Any:
        keys = [sa.literal(str(p), sa.Text) for p in path]
        return sa.func.jsonb_extract_path_text(self._jsonb(expr), *keys, type_=sa.Text)

    def json_array_length(self, expr: Any) -> Any:
        doc = self._jsonb(expr)
        return sa.case((sa.func.jsonb_typeof(doc) == "array", sa.func.jsonb_array_length(doc)))

    def ilike(self, expr: Any, pattern: str) -> Any:
        return expr.ilike(pattern, escape="\\")

    # -- upsert -------------------------------------------------------------------------
    # -- schema changes -------------------------------------------------------------------
    def alter_column(self, conn: Connection, table: sa.Table, column: sa.Column[Any],
                     changes: Collection[str]) -> None:
        if {"type", "size"} & set(changes):
            conn.execute(SetType(table, column))
        if "nullable" in changes:
            conn.execute(SetNullable(table, column))
        if "default" in changes:
            conn.execute(SetDefault(table, column))

    def drop_index(self, conn: Connection, table: sa.Table, name: str,
                   is_constraint: bool) -> None:
        if not is_constraint:
            super().drop_index(conn, table, name, is_constraint)
            return
        uc = sa.UniqueConstraint(next(iter(table.columns)).name, name=name)
        table.append_constraint(uc)
        conn.execute(sa.schema.DropConstraint(uc))

    def upsert_statement(
        self,
        table: sa.Table,
        values: dict[str, Any],
        conflict_columns: list[str],
        update_columns: list[str] | None = None,
    ) -> Any:
        """``INSERT ... ON CONFLICT (...) DO UPDATE`` (or ``DO NOTHING``)."""
        from sqlalchemy.dialects.postgresql import insert

        return self.on_conflict_upsert(insert, table, values, conflict_columns,
                                       update_columns)

    # -- counts and streams -----------------------------------------------------------
    #: a read of many rows may use a server-side cursor (``stream_results``)
    supports_server_side_cursors: ClassVar[bool] = True

    def estimate_count(self, connection: Connection, stmt: sa.Select[Any]) -> int | None:
        """The planner's row estimate for ``stmt`` (``EXPLAIN``: statistics kept by
        ANALYZE/autovacuum, no scan), or None when there are no statistics yet."""
        compiled = stmt.compile(dialect=connection.dialect,
                                compile_kwargs={"render_postcompile": True})
        plan = connection.exec_driver_sql(
            "EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params).scalar_one()
        if isinstance(plan, str):
            plan = json.loads(plan)
        top = plan[0]["Plan"]
        rows = top.get("Plan Rows")
        for child in top.get("Plans") or ():  # an Aggregate's input holds the estimate
            rows = child.get("Plan Rows", rows)
        if rows is None:
            return None
        if not self._analyzed(connection, stmt):
            return None
        return int(rows)

    @staticmethod
    def _analyzed(connection: Connection, stmt: sa.Select[Any]) -> bool:
        """Whether the tables of ``stmt`` have statistics (else EXPLAIN guesses)."""
        for frm in stmt.get_final_froms():
            table = getattr(frm, "element", frm)
            name = getattr(table, "name", None)
            if name is None:
                return False
            schema = getattr(table, "schema", None)
            qualified = f"{_quote_ident(schema)}.{_quote_ident(name)}" if schema \
                else _quote_ident(name)
            tuples = connection.execute(sa.text(
                "SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"),
                {"name": qualified}).scalar()
            if tuples is None or tuples < 0:
                return False
        return True

    # -- errors -----------------------------------------------------------------------
    def replica_lag(self, connection: Connection) -> float | None:
        """0 on a primary or a caught-up standby; else seconds since the last replayed
        transaction's commit time."""
        return float(connection.execute(sa.text(
            "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0"
            " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
            " ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)"
            " END")).scalar_one())

    def classify_error(self, exc: BaseException) -> DbErrorInfo | None:
        orig = getattr(exc, "orig", None) or exc
        diag = getattr(orig, "diag", None)
        sqlstate = getattr(orig, "sqlstate", None) or getattr(diag, "sqlstate", None) or \
            getattr(orig, "pgcode", None)
        kind = SQLSTATES.get(str(sqlstate or ""))
        if kind is None:
            return None
        message = str(getattr(diag, "message_primary", None) or orig)
        table = getattr(diag, "table_name", None)
        column = getattr(diag, "column_name", None)
        constraint = getattr(diag, "constraint_name", None)
        detail = getattr(diag, "message_detail", None) or ""
        value: Any = None
        if kind == "not_null" and "contains null values" in message:
            kind = "contains_null"
        m = _DETAIL.search(detail)
        if m:
            cols = [c.strip().strip('"') for c in m.group("cols").split(",")]
            if len(cols) == 1:
                column = column or cols[0]
                value = m.group("vals")
        if kind == "invalid_value":
            m = _INVALID_INPUT.search(message)
            if m:
                value = m.group("val")
        return DbErrorInfo(kind, table=table, column=column, value=value,
                           constraint=constraint)
