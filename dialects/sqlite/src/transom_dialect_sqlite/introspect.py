"""Reading SQLite's catalogue in a fixed number of statements.

The ``pragma_*`` table-valued functions joined to ``sqlite_master`` return the columns,
foreign keys and indexes of every table at once, so start-up cost does not grow with the
number of round trips.
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

_NOT_INTERNAL = "m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"

#: Where ``{only}`` stands in a query, a targeted read (``only=``) puts this filter, whose
#: expanding parameter lists the tables; a full read puts nothing.
_ONLY = "AND m.name IN :only"

_COLUMNS = f"""
SELECT m.name AS table_name, m.type AS kind, m.sql AS sql, p.cid AS cid,
       p.name AS column_name, p.type AS declared, p."notnull" AS not_null,
       p.dflt_value AS dflt_value, p.pk AS pk, p.hidden AS hidden
FROM sqlite_master AS m JOIN pragma_table_xinfo(m.name) AS p
WHERE m.type = :kind AND {_NOT_INTERNAL} {{only}}
ORDER BY m.name, p.cid
"""

_FOREIGN_KEYS = f"""
SELECT m.name AS table_name, f.id AS id, f.seq AS seq, f."table" AS foreign_table,
       f."from" AS column_name, f."to" AS foreign_column,
       f.on_update AS on_update, f.on_delete AS on_delete
FROM sqlite_master AS m JOIN pragma_foreign_key_list(m.name) AS f
WHERE m.type = 'table' AND {_NOT_INTERNAL} {{only}}
ORDER BY m.name, f.id, f.seq
"""

_INDEXES = f"""
SELECT m.name AS table_name, il.name AS index_name, il."unique" AS is_unique,
       il.origin AS origin, ii.name AS column_name
