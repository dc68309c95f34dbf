"""Reading MySQL's and MariaDB's ``information_schema`` in a fixed number of statements.

MariaDB has no JSON type: ``JSON`` columns become ``LONGTEXT`` with a ``json_valid()`` CHECK
constraint, so on MariaDB the check constraints are read too and such columns reported as
``json``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transom.schema.raw import RawColumn, RawForeignKey, RawSchema, RawTable

_SCHEMA = "COALESCE(:schema, DATABASE())"

TABLES_SQL = f"""
SELECT TABLE_NAME AS table_name, TABLE_TYPE AS table_type, TABLE_COMMENT AS comment
FROM information_schema.TABLES
WHERE TABLE_SCHEMA = {_SCHEMA}
ORDER BY TABLE_NAME
"""

COLUMNS_SQL = f"""
SELECT TABLE_NAME AS table_name, COLUMN_NAME AS column_name,
       ORDINAL_POSITION AS position, DATA_TYPE AS data_type, COLUMN_TYPE AS column_type,
       IS_NULLABLE AS is_nullable, COLUMN_DEFAULT AS column_default,
       CHARACTER_MAXIMUM_LENGTH AS max_length, NUMERIC_PRECISION AS numeric_precision,
       NUMERIC_SCALE AS numeric_scale, COLUMN_KEY AS column_key, EXTRA AS extra,
       GENERATION_EXPRESSION AS generation_expression, COLUMN_COMMENT AS comment
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = {_SCHEMA}
ORDER BY TABLE_NAME, ORDINAL_POSITION
"""

FOREIGN_KEYS_SQL = f"""
SELECT k.TABLE_NAME AS table_name, k.CONSTRAINT_NAME AS constraint_name,
       k.COLUMN_NAME AS column_name, k.REFERENCED_TABLE_SCHEMA AS foreign_schema,
       k.REFERENCED_TABLE_NAME AS foreign_table, k.REFERENCED_COLUMN_NAME AS foreign_column,
       r.UPDATE_RULE AS on_update, r.DELETE_RULE AS on_delete
FROM information_schema.KEY_COLUMN_USAGE k
JOIN information_schema.REFERENTIAL_CONSTRAINTS r
  ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME
 AND r.TABLE_NAME = k.TABLE_NAME
