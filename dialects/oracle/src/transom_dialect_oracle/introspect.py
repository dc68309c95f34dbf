"""Reading Oracle's data dictionary (``ALL_*`` views) in four statements, whatever its size.

A targeted read (``only=``) runs the same four with an expanding ``IN`` of table names.

Names are reported exactly as stored: Directus creates quoted, lower-case identifiers, while
unquoted Oracle names are upper case.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transom.dialects import only_tables
from transom.schema.raw import RawColumn, RawForeignKey, RawSchema, RawTable

_OWNER = "COALESCE(:owner, SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA'))"

#: Where ``{only}`` stands in a query, a targeted read (``only=``) puts an ``IN`` filter
#: on the table's name, an expanding parameter; a full read puts nothing. The filter is in
#: the SQL; only a list longer than :data:`MAX_ONLY` is read in full and filtered in Python.
_ONLY = "AND c.table_name IN :only"

#: Oracle allows at most 1,000 expressions in an IN list (ORA-01795).
MAX_ONLY = 1000

_TABLES = f"""
SELECT o.table_name AS table_name, o.kind AS kind, c.comments AS comments
FROM (
  SELECT t.owner, t.table_name, 'TABLE' AS kind FROM all_tables t
   WHERE t.owner = {_OWNER} AND t.nested = 'NO' AND t.secondary = 'N'
     AND t.table_name NOT LIKE 'BIN$%'
  UNION ALL
  SELECT v.owner, v.view_name, 'VIEW' FROM all_views v WHERE v.owner = {_OWNER}
) o
LEFT JOIN all_tab_comments c ON c.owner = o.owner AND c.table_name = o.table_name
{{where_only}}
ORDER BY o.table_name
"""

_COLUMNS = f"""
SELECT c.table_name AS table_name, c.column_name AS column_name, c.column_id AS column_id,
       c.data_type AS data_type, c.char_length AS char_length,
       c.data_precision AS data_precision, c.data_scale AS data_scale,
       c.nullable AS nullable, c.data_default AS data_default,
       c.identity_column AS identity_column, c.virtual_column AS virtual_column,
       cc.comments AS comments
FROM all_tab_cols c
LEFT JOIN all_col_comments cc
  ON cc.owner = c.owner AND cc.table_name = c.table_name AND cc.column_name = c.column_name
WHERE c.owner = {_OWNER} AND c.hidden_column = 'NO' {{only}}
ORDER BY c.table_name, c.column_id
"""

_CONSTRAINTS = f"""
SELECT c.constraint_name AS constraint_name, c.constraint_type AS constraint_type,
       c.table_name AS table_name, c.delete_rule AS delete_rule,
       cc.column_name AS column_name, r.table_name AS foreign_table,
       r.owner AS foreign_schema, rc.column_name AS foreign_column,
       (SELECT COUNT(*) FROM all_cons_columns x
         WHERE x.owner = c.owner AND x.constraint_name = c.constraint_name) AS column_count
FROM all_constraints c
JOIN all_cons_columns cc
  ON cc.owner = c.owner AND cc.constraint_name = c.constraint_name
LEFT JOIN all_constraints r
  ON r.owner = c.r_owner AND r.constraint_name = c.r_constraint_name
LEFT JOIN all_cons_columns rc
  ON rc.owner = r.owner AND rc.constraint_name = r.constraint_name
 AND rc.position = cc.position
WHERE c.owner = {_OWNER} AND c.constraint_type IN ('P', 'U', 'R') {{only}}
"""

_INDEXES = f"""
SELECT i.table_name AS table_name, i.index_name AS index_name,
       i.uniqueness AS uniqueness, ic.column_name AS column_name,
       (SELECT COUNT(*) FROM all_ind_columns x
         WHERE x.index_owner = i.owner AND x.index_name = i.index_name) AS column_count
