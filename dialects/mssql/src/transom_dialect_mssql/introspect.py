"""Reading SQL Server's catalogue views (``sys.*``) in four statements, whatever its size.

A targeted read (``only=``) runs the same four with an expanding ``IN`` of table names.

The ``sys`` views are used instead of ``INFORMATION_SCHEMA`` because only they carry
identity, computed-column and description (comment) details.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transom.dialects import only_tables
from transom.schema.raw import RawColumn, RawForeignKey, RawSchema, RawTable

_SCHEMA = "COALESCE(:schema, SCHEMA_NAME())"

#: Where ``{only}`` stands in a query, a targeted read (``only=``) puts an ``IN`` filter
#: on the table's name, an expanding parameter; a full read puts nothing. The filter is in
#: the SQL; only a list longer than :data:`MAX_ONLY` is read in full and filtered in Python.
_ONLY = "AND o.name IN :only"

#: SQL Server takes at most 2,100 parameters a statement.
MAX_ONLY = 2000

_TABLES = f"""
SELECT o.name AS table_name, o.type AS kind, CAST(ep.value AS NVARCHAR(4000)) AS comment
FROM sys.objects o
JOIN sys.schemas s ON s.schema_id = o.schema_id
LEFT JOIN sys.extended_properties ep
  ON ep.class = 1 AND ep.major_id = o.object_id AND ep.minor_id = 0
 AND ep.name = 'MS_Description'
WHERE s.name = {_SCHEMA} AND o.type IN ('U', 'V') AND o.is_ms_shipped = 0 {{only}}
ORDER BY o.name
"""

_COLUMNS = f"""
SELECT o.name AS table_name, c.name AS column_name, c.column_id AS column_id,
       COALESCE(bt.name, ut.name) AS data_type, c.max_length AS byte_length,
       c.precision AS numeric_precision, c.scale AS numeric_scale,
       c.is_nullable AS is_nullable, c.is_identity AS is_identity,
       c.is_computed AS is_computed, cc.definition AS generation_expression,
       dc.definition AS column_default, CAST(ep.value AS NVARCHAR(4000)) AS comment
FROM sys.columns c
JOIN sys.objects o ON o.object_id = c.object_id
JOIN sys.schemas s ON s.schema_id = o.schema_id
JOIN sys.types ut ON ut.user_type_id = c.user_type_id
LEFT JOIN sys.types bt ON bt.user_type_id = ut.system_type_id AND ut.is_user_defined = 1
LEFT JOIN sys.default_constraints dc ON dc.object_id = c.default_object_id
LEFT JOIN sys.computed_columns cc ON cc.object_id = c.object_id AND cc.column_id = c.column_id
LEFT JOIN sys.extended_properties ep
  ON ep.class = 1 AND ep.major_id = c.object_id AND ep.minor_id = c.column_id
 AND ep.name = 'MS_Description'
WHERE s.name = {_SCHEMA} AND o.type IN ('U', 'V') AND o.is_ms_shipped = 0 {{only}}
ORDER BY o.name, c.column_id
"""

_INDEXES = f"""
SELECT o.name AS table_name, i.name AS index_name, i.is_primary_key AS is_primary,
       i.is_unique AS is_unique, i.has_filter AS has_filter, col.name AS column_name,
       (SELECT COUNT(*) FROM sys.index_columns x
         WHERE x.object_id = i.object_id AND x.index_id = i.index_id
           AND x.is_included_column = 0) AS key_count
FROM sys.indexes i
JOIN sys.objects o ON o.object_id = i.object_id
JOIN sys.schemas s ON s.schema_id = o.schema_id
JOIN sys.index_columns ic
  ON ic.object_id = i.object_id AND ic.index_id = i.index_id AND ic.is_included_column = 0
JOIN sys.columns col ON col.object_id = ic.object_id AND col.column_id = ic.column_id
WHERE s.name = {_SCHEMA} AND o.type = 'U' {{only}}
"""

_FOREIGN_KEYS = f"""
SELECT fk.name AS constraint_name, tp.name AS table_name, cp.name AS column_name,
       tr.name AS foreign_table, sr.name AS foreign_schema, cr.name AS foreign_column,
       fk.update_referential_action_desc AS on_update,
       fk.delete_referential_action_desc AS on_delete,
       (SELECT COUNT(*) FROM sys.foreign_key_columns x
         WHERE x.constraint_object_id = fk.object_id) AS column_count
FROM sys.foreign_keys fk
JOIN sys.foreign_key_columns fkc ON fkc.constraint_object_id = fk.object_id
JOIN sys.objects tp ON tp.object_id = fk.parent_object_id
JOIN sys.schemas sp ON sp.schema_id = tp.schema_id
JOIN sys.columns cp
  ON cp.object_id = fkc.parent_object_id AND cp.column_id = fkc.parent_column_id
JOIN sys.objects tr ON tr.object_id = fk.referenced_object_id
JOIN sys.schemas sr ON sr.schema_id = tr.schema_id
JOIN sys.columns cr
  ON cr.object_id = fkc.referenced_object_id AND cr.column_id = fkc.referenced_column_id
