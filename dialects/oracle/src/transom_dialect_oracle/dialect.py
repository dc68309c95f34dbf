"""The Oracle dialect (python-oracledb), Oracle 19c or later.

Tested by compiling SQL only: no Oracle server runs in CI. Capability flags state what
Oracle itself supports; the live compliance suite has not been run against it.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, make_url

from transom.dialects import DbErrorInfo, Dialect
from transom.errors import StartupError

from .introspect import catalogue_fingerprint_oracle, introspect_oracle, map_oracle_type

if TYPE_CHECKING:
    from transom.config import Config
    from transom.schema.raw import RawSchema

#: ORA- code -> error kind.
ERRORS = {
    1: "unique",
    1400: "not_null",
    1407: "not_null",
    2291: "foreign_key",
    2292: "foreign_key",
    12899: "too_long",
    1438: "out_of_range",
    1722: "invalid_value",
    1858: "invalid_value",
    1861: "invalid_value",
    1843: "invalid_value",
    1847: "invalid_value",
    2296: "contains_null",
}

_CODE = re.compile(r"ORA-(\d{5})")
_CONSTRAINT = re.compile(r"constraint \((?:[^.()]+\.)?(?P<name>[^.()]+)\)")
_QUALIFIED = re.compile(r'\("?[^".]*"?\."?(?P<table>[^".]*)"?\."?(?P<col>[^".]*)"?\)')
_TOO_LARGE = re.compile(r'column "?[^".]*"?\."?(?P<table>[^".]*)"?\."?(?P<col>[^".\s]*)"?')
_ON_TABLE = re.compile(r"on table (?:\"?[^\".\s]+\"?\.)?\"?(?P<table>[^\".\s]+)\"? columns? "
                       r"\((?P<cols>[^)]*)\)")

_FORMATS = {"year": "YYYY", "month": "MM", "week": "IW", "day": "DD", "hour": "HH24",
            "minute": "MI", "second": "SS"}


def json_path(path: list[str | int]) -> str:
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += '."' + str(part).replace('"', '\\"') + '"'
    return out


def _inline(value: str) -> Any:
    # Oracle needs JSON paths as literals; rendered into the SQL at execution time.
    return sa.bindparam(None, value, type_=sa.String, literal_execute=True)


class OracleDialect(Dialect):
    """Oracle 19c+ (JSON_VALUE item methods, identity columns)."""

    name = "oracle"
    distribution = "transom-dialect-oracle"
    db_clients = ("oracledb", "oracle")
    url_schemes = ("oracle",)
    driver = "oracle+oracledb"
    default_driver = "oracle+oracledb"
    vendor = "oracle"
    default_port = 1521

    supports_returning = True  # RETURNING ... INTO
    supports_transactional_ddl = False  # DDL commits implicitly
    supports_schemas = True  # a schema is a user
    supports_alter_column = False  # no alter_column() yet: the fields service refuses
    supports_foreign_keys = True
    supports_alter_constraints = True

    # -- connecting ---------------------------------------------------------------------
    def url_from_config(self, config: Config) -> URL:
        connect_string = config.get("DB_CONNECT_STRING")
        if connect_string and not config.get("DB_HOST"):
            return URL.create(self.default_driver, username=config.get("DB_USER"),
                              password=config.get("DB_PASSWORD"),
                              query={"dsn": str(connect_string)})
        if not config.get("DB_DATABASE"):
            raise StartupError(
                "DB_CLIENT=oracledb needs DB_DATABASE (the service name) with DB_HOST, or "
                "DB_CONNECT_STRING; or set DB_URL to a full SQLAlchemy URL.")
        return URL.create(
            self.default_driver,
            username=config.get("DB_USER"),
            password=config.get("DB_PASSWORD"),
            host=config.get("DB_HOST") or "127.0.0.1",
            port=config.get("DB_PORT") or self.default_port,
            query={"service_name": str(config.get("DB_DATABASE"))},
        )

    def normalize_url(self, url: str | URL) -> URL:
        u = make_url(url)
        if "+" not in u.drivername:
            u = u.set(drivername=self.default_driver)
        return u

    def session_statements(self) -> list[str]:
        return ["ALTER SESSION SET TIME_ZONE = 'UTC'"]

    # -- catalogue --------------------------------------------------------------------
    def introspect(
        self,
        connection: Connection,
        schema: str | None = None,
        exclude: tuple[str, ...] = (),
        only: Collection[str] | None = None,
    ) -> RawSchema:
        return introspect_oracle(connection, schema, exclude, only)

    def catalogue_fingerprint(self, connection: Connection, schema: str | None = None
                              ) -> str | None:
        """Count, hash and latest ``last_ddl_time`` of the schema's objects, with hashes of
        its columns and key constraints, in one statement."""
        return catalogue_fingerprint_oracle(connection, schema)

    def map_type(self, data_type: str, column: Any = None) -> str:
        return map_oracle_type(data_type, getattr(column, "numeric_precision", None),
                               getattr(column, "numeric_scale", None))

    def column_type(
        self,
        type_: str,
        max_length: int | None = None,
        precision: int | None = None,
        scale: int | None = None,
    ) -> sa.types.TypeEngine[Any]:
        from sqlalchemy.dialects import oracle

        if type_ == "boolean":
            return oracle.NUMBER(1, 0)  # knex's boolean; BOOLEAN needs 23ai
        if type_ in ("dateTime", "time"):
            return oracle.TIMESTAMP()  # Oracle has no TIME type
        if type_ == "timestamp":
            return oracle.TIMESTAMP(timezone=True)
        if type_ == "json":
            return sa.Text()  # CLOB: works on every supported version
        if type_ == "uuid":
            return sa.CHAR(36)
        return super().column_type(type_, max_length, precision, scale)

    # -- expressions ------------------------------------------------------------------
    def date_part(self, part: str, expr: Any) -> Any:
        if part == "weekday":
            # Days since the ISO week's Monday, shifted so Sunday is 0 (no NLS dependency).
            return sa.func.mod(sa.func.trunc(expr) - sa.func.trunc(expr, "IW") + 1, 7,
                               type_=sa.Integer)
        return sa.func.to_number(sa.func.to_char(expr, _FORMATS[part]), type_=sa.Integer)

    def json_extract(self, expr: Any, path: list[str | int]) -> Any:
        p = json_path(path)
        return sa.func.coalesce(sa.func.json_value(expr, _inline(p)),
                                sa.func.json_query(expr, _inline(p)), type_=sa.Text)

    def json_array_length(self, expr: Any) -> Any:
        is_array = sa.func.json_value(expr, _inline("$.type()")) == "array"
        size = sa.func.to_number(sa.func.json_value(expr, _inline("$.size()")),
                                 type_=sa.Integer)
        return sa.case((is_array, size))

    # -- errors -----------------------------------------------------------------------
    def classify_error(self, exc: BaseException) -> DbErrorInfo | None:
        orig = getattr(exc, "orig", None) or exc
        args = getattr(orig, "args", ())
        error = args[0] if args else None
        code = getattr(error, "code", None)
        message = str(getattr(error, "message", None) or error or orig)
        if not isinstance(code, int):
            m = _CODE.search(message)
            code = int(m.group(1)) if m else None
        kind = ERRORS.get(code or 0)
        if kind is None:
            return None
        con = _CONSTRAINT.search(message)
        constraint = con.group("name") if con else None
        if kind in ("unique", "foreign_key"):
            table = column = None
            m = _ON_TABLE.search(message)  # 23ai adds "on table T columns (C)"
            if m:
                table = m.group("table")
                cols = [c.strip().strip('"') for c in m.group("cols").split(",")]
                column = cols[0] if len(cols) == 1 else None
            return DbErrorInfo(kind, table=table, column=column, constraint=constraint)
        if kind == "not_null":
            m = _QUALIFIED.search(message)
            return DbErrorInfo(kind, table=m.group("table") if m else None,
                               column=m.group("col") if m else None)
        if kind == "too_long":
            m = _TOO_LARGE.search(message)
            return DbErrorInfo(kind, table=m.group("table") if m else None,
                               column=m.group("col") if m else None)
        return DbErrorInfo(kind, constraint=constraint)
