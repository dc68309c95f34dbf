"""The MySQL / MariaDB dialect (PyMySQL).

Every connection is put in strict mode (too-long values fail instead of being silently
truncated, as Directus expects), in UTC (``TIMESTAMP`` columns convert through the session
time zone) and in ``utf8mb4``. Case-sensitive LIKE compares under a binary collation, since
the usual ``*_ci`` collations ignore case.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateColumn

from transom.dialects import AlterTable, DbErrorInfo, Dialect

from .introspect import catalogue_fingerprint_mysql, introspect_mysql, map_mysql_type

if TYPE_CHECKING:
    from transom.config import Config
    from transom.schema.raw import RawSchema

#: MySQL error number -> error kind.
ERRORS = {
    1062: "unique",
    1048: "not_null",
    1364: "not_null",
    1452: "foreign_key",
    1451: "foreign_key",
    1216: "foreign_key",
    1217: "foreign_key",
    1406: "too_long",
    1264: "out_of_range",
    1366: "invalid_value",
    1146: "undefined_table",  # the snapshot names what the database no longer has
    1054: "undefined_column",
    1292: "invalid_value",
    1265: "invalid_value",
    1138: "contains_null",
}

_DUPLICATE = re.compile(r"Duplicate entry '(?P<val>.*)' for key '(?P<key>[^']*)'", re.DOTALL)
_COLUMN_QUOTED = re.compile(r"(?:[Cc]olumn|Field) '(?P<col>[^']+)'")
_FK = re.compile(
    r"\(`(?P<db>[^`]*)`\.`(?P<table>[^`]*)`, CONSTRAINT `(?P<con>[^`]*)` "
    r"FOREIGN KEY \(`(?P<col>[^`]*)`\)")
_INCORRECT = re.compile(
    r"Incorrect \w+ value: '(?P<val>.*)' for column (?:'(?P<col>[^']+)'|"
    r"`[^`]*`\.`(?P<table>[^`]*)`\.`(?P<col2>[^`]*)`)", re.DOTALL)

_DATETIME_VALUE = re.compile(r"Incorrect (?:datetime|timestamp) value: '\d{4}-\d\d-\d\d")

#: What a MySQL ``TIMESTAMP`` column holds (UTC), and a ``DATETIME``.
TIMESTAMP_RANGE = ("1970-01-01T00:00:01Z", "2038-01-19T03:14:07Z")
DATETIME_RANGE = ("1000-01-01T00:00:00Z", "9999-12-31T23:59:59Z")

STRICT_MODE = "STRICT_ALL_TABLES"


def out_of_range_message(field: str | None, value: str) -> str:
    """The 400's message for a date a column cannot hold, naming the column's range (a
    ``TIMESTAMP`` column's, unless the value is inside it: then a ``DATETIME``'s)."""
    instant = value.replace(" ", "T")[:19] + "Z"
    low, high = TIMESTAMP_RANGE
    if low <= instant <= high:
        low, high = DATETIME_RANGE
    return (f'Value "{value}" for field "{field}" is out of the range the database column '
            f"holds ({low} to {high}).")


class ModifyColumn(AlterTable):
    """``ALTER TABLE ... MODIFY COLUMN <full definition>``."""


@compiles(ModifyColumn)
def _modify_column(element: ModifyColumn, compiler: Any, **kw: Any) -> str:
    return (f"ALTER TABLE {AlterTable.table_sql(compiler, element)} MODIFY COLUMN "
            f"{compiler.process(CreateColumn(element.column), **kw)}")


class MySQLDialect(Dialect):
    """MySQL 8 and MariaDB 10.5 or later."""

    name = "mysql"
    distribution = "transom-dialect-mysql"
    db_clients = ("mysql", "mariadb", "mysql2")
    url_schemes = ("mysql", "mariadb")
    driver = "mysql+pymysql"
    default_driver = "mysql+pymysql"
    vendor = "mysql"
    default_port = 3306

    supports_returning = False  # MariaDB 10.5 has INSERT ... RETURNING, MySQL does not
    supports_transactional_ddl = False  # DDL commits implicitly
    supports_schemas = False  # a schema is a database
    supports_alter_column = True
    supports_foreign_keys = True
    supports_alter_constraints = True

    # -- connecting ---------------------------------------------------------------------
    def url_from_config(self, config: Config) -> URL:
        url = super().url_from_config(config)
        return url.update_query_dict({"charset": "utf8mb4"})

    def normalize_url(self, url: str | URL) -> URL:
        u = make_url(url)
        backend, _, driver = u.drivername.partition("+")
        if not driver:
            u = u.set(drivername=f"{backend}+pymysql")
        if "charset" not in u.query:
            u = u.update_query_dict({"charset": "utf8mb4"})
        return u

    def on_connect(self, dbapi_connection: Any) -> None:
        cur = dbapi_connection.cursor()
        try:
            cur.execute("SELECT @@SESSION.sql_mode")
            modes = [m for m in str(cur.fetchone()[0] or "").split(",") if m]
            if STRICT_MODE not in modes:
                modes.append(STRICT_MODE)
            cur.execute("SET SESSION sql_mode = %s", (",".join(modes),))
            cur.execute("SET time_zone = '+00:00'")
        finally:
            cur.close()

    # -- catalogue --------------------------------------------------------------------
    def introspect(
        self,
        connection: Connection,
        schema: str | None = None,
        exclude: tuple[str, ...] = (),
        only: Collection[str] | None = None,
    ) -> RawSchema:
        return introspect_mysql(connection, schema, exclude, only)

    def catalogue_fingerprint(self, connection: Connection, schema: str | None = None
                              ) -> str | None:
        """Counts and CRC32 sums over the database's ``information_schema`` rows, in one
        statement."""
        return catalogue_fingerprint_mysql(connection, schema)

    def map_type(self, data_type: str, column: Any = None) -> str:
        return map_mysql_type(data_type)

    def column_type(
        self,
        type_: str,
        max_length: int | None = None,
        precision: int | None = None,
        scale: int | None = None,
    ) -> sa.types.TypeEngine[Any]:
        from sqlalchemy.dialects import mysql

        if type_ == "timestamp":
            # TIMESTAMP ends in January 2038; DATETIME(3) holds years 1000-9999 with
            # milliseconds. Values are UTC (the session's time zone is pinned to UTC), and
            # the field's ``cast-timestamp`` special keeps it a Directus ``timestamp``.
            return mysql.DATETIME(fsp=3)
        if type_ == "uuid":
            return sa.CHAR(36)
        return super().column_type(type_, max_length, precision, scale)

    # -- expressions ------------------------------------------------------------------
    def date_part(self, part: str, expr: Any) -> Any:
        f = sa.func
        if part == "weekday":
            return f.dayofweek(expr) - 1  # DAYOFWEEK is 1 for Sunday
        if part == "week":
            return f.week(expr, 3)  # mode 3: ISO 8601 weeks
        fn = {"year": f.year, "month": f.month, "day": f.dayofmonth, "hour": f.hour,
              "minute": f.minute, "second": f.second}[part]
        return fn(expr, type_=sa.Integer)

    def json_extract(self, expr: Any, path: list[str | int]) -> Any:
        value = sa.func.json_extract(expr, _json_path(path))
        # JSON null comes back as SQL NULL, as on the other databases.
        return sa.case((sa.func.json_type(value) == "NULL", sa.null()),
                       else_=sa.func.json_unquote(value, type_=sa.Text))

    def json_array_length(self, expr: Any) -> Any:
        return sa.case((sa.func.json_type(expr) == "ARRAY", sa.func.json_length(expr)))

    def key_as_text(self, expr: Any) -> Any:
        """MySQL compares a text ``item`` with a numeric or char key on its own; a CAST
        would take the connection's collation and clash with the column's."""
        return expr

    def like(self, expr: Any, pattern: str) -> Any:
        # The binary collation on the pattern wins over the column's *_ci collation.
        return expr.like(sa.literal(pattern, sa.String).collate("utf8mb4_bin"), escape="\\")

    # -- upsert -------------------------------------------------------------------------
    # -- schema changes -------------------------------------------------------------------
    def alter_column(self, conn: Connection, table: sa.Table, column: sa.Column[Any],
                     changes: Collection[str]) -> None:
        conn.execute(ModifyColumn(table, column))  # the whole definition, whatever changed

    def upsert_statement(
        self,
        table: sa.Table,
        values: dict[str, Any],
        conflict_columns: list[str],
        update_columns: list[str] | None = None,
    ) -> Any:
        """``INSERT ... ON DUPLICATE KEY UPDATE``; MySQL matches any unique key, not only
        ``conflict_columns``. With nothing to update the key is set to itself (a no-op)."""
        from sqlalchemy.dialects.mysql import insert

        stmt = insert(table).values(**values)
        update = update_columns if update_columns is not None else [
            c for c in values if c not in conflict_columns]
        if not update:
            key = conflict_columns[0]
            return stmt.on_duplicate_key_update({key: table.c[key]})
        return stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in update})

    # -- errors -----------------------------------------------------------------------
    def replica_lag(self, connection: Connection) -> float | None:
        """``Seconds_Behind_Master`` of the replica's SQL thread (0 on a server that is not
        a replica); a stopped replication thread counts as unknown lag, taken out."""
        row = connection.exec_driver_sql("SHOW SLAVE STATUS").mappings().first()
        if row is None:
            return 0.0
        behind = row.get("Seconds_Behind_Master")
        if behind is None:
            raise RuntimeError("replication is not running on this replica")
        return float(behind)

    def classify_error(self, exc: BaseException) -> DbErrorInfo | None:
        orig = getattr(exc, "orig", None) or exc
        args = getattr(orig, "args", ())
        if not args or not isinstance(args[0], int):
            return None
        kind = ERRORS.get(args[0])
        if kind is None:
            return None
        message = str(args[1]) if len(args) > 1 else ""
        if kind == "unique":
            m = _DUPLICATE.search(message)
            if not m:
                return DbErrorInfo(kind)
            # MySQL 8 writes "table.key", MariaDB just "key".
            key = m.group("key").rsplit(".", 1)[-1]
            return DbErrorInfo(kind, value=m.group("val"), constraint=key)
        if kind == "foreign_key":
            m = _FK.search(message)
            if m and args[0] in (1452, 1216):
                return DbErrorInfo(kind, table=m.group("table"), column=m.group("col"),
                                   constraint=m.group("con"))
            return DbErrorInfo(kind, constraint=m.group("con") if m else None)
        if kind == "invalid_value":
            m = _INCORRECT.search(message)
            if m and _DATETIME_VALUE.match(message):
                # A well-formed date the column cannot hold: say so, with the range.
                column = m.group("col") or m.group("col2")
                return DbErrorInfo(kind, table=m.group("table"), column=column,
                                   value=m.group("val"),
                                   message=out_of_range_message(column, m.group("val")))
            if m:
                return DbErrorInfo(kind, table=m.group("table"),
                                   column=m.group("col") or m.group("col2"),
                                   value=m.group("val"))
        m = _COLUMN_QUOTED.search(message)
        return DbErrorInfo(kind, column=m.group("col") if m else None)


def _json_path(path: list[str | int]) -> str:
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += '."' + str(part).replace("\\", "\\\\").replace('"', '\\"') + '"'
    return out
