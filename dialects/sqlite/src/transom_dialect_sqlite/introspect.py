"""Reading SQLite's catalogue in a fixed number of statements.

The ``pragma_*`` table-valued functions joined to ``sqlite_master`` return the columns,
foreign keys and indexes of every table at once, so start-up cost does not grow with the
number of round trips.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transom.schema.raw import RawColumn, RawForeignKey, RawSchema, RawTable

_NOT_INTERNAL = "m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"

COLUMNS_SQL = f"""
SELECT m.name AS table_name, m.type AS kind, m.sql AS sql, p.cid AS cid,
       p.name AS column_name, p.type AS declared, p."notnull" AS not_null,
       p.dflt_value AS dflt_value, p.pk AS pk, p.hidden AS hidden
FROM sqlite_master AS m JOIN pragma_table_xinfo(m.name) AS p
WHERE m.type = :kind AND {_NOT_INTERNAL}
ORDER BY m.name, p.cid
"""

FOREIGN_KEYS_SQL = f"""
SELECT m.name AS table_name, f.id AS id, f.seq AS seq, f."table" AS foreign_table,
       f."from" AS column_name, f."to" AS foreign_column,
       f.on_update AS on_update, f.on_delete AS on_delete
FROM sqlite_master AS m JOIN pragma_foreign_key_list(m.name) AS f
WHERE m.type = 'table' AND {_NOT_INTERNAL}
ORDER BY m.name, f.id, f.seq
"""

INDEXES_SQL = f"""
SELECT m.name AS table_name, il.name AS index_name, il."unique" AS is_unique,
       il.origin AS origin, ii.name AS column_name
FROM sqlite_master AS m
JOIN pragma_index_list(m.name) AS il
JOIN pragma_index_info(il.name) AS ii
WHERE m.type = 'table' AND {_NOT_INTERNAL}
"""

_TYPES: dict[str, str] = {
    "integer": "integer",
    "int": "integer",
    "int2": "integer",
    "int4": "integer",
    "smallint": "integer",
    "tinyint": "integer",
    "mediumint": "integer",
    "bigint": "bigInteger",
    "int8": "bigInteger",
    "unsigned big int": "bigInteger",
    "float": "float",
    "real": "float",
    "double": "float",
    "double precision": "float",
    "decimal": "decimal",
    "numeric": "decimal",
    "varchar": "string",
    "character varying": "string",
    "varying character": "string",
    "nvarchar": "string",
    "char": "string",
    "character": "string",
    "nchar": "string",
    "native character": "string",
    "text": "text",
    "clob": "text",
    "mediumtext": "text",
    "longtext": "text",
    "boolean": "boolean",
    "bool": "boolean",
    "date": "date",
    "datetime": "dateTime",
    "timestamp": "timestamp",
    "time": "time",
    "json": "json",
    "jsonb": "json",
    "uuid": "uuid",
    "blob": "binary",
    "binary": "binary",
    "varbinary": "binary",
}

_SIZE = re.compile(r"\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")


def split_declared(declared: str | None) -> tuple[str, int | None, int | None]:
    """``"NUMERIC(10, 5)"`` -> ``("numeric", 10, 5)``; ``"VARCHAR(255)"`` -> 255, None."""
    text = (declared or "").strip()
    m = _SIZE.search(text)
    base = _SIZE.sub("", text).strip().lower()
    base = " ".join(base.split())
    if not m:
        return base, None, None
    return base, int(m.group(1)), int(m.group(2)) if m.group(2) is not None else None


def map_sqlite_type(data_type: str) -> str:
    """Directus type of a declared SQLite type, with SQLite's own affinity as the fallback."""
    base = split_declared(data_type)[0]
    if base in _TYPES:
        return _TYPES[base]
    if not base:
        return "unknown"
    if "int" in base:
        return "integer"
    if "char" in base or "clob" in base or "text" in base:
        return "text" if "text" in base or "clob" in base else "string"
    if "blob" in base:
        return "binary"
    if "real" in base or "floa" in base or "doub" in base:
        return "float"
    return "unknown"


def _wrapped(text: str) -> bool:
    """True when one pair of parentheses encloses the whole text."""
    if not (text.startswith("(") and text.endswith(")")):
        return False
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i < len(text) - 1:
            return False
    return True


def parse_default(raw: str | None, type_: str) -> Any:
    """SQLite keeps a default as the SQL text typed in DDL; return a readable value."""
    if raw is None:
        return None
    text = raw.strip()
    while _wrapped(text):
        text = text[1:-1].strip()
    upper = text.upper()
    if upper == "NULL":
        return None
    if len(text) >= 2 and text[0] == text[-1] == "'":
        value: Any = text[1:-1].replace("''", "'")
    elif upper in ("TRUE", "FALSE"):
        value = upper == "TRUE"
    elif upper in ("CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME"):
        return upper
    else:
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                return text
    if type_ == "boolean" and value in (0, 1, "0", "1"):
        return bool(int(value))
    return value