WHERE k.TABLE_SCHEMA = {_SCHEMA} AND k.REFERENCED_TABLE_NAME IS NOT NULL
ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION
"""

INDEXES_SQL = f"""
SELECT TABLE_NAME AS table_name, INDEX_NAME AS index_name, NON_UNIQUE AS non_unique,
       COLUMN_NAME AS column_name
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = {_SCHEMA}
"""

#: MariaDB only (MySQL has a real JSON type and no TABLE_NAME in this view).
CHECKS_SQL = f"""
SELECT TABLE_NAME AS table_name, CHECK_CLAUSE AS clause
FROM information_schema.CHECK_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA = {_SCHEMA}
"""

_JSON_CHECK = re.compile(r"^\s*json_valid\s*\(\s*`?([^`()]+?)`?\s*\)\s*$", re.IGNORECASE)

_TYPES: dict[str, str] = {
    "tinyint": "integer",
    "smallint": "integer",
    "mediumint": "integer",
    "int": "integer",
    "integer": "integer",
    "year": "integer",
    "bigint": "bigInteger",
    "float": "float",
    "double": "float",
    "double precision": "float",
    "real": "float",
    "decimal": "decimal",
    "numeric": "decimal",
    "varchar": "string",
    "char": "string",
    "enum": "string",
    "set": "string",
    "tinytext": "text",
    "text": "text",
    "mediumtext": "text",
    "longtext": "text",
    "bit": "boolean",
    "bool": "boolean",
    "boolean": "boolean",
    "date": "date",
    "datetime": "dateTime",
    "timestamp": "timestamp",
    "time": "time",
    "json": "json",
    "uuid": "uuid",
    "binary": "binary",
    "varbinary": "binary",
    "tinyblob": "binary",
    "blob": "binary",
    "mediumblob": "binary",
    "longblob": "binary",
    "geometry": "geometry",
    "point": "geometry",
    "linestring": "geometry",
    "polygon": "geometry",
    "multipoint": "geometry",
    "multilinestring": "geometry",
    "multipolygon": "geometry",
    "geometrycollection": "geometry",
}

_PARENS = re.compile(r"\(([^)]*)\)")


def map_mysql_type(data_type: str) -> str:
    """Directus type of a MySQL type; pass ``COLUMN_TYPE`` (``tinyint(1)``) when known."""
    text = (data_type or "").strip().lower()
    m = _PARENS.search(text)
    base = " ".join(_PARENS.sub("", text).replace("unsigned", "").replace(
        "zerofill", "").split())
    if base in ("tinyint", "bit") and m and m.group(1).strip() == "1":
        return "boolean"
    if base == "bit":
        return "unknown"
    if base == "char" and m and m.group(1).strip() == "36":
        return "uuid"  # how Directus (knex) stores uuids on MySQL
    return _TYPES.get(base, "unknown")


_NUMBER = re.compile(r"^-?\d+(\.\d+)?(e[+-]?\d+)?$", re.IGNORECASE)
_NOW = re.compile(r"^(current_timestamp|now|localtimestamp)(\(\d*\))?$", re.IGNORECASE)


def _number(text: str) -> int | float | None:
    if not _NUMBER.match(text):
        return None
    return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


def parse_default(raw: str | None, type_: str, extra: str, mariadb: bool) -> Any:
    """A readable default from ``COLUMN_DEFAULT``.

    MariaDB quotes literals (``'draft'``) and writes ``NULL`` for no default; MySQL gives
    literals bare and flags expressions with ``DEFAULT_GENERATED`` in ``EXTRA``.
    """
    if raw is None:
        return None
    text = str(raw)
    literal: str | None
    if mariadb:
        if text == "NULL":
            return None
        if len(text) >= 2 and text[0] == text[-1] == "'":
            literal = text[1:-1].replace("''", "'").replace("\\\\", "\\")
        elif _number(text) is not None:
            literal = text
        else:
            literal = None
    else:
        literal = None if "DEFAULT_GENERATED" in (extra or "").upper() else text
    if literal is None:  # an expression
        if _NOW.match(text.strip("()")):
            return "CURRENT_TIMESTAMP"
        return text
    if type_ == "boolean" and literal in ("0", "1"):
        return literal == "1"
    if type_ in ("integer", "bigInteger", "float", "decimal"):
        number = _number(literal)
        return literal if number is None else number
    return literal


def _rows(connection: Connection, sql: str, schema: str | None) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in connection.execute(sa.text(sql), {"schema": schema})]


def introspect_mysql(
    connection: Connection, schema: str | None = None, exclude: tuple[str, ...] = ()
) -> RawSchema:
    """Every table and view of ``schema`` (a database; default: the connected one)."""
    mariadb = bool(getattr(connection.dialect, "is_mariadb", False))
    skip = set(exclude)
    tables: dict[str, RawTable] = {}
    for r in _rows(connection, TABLES_SQL, schema):
        if r["table_name"] in skip:
            continue
        is_view = r["table_type"] == "VIEW"
        comment = r["comment"] or None
        tables[r["table_name"]] = RawTable(
            name=r["table_name"], is_view=is_view,
            comment=None if is_view and comment == "VIEW" else comment, schema=schema)

    json_columns: set[tuple[str, str]] = set()
    if mariadb:
        for r in _rows(connection, CHECKS_SQL, schema):
            m = _JSON_CHECK.match(r["clause"] or "")
            if m:
                json_columns.add((r["table_name"], m.group(1)))

    for r in _rows(connection, COLUMNS_SQL, schema):
        table = tables.get(r["table_name"])
        if table is None:
            continue
        data_type = str(r["data_type"]).lower()
        type_ = map_mysql_type(str(r["column_type"]))
        if (table.name, r["column_name"]) in json_columns:
            type_ = "json"
        extra = str(r["extra"] or "")
        generated = "GENERATED" in extra.upper() and "DEFAULT_GENERATED" not in extra.upper()
        max_length = r["max_length"] if type_ in ("string", "uuid") else None
        table.columns.append(RawColumn(
            name=r["column_name"],
            data_type=data_type,
            type=type_,
            nullable=r["is_nullable"] == "YES",
            default=None if generated else parse_default(
                r["column_default"], type_, extra, mariadb),
            max_length=int(max_length) if max_length is not None else None,
            numeric_precision=_int(r["numeric_precision"]),
            numeric_scale=_int(r["numeric_scale"]),
            is_primary_key=r["column_key"] == "PRI",
            has_auto_increment="auto_increment" in extra.lower(),
            is_generated=generated,
            generation_expression=(r["generation_expression"] or None) if generated else None,
            comment=r["comment"] or None,
        ))

    indexes: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in _rows(connection, INDEXES_SQL, schema):
        indexes[(r["table_name"], r["index_name"])].append(r)
    for (table_name, index_name), cols in indexes.items():
        table = tables.get(table_name)
        if table is None or len(cols) != 1 or cols[0]["column_name"] is None:
            continue
        col = table.column(cols[0]["column_name"])
        if col is None:
            continue
        if not int(cols[0]["non_unique"]):
            col.is_unique = True
        if index_name != "PRIMARY":
            col.is_indexed = True

    fks: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in _rows(connection, FOREIGN_KEYS_SQL, schema):
        fks[(r["table_name"], r["constraint_name"])].append(r)
    for (table_name, constraint), parts in fks.items():
        table = tables.get(table_name)
        if table is None or len(parts) != 1:
            continue
        r = parts[0]
        table.foreign_keys.append(RawForeignKey(
            table=table_name,
            column=r["column_name"],
            foreign_table=r["foreign_table"],
            foreign_column=r["foreign_column"],
            constraint_name=constraint,
            on_update=r["on_update"] or "NO ACTION",
            on_delete=r["on_delete"] or "NO ACTION",
            foreign_schema=r["foreign_schema"],
        ))
    return RawSchema(tables=tables, vendor="mysql",
                     schema_name=schema or connection.dialect.default_schema_name)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