FROM sqlite_master AS m
JOIN pragma_index_list(m.name) AS il
JOIN pragma_index_info(il.name) AS ii
WHERE m.type = 'table' AND {_NOT_INTERNAL} {{only}}
"""

COLUMNS_SQL = _COLUMNS.replace("{only}", "")
FOREIGN_KEYS_SQL = _FOREIGN_KEYS.replace("{only}", "")
INDEXES_SQL = _INDEXES.replace("{only}", "")
COLUMNS_ONLY_SQL = _COLUMNS.replace("{only}", _ONLY)
FOREIGN_KEYS_ONLY_SQL = _FOREIGN_KEYS.replace("{only}", _ONLY)
INDEXES_ONLY_SQL = _INDEXES.replace("{only}", _ONLY)

#: The primary-key columns of the parents that a targeted read's foreign keys reference
#: without naming a column (``REFERENCES parent``), when those parents were not read.
PARENT_KEYS_SQL = f"""
SELECT m.name AS table_name, p.name AS column_name
FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p
WHERE m.type = 'table' AND {_NOT_INTERNAL} AND p.pk > 0 AND m.name IN :only
ORDER BY m.name, p.pk
"""

#: Increments on every change to the schema of the database file, by any connection.
FINGERPRINT_SQL = "PRAGMA schema_version"

#: Longer ``only`` lists are read in full and filtered here (old SQLite builds allow 999
#: bound parameters a statement; naming this many tables is nearly a full read anyway).
MAX_ONLY = 500

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
    "decimal_text": "decimal",  # Transom's exact decimals (TEXT affinity, see .decimals)
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


def _rows(connection: Connection, sql: str, only: list[str] | None = None,
          **params: Any) -> list[dict[str, Any]]:
    stmt = sa.text(sql)
    if only is not None:
        stmt = stmt.bindparams(sa.bindparam("only", expanding=True))
        params["only"] = only
    return [dict(r._mapping) for r in connection.execute(stmt, params)]


def _view_rows(connection: Connection, only: list[str] | None) -> list[dict[str, Any]]:
    """Columns of every view (of the views in ``only``); a broken view (missing table) is
    skipped, not fatal."""
    sql = COLUMNS_SQL if only is None else COLUMNS_ONLY_SQL
    try:
        return _rows(connection, sql, only, kind="view")
    except sa.exc.OperationalError:
        pass
    rows: list[dict[str, Any]] = []
    names = [r["name"] for r in _rows(
        connection, f"SELECT m.name AS name FROM sqlite_master AS m "
                    f"WHERE m.type = 'view' AND {_NOT_INTERNAL} "
                    f"{'' if only is None else _ONLY}", only)]
    for name in names:  # only reached when some view cannot be read
        try:
            rows.extend(_rows(connection, COLUMNS_SQL.replace(
                "WHERE m.type = :kind", "WHERE m.type = :kind AND m.name = :name"),
                kind="view", name=name))
        except sa.exc.OperationalError:
            continue
    return rows


def introspect_sqlite(
    connection: Connection, exclude: tuple[str, ...] = (), only: Collection[str] | None = None
) -> RawSchema:
    """Every table and view of the ``main`` database (never alters anything); with
    ``only``, just the tables and views named there, filtered inside the queries."""
    names = only_tables(only)
    skip = set(exclude)
    wanted = None if names is None else set(names)
    if names is not None and len(names) > MAX_ONLY:
        names = None  # read everything, keep the wanted ones below
    if names == []:
        return RawSchema(tables={}, vendor="sqlite", schema_name=None)
    targeted = names is not None
    column_rows = _rows(connection, COLUMNS_ONLY_SQL if targeted else COLUMNS_SQL, names,
                        kind="table") + _view_rows(connection, names)
    fk_rows = _rows(connection, FOREIGN_KEYS_ONLY_SQL if targeted else FOREIGN_KEYS_SQL, names)
    index_rows = _rows(connection, INDEXES_ONLY_SQL if targeted else INDEXES_SQL, names)
    # SQL filters by name, exactly; views that cannot be read are left out as in a full read

    tables: dict[str, RawTable] = {}
    pk_counts: dict[str, int] = defaultdict(int)
    #: primary-key columns of every table read (excluded or not)
    pk_columns: dict[str, list[str]] = defaultdict(list)
    sql_of: dict[str, str] = {}
    for r in column_rows:
        if r["pk"]:
            pk_counts[r["table_name"]] += 1
            if r["kind"] == "table":
                pk_columns[r["table_name"]].append(r["column_name"])
    for r in column_rows:
        name = r["table_name"]
        if name in skip or (wanted is not None and name not in wanted):
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
        if r["table_name"] in tables:
            fks[(r["table_name"], r["id"])].append(r)
    if names is not None:  # a full read has every table's key already
        implicit = {parts[0]["foreign_table"] for parts in fks.values()
                    if len(parts) == 1 and parts[0]["foreign_column"] is None}
        unread = sorted(implicit - set(names))
        if unread:
            for r in _rows(connection, PARENT_KEYS_SQL, unread):
                pk_columns[r["table_name"]].append(r["column_name"])
    for (table_name, _id), parts in fks.items():
        table = tables[table_name]
        if len(parts) != 1:
            continue
        r = parts[0]
        foreign_column = r["foreign_column"]
        if foreign_column is None:
            pks = pk_columns.get(r["foreign_table"], [])
            foreign_column = pks[0] if len(pks) == 1 else None
        if foreign_column is None:
            continue
        names_of = {col.lower(): con
                    for con, col in _NAMED_FK.findall(sql_of.get(table_name, ""))}
        table.foreign_keys.append(RawForeignKey(
            table=table_name,
            column=r["column_name"],
            foreign_table=r["foreign_table"],
            foreign_column=foreign_column,
            constraint_name=names_of.get(str(r["column_name"]).lower()),
            on_update=r["on_update"] or "NO ACTION",
            on_delete=r["on_delete"] or "NO ACTION",
        ))
    return RawSchema(tables=tables, vendor="sqlite", schema_name=None)


def catalogue_fingerprint_sqlite(connection: Connection) -> str:
    """``PRAGMA schema_version`` of the main database, as text."""
    return str(connection.execute(sa.text(FINGERPRINT_SQL)).scalar_one())