FROM all_indexes i
JOIN all_ind_columns ic ON ic.index_owner = i.owner AND ic.index_name = i.index_name
WHERE i.table_owner = {_OWNER} {{only_i}}
"""


def _forms(sql: str) -> tuple[str, str]:
    """(full, targeted) forms of a query written with ``{only}`` placeholders."""
    full = sql
    for mark in ("{only}", "{only_i}", "{where_only}"):
        full = full.replace(mark, "")
    targeted = (sql.replace("{only}", _ONLY)
                .replace("{only_i}", "AND i.table_name IN :only")
                .replace("{where_only}", "WHERE o.table_name IN :only"))
    return full, targeted


TABLES_SQL, TABLES_ONLY_SQL = _forms(_TABLES)
COLUMNS_SQL, COLUMNS_ONLY_SQL = _forms(_COLUMNS)
CONSTRAINTS_SQL, CONSTRAINTS_ONLY_SQL = _forms(_CONSTRAINTS)
INDEXES_SQL, INDEXES_ONLY_SQL = _forms(_INDEXES)

#: The full reads, and the same four filtered to the tables of ``only``.
QUERIES = (TABLES_SQL, COLUMNS_SQL, CONSTRAINTS_SQL, INDEXES_SQL)
ONLY_QUERIES = (TABLES_ONLY_SQL, COLUMNS_ONLY_SQL, CONSTRAINTS_ONLY_SQL, INDEXES_ONLY_SQL)

_DDL_TIME = "TO_CHAR({}, 'YYYYMMDDHH24MISS')"

#: One statement: count, ``ORA_HASH`` sum and latest ``last_ddl_time`` of the schema's
#: tables, views and indexes (any DDL on an object moves its ``last_ddl_time``), plus
#: hashes of its columns (``data_default`` is a LONG, so its length stands in) and key
#: constraints, which also catch two changes within the same second.
FINGERPRINT_SQL = f"""
SELECT
  (SELECT COUNT(*) || '.' || SUM(ORA_HASH(o.object_id || '|' || o.object_name || '|'
            || o.object_type || '|' || {_DDL_TIME.format("o.last_ddl_time")}))
          || '.' || {_DDL_TIME.format("MAX(o.last_ddl_time)")}
     FROM all_objects o
    WHERE o.owner = {_OWNER}
      AND o.object_type IN ('TABLE', 'VIEW', 'INDEX', 'MATERIALIZED VIEW'))
  || '|' ||
  (SELECT COUNT(*) || '.' || SUM(ORA_HASH(c.table_name || '|' || c.column_name || '|'
            || c.column_id || '|' || c.data_type || '|' || c.data_length || '|'
            || c.data_precision || '|' || c.data_scale || '|' || c.char_length || '|'
            || c.nullable || '|' || c.default_length || '|' || c.identity_column))
     FROM all_tab_cols c
    WHERE c.owner = {_OWNER} AND c.hidden_column = 'NO')
  || '|' ||
  (SELECT COUNT(*) || '.' || SUM(ORA_HASH(k.constraint_name || '|' || k.constraint_type
            || '|' || k.table_name || '|' || k.r_constraint_name || '|' || k.delete_rule
            || '|' || k.status || '|' || {_DDL_TIME.format("k.last_change")}))
     FROM all_constraints k
    WHERE k.owner = {_OWNER} AND k.constraint_type IN ('P', 'U', 'R'))
  AS fingerprint
FROM dual
"""

_MODIFIERS = re.compile(r"\(\s*\d+\s*\)")


def base_type(data_type: str) -> str:
    """``"TIMESTAMP(6) WITH TIME ZONE"`` -> ``"timestamp with time zone"``."""
    return " ".join(_MODIFIERS.sub("", data_type or "").split()).lower()


_TYPES: dict[str, str] = {
    "integer": "integer",
    "smallint": "integer",
    "binary_float": "float",
    "binary_double": "float",
    "float": "float",
    "varchar2": "string",
    "nvarchar2": "string",
    "varchar": "string",
    "char": "string",
    "nchar": "string",
    "clob": "text",
    "nclob": "text",
    "long": "text",
    "date": "date",
    "timestamp": "dateTime",
    "timestamp with time zone": "timestamp",
    "timestamp with local time zone": "timestamp",
    "json": "json",
    "boolean": "boolean",
    "blob": "binary",
    "raw": "binary",
    "long raw": "binary",
    "sdo_geometry": "geometry",
}


def map_oracle_type(data_type: str, precision: int | None = None,
                    scale: int | None = None) -> str:
    """Directus type of an Oracle type. ``NUMBER`` depends on precision and scale:
    ``NUMBER(1,0)`` is knex's boolean, up to 10 digits an integer, 11-19 a bigInteger."""
    base = base_type(data_type)
    if base == "number":
        if precision is None and scale is None:
            return "decimal"  # a bare NUMBER stores any number
        if scale:
            return "decimal"
        if precision is None:
            return "integer"  # INTEGER is NUMBER(*,0)
        if precision == 1:
            return "boolean"
        if precision <= 10:
            return "integer"
        return "bigInteger" if precision <= 19 else "decimal"
    return _TYPES.get(base, "unknown")


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_NOW = frozenset({"sysdate", "systimestamp", "current_timestamp", "localtimestamp",
                  "current_date"})


