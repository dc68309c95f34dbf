"""Reading MySQL's and MariaDB's ``information_schema`` in a fixed number of statements.

MariaDB has no JSON type: ``JSON`` columns become ``LONGTEXT`` with a ``json_valid()`` CHECK
constraint, so on MariaDB the check constraints are read too and such columns reported as
``json``.

A targeted read (``only=``) runs the same statements with an expanding ``IN`` parameter of
table names; :data:`FINGERPRINT_SQL` sums CRC32s of the same views in one statement.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transom.dialects import only_tables
from transom.schema.raw import RawColumn, RawForeignKey, RawSchema, RawTable

_SCHEMA = "COALESCE(:schema, DATABASE())"

#: Where ``{only}`` stands in a query, a targeted read (``only=``) puts this filter, an
#: expanding parameter listing the tables; a full read puts nothing.
_ONLY = "AND TABLE_NAME IN :only"

_TABLES = f"""
SELECT TABLE_NAME AS table_name, TABLE_TYPE AS table_type, TABLE_COMMENT AS comment
FROM information_schema.TABLES
WHERE TABLE_SCHEMA = {_SCHEMA} {{only}}
ORDER BY TABLE_NAME
"""

_COLUMNS = f"""
SELECT TABLE_NAME AS table_name, COLUMN_NAME AS column_name,
       ORDINAL_POSITION AS position, DATA_TYPE AS data_type, COLUMN_TYPE AS column_type,
       IS_NULLABLE AS is_nullable, COLUMN_DEFAULT AS column_default,
       CHARACTER_MAXIMUM_LENGTH AS max_length, NUMERIC_PRECISION AS numeric_precision,
       NUMERIC_SCALE AS numeric_scale, COLUMN_KEY AS column_key, EXTRA AS extra,
       GENERATION_EXPRESSION AS generation_expression, COLUMN_COMMENT AS comment
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = {_SCHEMA} {{only}}
ORDER BY TABLE_NAME, ORDINAL_POSITION
"""

_FOREIGN_KEYS = f"""
SELECT k.TABLE_NAME AS table_name, k.CONSTRAINT_NAME AS constraint_name,
       k.COLUMN_NAME AS column_name, k.REFERENCED_TABLE_SCHEMA AS foreign_schema,
       k.REFERENCED_TABLE_NAME AS foreign_table, k.REFERENCED_COLUMN_NAME AS foreign_column,
       r.UPDATE_RULE AS on_update, r.DELETE_RULE AS on_delete
FROM information_schema.KEY_COLUMN_USAGE k
JOIN information_schema.REFERENTIAL_CONSTRAINTS r
  ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME
 AND r.TABLE_NAME = k.TABLE_NAME