_NAMED_FK = re.compile(
    r"CONSTRAINT\s+[\"`\[]?(\w+)[\"`\]]?\s+FOREIGN\s+KEY\s*\(\s*[\"`\[]?(\w+)[\"`\]]?\s*\)",
    re.IGNORECASE,
)


def _rows(connection: Connection, sql: str, **params: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in connection.execute(sa.text(sql), params)]


def _view_rows(connection: Connection) -> list[dict[str, Any]]:
    """Columns of every view; a broken view (missing table) is skipped, not fatal."""
    try:
        return _rows(connection, COLUMNS_SQL, kind="view")
    except sa.exc.OperationalError:
        pass
    rows: list[dict[str, Any]] = []
    names = [r["name"] for r in _rows(
        connection, f"SELECT m.name AS name FROM sqlite_master AS m "
                    f"WHERE m.type = 'view' AND {_NOT_INTERNAL}")]
    for name in names:  # only reached when some view cannot be read
        try:
            rows.extend(_rows(connection, COLUMNS_SQL.replace(
                "WHERE m.type = :kind", "WHERE m.type = :kind AND m.name = :name"),
                kind="view", name=name))
        except sa.exc.OperationalError:
            continue
    return rows


def introspect_sqlite(connection: Connection, exclude: tuple[str, ...] = ()) -> RawSchema:
    """Every table and view of the ``main`` database (never alters anything)."""
    skip = set(exclude)
    column_rows = _rows(connection, COLUMNS_SQL, kind="table") + _view_rows(connection)
    fk_rows = _rows(connection, FOREIGN_KEYS_SQL)
    index_rows = _rows(connection, INDEXES_SQL)

    tables: dict[str, RawTable] = {}
    pk_counts: dict[str, int] = defaultdict(int)
    sql_of: dict[str, str] = {}
    for r in column_rows:
        if r["pk"]:
            pk_counts[r["table_name"]] += 1
    for r in column_rows:
        name = r["table_name"]
        if name in skip:
            continue
        table = tables.get(name)
        if table is None:
            table = tables[name] = RawTable(name=name, is_view=r["kind"] == "view",
                                            sql=r["sql"])
            sql_of[name] = r["sql"] or ""
        base, size, scale = split_declared(r["declared"])
        type_ = map_sqlite_type(r["declared"] or "")
        if base == "char" and size == 36:
            type_ = "uuid"  # how Directus (knex) stores uuids outside PostgreSQL
        is_pk = bool(r["pk"])
        rowid_alias = (
            is_pk and pk_counts[name] == 1 and (r["declared"] or "").strip().upper() == "INTEGER"
            and "WITHOUT ROWID" not in sql_of[name].upper() and not table.is_view
        )
        max_length = numeric_precision = numeric_scale = None
        if type_ in ("string", "uuid") or base in ("char", "varchar", "nvarchar", "nchar"):
            max_length = size
        elif type_ in ("decimal", "float", "integer", "bigInteger"):
            numeric_precision, numeric_scale = size, scale
        table.columns.append(RawColumn(
            name=r["column_name"],
            data_type=base,
            type=type_,
            nullable=not r["not_null"] and not (is_pk and rowid_alias),
            default=parse_default(r["dflt_value"], type_),
            max_length=max_length,
            numeric_precision=numeric_precision,
            numeric_scale=numeric_scale,
            is_primary_key=is_pk,
            has_auto_increment=rowid_alias,
            is_generated=r["hidden"] in (2, 3),
        ))

    # Indexes: single-column ones mark is_unique / is_indexed.
    index_cols: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in index_rows:
        index_cols[(r["table_name"], r["index_name"])].append(r)
    for (table_name, _index), cols in index_cols.items():
        table = tables.get(table_name)
        if table is None or len(cols) != 1 or cols[0]["column_name"] is None:
            continue
        col = table.column(cols[0]["column_name"])
        if col is None:
            continue
        if cols[0]["is_unique"]:
            col.is_unique = True
        if cols[0]["origin"] != "pk":
            col.is_indexed = True

    # Foreign keys: single-column only; a missing "to" means the parent's primary key.
    fks: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in fk_rows:
        fks[(r["table_name"], r["id"])].append(r)
    for (table_name, _id), parts in fks.items():
        table = tables.get(table_name)
        if table is None or len(parts) != 1:
            continue
        r = parts[0]
        foreign_column = r["foreign_column"]
        if foreign_column is None:
            parent = tables.get(r["foreign_table"])
            pks = [c.name for c in parent.columns if c.is_primary_key] if parent else []
            foreign_column = pks[0] if len(pks) == 1 else None
        if foreign_column is None:
            continue
        names = {col.lower(): con for con, col in _NAMED_FK.findall(sql_of.get(table_name, ""))}
        table.foreign_keys.append(RawForeignKey(
            table=table_name,
            column=r["column_name"],
            foreign_table=r["foreign_table"],
            foreign_column=foreign_column,
            constraint_name=names.get(str(r["column_name"]).lower()),
            on_update=r["on_update"] or "NO ACTION",
            on_delete=r["on_delete"] or "NO ACTION",
        ))
    return RawSchema(tables=tables, vendor="sqlite", schema_name=None)