WHERE sp.name = {_SCHEMA} {{only_tp}}
"""


def _forms(sql: str) -> tuple[str, str]:
    """(full, targeted) forms of a query written with ``{only}`` / ``{only_tp}``."""
    full = sql.replace("{only}", "").replace("{only_tp}", "")
    targeted = sql.replace("{only}", _ONLY).replace("{only_tp}", "AND tp.name IN :only")
    return full, targeted


TABLES_SQL, TABLES_ONLY_SQL = _forms(_TABLES)
COLUMNS_SQL, COLUMNS_ONLY_SQL = _forms(_COLUMNS)
INDEXES_SQL, INDEXES_ONLY_SQL = _forms(_INDEXES)
FOREIGN_KEYS_SQL, FOREIGN_KEYS_ONLY_SQL = _forms(_FOREIGN_KEYS)

#: The full reads, and the same four filtered to the tables of ``only``.
QUERIES = (TABLES_SQL, COLUMNS_SQL, INDEXES_SQL, FOREIGN_KEYS_SQL)
ONLY_QUERIES = (TABLES_ONLY_SQL, COLUMNS_ONLY_SQL, INDEXES_ONLY_SQL, FOREIGN_KEYS_ONLY_SQL)

_IN_SCHEMA = f"""JOIN sys.schemas s ON s.schema_id = o.schema_id
    WHERE s.name = {_SCHEMA} AND o.is_ms_shipped = 0"""

#: tables and views, and the key, default and check constraints (procedures, functions and
#: triggers may change without the tables changing)
_OBJECT_TYPES = "('U', 'V', 'PK', 'UQ', 'F', 'D', 'C')"

#: One statement: the count, ``CHECKSUM_AGG`` of ``BINARY_CHECKSUM`` (case-sensitive) and
#: latest ``modify_date`` of the schema's objects (tables, views, key and default
#: constraints; ALTER TABLE and CREATE INDEX move a table's ``modify_date``), plus the same
#: checksums over its columns and index columns. Writing rows changes none of them.
FINGERPRINT_SQL = f"""
SELECT CONCAT(
  (SELECT CONCAT(COUNT(*), '.', CHECKSUM_AGG(BINARY_CHECKSUM(
            o.object_id, o.name, o.type, o.parent_object_id, o.modify_date)),
          '.', CONVERT(VARCHAR(30), MAX(o.modify_date), 126))
     FROM sys.objects o {_IN_SCHEMA} AND o.type IN {_OBJECT_TYPES}),
  '|',
  (SELECT CONCAT(COUNT(*), '.', CHECKSUM_AGG(BINARY_CHECKSUM(
            c.object_id, c.column_id, c.name, c.user_type_id, c.max_length, c.precision,
            c.scale, c.is_nullable, c.is_identity, c.is_computed, c.default_object_id)))
     FROM sys.columns c JOIN sys.objects o ON o.object_id = c.object_id
     {_IN_SCHEMA} AND o.type IN ('U', 'V')),
  '|',
  (SELECT CONCAT(COUNT(*), '.', CHECKSUM_AGG(BINARY_CHECKSUM(
            ic.object_id, ic.index_id, ic.key_ordinal, ic.column_id, ic.is_included_column,
            i.name, i.is_unique, i.is_primary_key, i.has_filter)))
     FROM sys.index_columns ic
     JOIN sys.indexes i ON i.object_id = ic.object_id AND i.index_id = ic.index_id
     JOIN sys.objects o ON o.object_id = ic.object_id
     {_IN_SCHEMA} AND o.type IN ('U', 'V'))
) AS fingerprint
"""

_TYPES: dict[str, str] = {
    "int": "integer",
    "smallint": "integer",
    "tinyint": "integer",
    "bigint": "bigInteger",
    "real": "float",
    "float": "float",
    "decimal": "decimal",
    "numeric": "decimal",
    "money": "decimal",
    "smallmoney": "decimal",
    "bit": "boolean",
    "char": "string",
    "nchar": "string",
    "varchar": "string",
    "nvarchar": "string",
    "text": "text",
    "ntext": "text",
    "xml": "text",
    "date": "date",
    "datetime": "dateTime",
    "datetime2": "dateTime",
    "smalldatetime": "dateTime",
    "datetimeoffset": "timestamp",
    "time": "time",
    "uniqueidentifier": "uuid",
    "binary": "binary",
    "varbinary": "binary",
    "image": "binary",
    "json": "json",
    "geometry": "geometry",
    "geography": "geometry",
}

_WIDE = frozenset({"nchar", "nvarchar"})


def map_mssql_type(data_type: str, max_length: int | None = None) -> str:
    """Directus type of a SQL Server type; ``(n)varchar(max)`` (length -1) is text."""
    base = re.sub(r"\(.*\)", "", (data_type or "").strip().lower()).strip()
    if "(max)" in (data_type or "").lower() or max_length == -1:
        if base in ("varchar", "nvarchar"):
            return "text"
    return _TYPES.get(base, "unknown")


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_NOW = frozenset({"getdate()", "sysdatetime()", "current_timestamp", "getutcdate()",
                  "sysutcdatetime()", "sysdatetimeoffset()"})


def parse_default(raw: str | None, type_: str) -> Any:
    """SQL Server keeps defaults wrapped in parentheses: ``('draft')``, ``((0))``."""
    if raw is None:
        return None
    text = raw.strip()
    while len(text) >= 2 and text[0] == "(" and text[-1] == ")" and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    if text.upper() == "NULL":
        return None
    if text[:2].upper() == "N'" and text.endswith("'"):
        text = text[1:]
    if len(text) >= 2 and text[0] == text[-1] == "'":
        literal = text[1:-1].replace("''", "'")
        if type_ in ("integer", "bigInteger", "float", "decimal") and _NUMBER.match(literal):
            return int(literal) if "." not in literal else float(literal)
        return literal
    if _NUMBER.match(text):
        number: Any = int(text) if "." not in text else float(text)
        if type_ == "boolean" and number in (0, 1):
            return bool(number)
        return number
    if text.lower() in _NOW:
        return "CURRENT_TIMESTAMP"
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0


def _rows(connection: Connection, sql: str, schema: str | None,
          only: list[str] | None = None) -> list[dict[str, Any]]:
    stmt = sa.text(sql)
    params: dict[str, Any] = {"schema": schema}
    if only is not None:
        stmt = stmt.bindparams(sa.bindparam("only", expanding=True))
        params["only"] = only
    return [dict(r._mapping) for r in connection.execute(stmt, params)]


def introspect_mssql(
    connection: Connection, schema: str | None = None, exclude: tuple[str, ...] = (),
    only: Collection[str] | None = None,
) -> RawSchema:
    """Every table and view of ``schema`` (default: the user's default schema); with
    ``only``, just those named there (filtered in SQL, see :data:`MAX_ONLY`)."""
    names = only_tables(only)
    if names == []:
        return RawSchema(tables={}, vendor="mssql", schema_name=schema)
    # Names are compared exactly here too: the server's collation may ignore case.
    wanted = None if names is None else set(names)
    if names is not None and len(names) > MAX_ONLY:
        names = None
    tables_sql, columns_sql, indexes_sql, fks_sql = QUERIES if names is None else ONLY_QUERIES
    skip = set(exclude)
    tables: dict[str, RawTable] = {}
    for r in _rows(connection, tables_sql, schema, names):
        if r["table_name"] in skip or (wanted is not None and r["table_name"] not in wanted):
            continue
        tables[r["table_name"]] = RawTable(
            name=r["table_name"], is_view=str(r["kind"]).strip() == "V", comment=r["comment"],
            schema=schema)

    for r in _rows(connection, columns_sql, schema, names):
        table = tables.get(r["table_name"])
        if table is None:
            continue
        data_type = str(r["data_type"]).lower()
        byte_length = r["byte_length"]
        type_ = map_mssql_type(data_type, byte_length)
        max_length = None
        if type_ in ("string", "text") and byte_length is not None and byte_length > 0:
            max_length = byte_length // 2 if data_type in _WIDE else byte_length
        numeric = type_ in ("integer", "bigInteger", "float", "decimal")
        computed = bool(r["is_computed"])
        table.columns.append(RawColumn(
            name=r["column_name"],
            data_type=data_type,
            type=type_,
            nullable=bool(r["is_nullable"]),
            default=parse_default(r["column_default"], type_),
            max_length=max_length,
            numeric_precision=r["numeric_precision"] if numeric else None,
            numeric_scale=r["numeric_scale"] if numeric else None,
            has_auto_increment=bool(r["is_identity"]),
            is_generated=computed,
            generation_expression=r["generation_expression"] if computed else None,
            comment=r["comment"],
        ))

    for r in _rows(connection, indexes_sql, schema, names):
        table = tables.get(r["table_name"])
        col = table.column(r["column_name"]) if table is not None else None
        if col is None:
            continue
        if r["is_primary"]:
            col.is_primary_key = True
        if r["key_count"] != 1 or r["has_filter"]:
            continue
        if r["is_unique"]:
            col.is_unique = True
        if not r["is_primary"]:
            col.is_indexed = True

    for r in _rows(connection, fks_sql, schema, names):
        table = tables.get(r["table_name"])
        if table is None or r["column_count"] != 1:
            continue
        table.foreign_keys.append(RawForeignKey(
            table=table.name,
            column=r["column_name"],
            foreign_table=r["foreign_table"],
            foreign_column=r["foreign_column"],
            constraint_name=r["constraint_name"],
            on_update=str(r["on_update"] or "NO_ACTION").replace("_", " "),
            on_delete=str(r["on_delete"] or "NO_ACTION").replace("_", " "),
            foreign_schema=r["foreign_schema"],
        ))
    return RawSchema(tables=tables, vendor="mssql", schema_name=schema)


def catalogue_fingerprint_mssql(connection: Connection, schema: str | None = None) -> str:
    """:data:`FINGERPRINT_SQL` for ``schema`` (default: the user's default schema)."""
    (row,) = _rows(connection, FINGERPRINT_SQL, schema)
    return str(row["fingerprint"])