def parse_default(raw: str | None, type_: str) -> Any:
    """``DATA_DEFAULT`` is the SQL text as typed (often with a trailing newline)."""
    if raw is None:
        return None
    text = str(raw).strip()
    while len(text) >= 2 and text[0] == "(" and text[-1] == ")" and "(" not in text[1:-1]:
        text = text[1:-1].strip()
    if not text or text.upper() == "NULL":
        return None
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
        return "CURRENT_TIMESTAMP" if text.lower() != "current_date" else "CURRENT_DATE"
    return text


def _rows(connection: Connection, sql: str, owner: str | None,
          only: list[str] | None = None) -> list[dict[str, Any]]:
    stmt = sa.text(sql)
    params: dict[str, Any] = {"owner": owner}
    if only is not None:
        stmt = stmt.bindparams(sa.bindparam("only", expanding=True))
        params["only"] = only
    return [dict(r._mapping) for r in connection.execute(stmt, params)]


def introspect_oracle(
    connection: Connection, schema: str | None = None, exclude: tuple[str, ...] = (),
    only: Collection[str] | None = None,
) -> RawSchema:
    """Every table and view owned by ``schema`` (default: the session's current schema);
    with ``only``, just those named there (filtered in SQL, see :data:`MAX_ONLY`)."""
    names = only_tables(only)
    if names == []:
        return RawSchema(tables={}, vendor="oracle", schema_name=schema)
    wanted = None if names is None else set(names)
    if names is not None and len(names) > MAX_ONLY:
        names = None
    tables_sql, columns_sql, constraints_sql, indexes_sql = (
        QUERIES if names is None else ONLY_QUERIES)
    skip = set(exclude)
    tables: dict[str, RawTable] = {}
    for r in _rows(connection, tables_sql, schema, names):
        if r["table_name"] in skip or (wanted is not None and r["table_name"] not in wanted):
            continue
        tables[r["table_name"]] = RawTable(
            name=r["table_name"], is_view=r["kind"] == "VIEW", comment=r["comments"],
            schema=schema)

    for r in _rows(connection, columns_sql, schema, names):
        table = tables.get(r["table_name"])
        if table is None:
            continue
        precision, scale = r["data_precision"], r["data_scale"]
        type_ = map_oracle_type(r["data_type"], precision, scale)
        virtual = r["virtual_column"] == "YES"
        default = r["data_default"]
        numeric = type_ in ("integer", "bigInteger", "float", "decimal")
        table.columns.append(RawColumn(
            name=r["column_name"],
            data_type=base_type(r["data_type"]),
            type=type_,
            nullable=r["nullable"] == "Y",
            default=None if virtual or r["identity_column"] == "YES"
            else parse_default(default, type_),
            max_length=r["char_length"] if type_ == "string" and r["char_length"] else None,
            numeric_precision=precision if numeric else None,
            numeric_scale=scale if numeric else None,
            has_auto_increment=r["identity_column"] == "YES",
            is_generated=virtual,
            generation_expression=str(default).strip() if virtual and default else None,
            comment=r["comments"],
        ))

    for r in _rows(connection, constraints_sql, schema, names):
        table = tables.get(r["table_name"])
        col = table.column(r["column_name"]) if table is not None else None
        if table is None or col is None:
            continue
        if r["constraint_type"] == "P":
            col.is_primary_key = True
            if r["column_count"] == 1:
                col.is_unique = True
        elif r["constraint_type"] == "U" and r["column_count"] == 1:
            col.is_unique = True
        elif r["constraint_type"] == "R" and r["column_count"] == 1 and r["foreign_column"]:
            table.foreign_keys.append(RawForeignKey(
                table=table.name,
                column=col.name,
                foreign_table=r["foreign_table"],
                foreign_column=r["foreign_column"],
                constraint_name=r["constraint_name"],
                on_update="NO ACTION",  # Oracle has no ON UPDATE actions
                on_delete=r["delete_rule"] or "NO ACTION",
                foreign_schema=r["foreign_schema"],
            ))

    for r in _rows(connection, indexes_sql, schema, names):
        table = tables.get(r["table_name"])
        col = table.column(r["column_name"]) if table is not None else None
        if col is None or r["column_count"] != 1:
            continue
        if r["uniqueness"] == "UNIQUE":
            col.is_unique = True
        if not col.is_primary_key:
            col.is_indexed = True
    return RawSchema(tables=tables, vendor="oracle", schema_name=schema)


def catalogue_fingerprint_oracle(connection: Connection, schema: str | None = None) -> str:
    """:data:`FINGERPRINT_SQL` for ``schema`` (default: the session's current schema)."""
    (row,) = _rows(connection, FINGERPRINT_SQL, schema)
    return str(row["fingerprint"])
