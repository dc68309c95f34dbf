"""The Microsoft SQL Server dialect (pyodbc), SQL Server 2017 or later.

Tested by compiling SQL only: no SQL Server runs in CI. Capability flags state what SQL
Server itself supports; the live compliance suite has not been run against it.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from transom.dialects import DbErrorInfo, Dialect
from transom.errors import StartupError

from .introspect import catalogue_fingerprint_mssql, introspect_mssql, map_mssql_type

if TYPE_CHECKING:
    from transom.config import Config
    from transom.schema.raw import RawSchema

DEFAULT_ODBC_DRIVER = "ODBC Driver 18 for SQL Server"

#: SQL Server error number -> error kind.
ERRORS = {
    2627: "unique",
    2601: "unique",
    515: "not_null",
    547: "foreign_key",
    2628: "too_long",
    8152: "too_long",
    8115: "out_of_range",
    220: "out_of_range",
    232: "out_of_range",
    245: "invalid_value",
    8114: "invalid_value",
    241: "invalid_value",
    242: "invalid_value",
}

#: A message and its number as pyodbc formats it: "...[SQL Server]<message> (2627)".
_ODBC = re.compile(r"\[SQL Server\](?P<msg>.*?)\s*\((?P<num>\d+)\)", re.DOTALL)
_CONSTRAINT = re.compile(r"constraint [\"'](?P<name>[^\"']+)[\"']")
_OBJECT = re.compile(r"object '(?:[^'.]+\.)?(?P<table>[^'.]+)'")
_DUP_VALUE = re.compile(r"The duplicate key value is \((?P<val>.*)\)\.", re.DOTALL)
_INDEX = re.compile(r"unique index '(?P<name>[^']+)'")
_NULL_COL = re.compile(r"column '(?P<col>[^']+)', table '(?:[^']*\.)?(?P<table>[^'.]+)'")
_TRUNC = re.compile(r"in table '(?:[^']*\.)?(?P<table>[^'.]+)', column '(?P<col>[^']+)'\."
                    r"(?: Truncated value: '(?P<val>.*)')?", re.DOTALL)
_CONVERT = re.compile(r"converting the \w+ value '(?P<val>.*)' to data type", re.DOTALL)

_DATEPARTS = {"year": "year", "month": "month", "week": "iso_week", "day": "day",
              "hour": "hour", "minute": "minute", "second": "second"}


def json_path(path: list[str | int]) -> str:
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += '."' + str(part).replace('"', '\\"') + '"'
    return out


class MSSQLDialect(Dialect):
    """SQL Server 2017+ (``JSON_VALUE`` with a path, ``OPENJSON``, ``iso_week``)."""

    name = "mssql"
    distribution = "transom-dialect-mssql"
    db_clients = ("mssql",)
    url_schemes = ("mssql",)
    driver = "mssql+pyodbc"
    default_driver = "mssql+pyodbc"
    vendor = "mssql"
    default_port = 1433

    supports_returning = True  # OUTPUT INSERTED.*
    supports_transactional_ddl = True
    supports_schemas = True
    supports_alter_column = False  # no alter_column() yet: the fields service refuses
    supports_foreign_keys = True
    supports_alter_constraints = True

    #: Collation used to make LIKE case-sensitive whatever the column's collation is.
    case_sensitive_collation = "Latin1_General_100_CS_AS"

    # -- connecting ---------------------------------------------------------------------
    def _odbc_query(self, config: Config | None) -> dict[str, str]:
        get = config.get if config is not None else (lambda _k, d=None: d)
        query = {"driver": str(get("DB_ODBC_DRIVER") or DEFAULT_ODBC_DRIVER)}
        encrypt = get("DB_OPTIONS__ENCRYPT", get("DB_ENCRYPT"))
        if encrypt is not None:
            query["Encrypt"] = "yes" if str(encrypt).lower() in ("1", "true", "yes") else "no"
        trust = get("DB_OPTIONS__TRUST_SERVER_CERTIFICATE", get("DB_TRUST_SERVER_CERTIFICATE"))
        if trust is not None and str(trust).lower() in ("1", "true", "yes"):
            query["TrustServerCertificate"] = "yes"
        return query

    def url_from_config(self, config: Config) -> URL:
        return super().url_from_config(config).update_query_dict(self._odbc_query(config))

    def normalize_url(self, url: str | URL) -> URL:
        u = make_url(url)
        if "+" not in u.drivername:
            u = u.set(drivername=self.default_driver)
        if u.drivername.endswith("+pyodbc") and "driver" not in u.query \
                and "odbc_connect" not in u.query:
            u = u.update_query_dict({"driver": self._odbc_query(self.config)["driver"]})
        return u

    def create_engine(self, url: URL, config: Config) -> Engine:
        try:
            return super().create_engine(url, config)
        except ImportError as exc:  # pyodbc present, but unixODBC or its driver missing
            raise StartupError(
                f"Cannot load the SQL Server driver ({exc}). Install unixODBC and "
                f"'{DEFAULT_ODBC_DRIVER}' (or set DB_ODBC_DRIVER), then restart."
            ) from exc

    def session_statements(self) -> list[str]:
        # English messages: classify_error reads column names out of them.
        return ["SET LANGUAGE us_english"]

    # -- catalogue --------------------------------------------------------------------
    def introspect(
        self,
        connection: Connection,
        schema: str | None = None,
        exclude: tuple[str, ...] = (),
        only: Collection[str] | None = None,
    ) -> RawSchema:
        return introspect_mssql(connection, schema, exclude, only)

    def catalogue_fingerprint(self, connection: Connection, schema: str | None = None
                              ) -> str | None:
        """Counts, checksums and the latest ``modify_date`` of the schema's ``sys.objects``,
        ``sys.columns`` and index columns, in one statement."""
        return catalogue_fingerprint_mssql(connection, schema)

    def map_type(self, data_type: str, column: Any = None) -> str:
        return map_mssql_type(data_type, getattr(column, "max_length", None))

    def column_type(
        self,
        type_: str,
        max_length: int | None = None,
        precision: int | None = None,
        scale: int | None = None,
    ) -> sa.types.TypeEngine[Any]:
        from sqlalchemy.dialects import mssql

        if type_ in ("string", "hash", "csv"):
            return sa.Unicode(max_length or 255)
        if type_ in ("text", "json"):
            return mssql.NVARCHAR("max")
        if type_ == "dateTime":
            return mssql.DATETIME2()
        if type_ == "timestamp":
            return mssql.DATETIMEOFFSET()
        if type_ == "time":
            return mssql.TIME()
        if type_ == "uuid":
            return mssql.UNIQUEIDENTIFIER(as_uuid=False)
        if type_ == "binary":
            return mssql.VARBINARY("max")
        return super().column_type(type_, max_length, precision, scale)

    # -- expressions ------------------------------------------------------------------
    def date_part(self, part: str, expr: Any) -> Any:
        type_ = getattr(expr, "type", None)
        if getattr(type_, "timezone", False):
            expr = sa.func.switchoffset(expr, "+00:00")  # parts in UTC, like the others
        if part == "weekday":
            # DATEPART(weekday) depends on SET DATEFIRST; this is 0 for Sunday regardless.
            day = sa.func.datepart(sa.literal_column("weekday"), expr, type_=sa.Integer)
            return (day + sa.literal_column("@@DATEFIRST") + 6) % 7
        return sa.func.datepart(sa.literal_column(_DATEPARTS[part]), expr, type_=sa.Integer)

    def json_extract(self, expr: Any, path: list[str | int]) -> Any:
        # The path must be a literal before SQL Server 2017; render it inline.
        p = sa.bindparam(None, json_path(path), type_=sa.Unicode, literal_execute=True)
        return sa.func.coalesce(sa.func.json_value(expr, p), sa.func.json_query(expr, p),
                                type_=sa.UnicodeText)

    def json_array_length(self, expr: Any) -> Any:
        count = sa.select(sa.func.count()).select_from(
            sa.func.openjson(expr).alias("transom_json")).scalar_subquery()
        is_array = sa.and_(sa.func.isjson(expr) == 1,
                           sa.func.left(sa.func.ltrim(expr), 1) == "[")
        return sa.case((is_array, count))

    def like(self, expr: Any, pattern: str) -> Any:
        return sa.collate(expr, self.case_sensitive_collation).like(pattern, escape="\\")

    # -- errors -----------------------------------------------------------------------
    def classify_error(self, exc: BaseException) -> DbErrorInfo | None:
        orig = getattr(exc, "orig", None) or exc
        args = getattr(orig, "args", ())
        number: int | None = None
        message = ""
        if args and isinstance(args[0], int):  # pymssql style: (number, message)
            number = args[0]
            raw = args[1] if len(args) > 1 else b""
            message = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        else:
            m = _ODBC.search(" ".join(str(a) for a in args) or str(orig))
            if m:
                number, message = int(m.group("num")), m.group("msg")
        kind = ERRORS.get(number or 0)
        if kind is None:
            return None
        if kind == "unique":
            con = _CONSTRAINT.search(message) or _INDEX.search(message)
            obj = _OBJECT.search(message)
            val = _DUP_VALUE.search(message)
            return DbErrorInfo(kind, table=obj.group("table") if obj else None,
                               value=val.group("val") if val else None,
                               constraint=con.group("name") if con else None)
        if kind == "not_null":
            m = _NULL_COL.search(message)
            if "ALTER TABLE" in message:
                kind = "contains_null"
            return DbErrorInfo(kind, table=m.group("table") if m else None,
                               column=m.group("col") if m else None)
        if kind == "foreign_key":
            if "FOREIGN KEY" not in message and "REFERENCE" not in message:
                return None  # 547 is also a CHECK constraint conflict
            con = _CONSTRAINT.search(message)
            return DbErrorInfo(kind, constraint=con.group("name") if con else None)
        if kind == "too_long":
            m = _TRUNC.search(message)
            if m:
                return DbErrorInfo(kind, table=m.group("table"), column=m.group("col"),
                                   value=m.group("val"))
            return DbErrorInfo(kind)
        if kind == "invalid_value":
            m = _CONVERT.search(message)
            return DbErrorInfo(kind, value=m.group("val") if m else None)
        return DbErrorInfo(kind)