WHERE k.TABLE_SCHEMA = {_SCHEMA} AND k.REFERENCED_TABLE_NAME IS NOT NULL {{only_k}}
ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION
"""

_INDEXES = f"""
SELECT TABLE_NAME AS table_name, INDEX_NAME AS index_name, NON_UNIQUE AS non_unique,
       COLUMN_NAME AS column_name
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = {_SCHEMA} {{only}}
"""

#: MariaDB only (MySQL has a real JSON type and no TABLE_NAME in this view).
_CHECKS = f"""
SELECT TABLE_NAME AS table_name, CHECK_CLAUSE AS clause
FROM information_schema.CHECK_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA = {_SCHEMA} {{only}}
"""


def _forms(sql: str) -> tuple[str, str]:
    """(full, targeted) forms of a query written with ``{only}`` / ``{only_k}``."""
    full = sql.replace("{only}", "").replace("{only_k}", "")
    targeted = sql.replace("{only}", _ONLY).replace("{only_k}", "AND k.TABLE_NAME IN :only")
    return full, targeted


#: name -> (full form, targeted form) of each catalogue query
QUERIES = {name: _forms(sql) for name, sql in (
    ("tables", _TABLES), ("columns", _COLUMNS), ("foreign_keys", _FOREIGN_KEYS),
    ("indexes", _INDEXES), ("checks", _CHECKS))}
TABLES_SQL = QUERIES["tables"][0]
COLUMNS_SQL = QUERIES["columns"][0]
FOREIGN_KEYS_SQL = QUERIES["foreign_keys"][0]
INDEXES_SQL = QUERIES["indexes"][0]
CHECKS_SQL = QUERIES["checks"][0]


def _digest(view: str, fields: str, schema_column: str = "TABLE_SCHEMA") -> str:
    """``count.sum-of-CRC32`` of some fields of an ``information_schema`` view: the order of
    rows does not matter, any change to one row changes the sum."""
    return (f"(SELECT CONCAT(COUNT(*), '.', COALESCE(SUM(CRC32(CONCAT_WS('|', {fields}))), 0))"
            f" FROM information_schema.{view} WHERE {schema_column} = {_SCHEMA})")


_FINGERPRINT_PARTS = (
    _digest("TABLES", "TABLE_NAME, TABLE_TYPE, TABLE_COMMENT"),
    _digest("COLUMNS", "TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, IS_NULLABLE, "
                       "COLUMN_DEFAULT IS NULL, IFNULL(COLUMN_DEFAULT, ''), COLUMN_KEY, "
                       "EXTRA, IFNULL(GENERATION_EXPRESSION, ''), COLUMN_COMMENT"),
    _digest("STATISTICS", "TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, IFNULL(COLUMN_NAME, ''), "
                          "NON_UNIQUE"),
    _digest("KEY_COLUMN_USAGE", "TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION, COLUMN_NAME, "
                                "IFNULL(REFERENCED_TABLE_SCHEMA, ''), "
                                "IFNULL(REFERENCED_TABLE_NAME, ''), "
                                "IFNULL(REFERENCED_COLUMN_NAME, '')"),
    _digest("REFERENTIAL_CONSTRAINTS", "TABLE_NAME, CONSTRAINT_NAME, UPDATE_RULE, DELETE_RULE",
            "CONSTRAINT_SCHEMA"),
)

#: One statement over ``information_schema`` (tables, columns, indexes, key columns and
#: foreign-key rules of the database): none of the fields it hashes moves when rows are
#: written (no row counts, sizes, times or ``AUTO_INCREMENT``).
FINGERPRINT_SQL = "SELECT CONCAT_WS(':', " + ", ".join(_FINGERPRINT_PARTS) + ") AS fingerprint"

#: MariaDB also hashes its check constraints, where a JSON column keeps its ``json_valid``.
FINGERPRINT_MARIADB_SQL = "SELECT CONCAT_WS(':', " + ", ".join(_FINGERPRINT_PARTS + (
    _digest("CHECK_CONSTRAINTS", "TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE",
            "CONSTRAINT_SCHEMA"),)) + ") AS fingerprint"

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
    if base == "datetime" and m and m.group(1).strip() == "3":
        return "timestamp"  # what Transom creates for timestamps (plain DATETIME: dateTime)
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


def _rows(connection: Connection, queries: tuple[str, str], schema: str | None,
          only: list[str] | None) -> list[dict[str, Any]]:
    """Run the full (``only`` None) or the targeted form of one catalogue query."""
    full, targeted = queries
    if only is None:
        result = connection.execute(sa.text(full), {"schema": schema})
    else:
        stmt = sa.text(targeted).bindparams(sa.bindparam("only", expanding=True))
        result = connection.execute(stmt, {"schema": schema, "only": only})
    return [dict(r._mapping) for r in result]


def introspect_mysql(
    connection: Connection, schema: str | None = None, exclude: tuple[str, ...] = (),
    only: Collection[str] | None = None,
) -> RawSchema:
    """Every table and view of ``schema`` (a database; default: the connected one); with
    ``only``, just those named there, filtered inside the queries."""
    mariadb = bool(getattr(connection.dialect, "is_mariadb", False))
    names = only_tables(only)
    schema_name = schema or connection.dialect.default_schema_name
    if names == []:
        return RawSchema(tables={}, vendor="mysql", schema_name=schema_name)
    # information_schema may compare names case-insensitively; keep exact matches only
    wanted = None if names is None else set(names)
    skip = set(exclude)
    tables: dict[str, RawTable] = {}
    for r in _rows(connection, QUERIES["tables"], schema, names):
        if r["table_name"] in skip or (wanted is not None and r["table_name"] not in wanted):
            continue
        is_view = r["table_type"] == "VIEW"
        comment = r["comment"] or None
        tables[r["table_name"]] = RawTable(
            name=r["table_name"], is_view=is_view,
            comment=None if is_view and comment == "VIEW" else comment, schema=schema)

    json_columns: set[tuple[str, str]] = set()
    if mariadb:
        for r in _rows(connection, QUERIES["checks"], schema, names):
            m = _JSON_CHECK.match(r["clause"] or "")
            if m:
                json_columns.add((r["table_name"], m.group(1)))

    for r in _rows(connection, QUERIES["columns"], schema, names):
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
    for r in _rows(connection, QUERIES["indexes"], schema, names):
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
    for r in _rows(connection, QUERIES["foreign_keys"], schema, names):
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
    return RawSchema(tables=tables, vendor="mysql", schema_name=schema_name)


def catalogue_fingerprint_mysql(connection: Connection, schema: str | None = None) -> str:
    """:data:`FINGERPRINT_SQL` (MariaDB: :data:`FINGERPRINT_MARIADB_SQL`) for ``schema``."""
    mariadb = bool(getattr(connection.dialect, "is_mariadb", False))
    sql = FINGERPRINT_MARIADB_SQL if mariadb else FINGERPRINT_SQL
    return str(connection.execute(sa.text(sql), {"schema": schema}).scalar_one())


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
