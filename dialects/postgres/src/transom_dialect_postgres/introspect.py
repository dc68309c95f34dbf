"""Reading PostgreSQL's catalogue (``pg_catalog``) in five statements, whatever its size.

A targeted read (``only=``) runs the same statements with the table names as one array
parameter; :data:`FINGERPRINT_SQL` hashes the catalogue rows behind them in one statement.

``pg_catalog`` is read rather than ``information_schema`` because the latter's views are
slow on large databases and hide identity and generated-column details. Type names are the
ones ``information_schema`` would report (``character varying``, ``timestamp with time
zone``), because Directus shows those as ``data_type``.
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

RELKINDS = "('r', 'p', 'v', 'm', 'f')"

#: Where ``{only}`` stands in a query, a targeted read (``only=``) puts this filter on the
#: relation (for constraints, the constrained table; for indexes, the indexed one): one
#: array parameter, so the statement text stays the same whatever the tables.
_ONLY = "AND c.relname = ANY(CAST(:only AS text[]))"

_RELATIONS = f"""
SELECT c.relname AS table_name, c.relkind AS kind,
       obj_description(c.oid, 'pg_class') AS comment
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND c.relkind IN {RELKINDS} AND NOT c.relispartition {{only}}
ORDER BY c.relname
"""

_COLUMNS = f"""
SELECT c.relname AS table_name, a.attname AS column_name, a.attnum AS attnum,
       format_type(COALESCE(bt.oid, t.oid),
                   CASE WHEN bt.oid IS NULL THEN a.atttypmod ELSE t.typtypmod END)
           AS full_type,
       COALESCE(bt.typname, t.typname) AS udt_name,
       CASE WHEN bt.oid IS NULL THEN a.atttypmod ELSE t.typtypmod END AS typmod,
       t.typtype AS typtype,
       NOT a.attnotnull AS nullable,
       pg_get_expr(ad.adbin, ad.adrelid) AS column_default,
       a.attidentity AS identity, a.attgenerated AS generated,
       col_description(c.oid, a.attnum) AS comment
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE n.nspname = :schema AND c.relkind IN {RELKINDS} AND NOT c.relispartition
  AND a.attnum > 0 AND NOT a.attisdropped {{only}}
ORDER BY c.relname, a.attnum
"""

_CONSTRAINTS = """
SELECT con.conname AS constraint_name, con.contype AS kind, c.relname AS table_name,
       con.conkey AS conkey, fc.relname AS foreign_table, fn.nspname AS foreign_schema,
       (SELECT fa.attname FROM pg_attribute fa
         WHERE fa.attrelid = con.confrelid AND fa.attnum = con.confkey[1]) AS foreign_column,
       con.confupdtype AS on_update, con.confdeltype AS on_delete
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE n.nspname = :schema AND con.contype IN ('p', 'u', 'f') {only}
ORDER BY c.relname, con.conname
"""

_INDEXES = """
SELECT c.relname AS table_name, i.indisunique AS is_unique, i.indisprimary AS is_primary,
       i.indnkeyatts AS key_count, i.indkey[0] AS attnum,
       (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL) AS special
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema {only}
"""

#: name -> (full form, targeted form) of each catalogue query
QUERIES = {
    name: (sql.replace("{only}", ""), sql.replace("{only}", _ONLY))
    for name, sql in (("relations", _RELATIONS), ("columns", _COLUMNS),
                      ("constraints", _CONSTRAINTS), ("indexes", _INDEXES))
}
RELATIONS_SQL, RELATIONS_ONLY_SQL = QUERIES["relations"]
COLUMNS_SQL, COLUMNS_ONLY_SQL = QUERIES["columns"]
CONSTRAINTS_SQL, CONSTRAINTS_ONLY_SQL = QUERIES["constraints"]
INDEXES_SQL, INDEXES_ONLY_SQL = QUERIES["indexes"]

#: A relation of :data:`FINGERPRINT_SQL`: ``count.sum`` of a 32-bit hash per catalogue row
#: (order-free, so nothing is sorted, and no row is turned into text).
_DIGEST = "(SELECT count(*) || '.' || COALESCE(sum({hash}), 0) {source})"

#: One statement hashing the catalogue rows a change to the schema rewrites:
#: relations (tables, views, indexes: oid, kind, name), columns of tables and views
#: (position, name, type and modifier, nullability, has-default, identity, generated),
#: defaults (``SET DEFAULT`` stores a new ``pg_attrdef`` row, under a new oid), constraints
#: (oid, name: primary, unique, foreign and check keys are re-created, never altered) and
#: comments. Oids are in it, so a table dropped and created again identically still
#: changes it; statistics and row counts are not, so writing rows and ANALYZE never do.
#: Index attributes and ``pg_index`` are left out: an index is its ``pg_class`` row and, for
#: a key, its constraint. Reading the schema's ``pg_attribute`` rows is most of the cost.
FINGERPRINT_SQL = """
WITH rel AS MATERIALIZED (
  SELECT c.oid, c.relname, c.relkind FROM pg_class c
  WHERE c.relnamespace = (SELECT n.oid FROM pg_namespace n
                          WHERE n.nspname = COALESCE(CAST(:schema AS text), current_schema()))
    AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'i', 'I')
)
SELECT concat_ws(':', """ + ",\n  ".join(_DIGEST.format(hash=h, source=f) for h, f in (
    ("hashint8(CAST(r.oid AS int8) * 16 + ascii(CAST(r.relkind AS text)))"
     " # hashname(r.relname)",
     "FROM rel r"),
    ("hashint8((CAST(a.attrelid AS int8) << 16) + a.attnum) # hashname(a.attname)"
     " # hashint8((CAST(a.atttypid AS int8) << 32) + a.atttypmod)"
     " # hashint8((CAST(a.attrelid AS int8) << 8) + CAST(a.attnotnull AS int)"
     " + 2 * CAST(a.atthasdef AS int) + 4 * CAST(a.attidentity <> '' AS int)"
     " + 8 * CAST(a.attgenerated <> '' AS int))",
     "FROM pg_attribute a JOIN rel r ON r.oid = a.attrelid"
     " WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped"),
    ("hashint8((CAST(d.oid AS int8) << 16) + d.adnum)",
     "FROM pg_attrdef d JOIN rel r ON r.oid = d.adrelid"),
    ("hashint8(CAST(k.oid AS int8)) # hashname(k.conname)",
     "FROM pg_constraint k JOIN rel r ON r.oid = k.conrelid"),
    ("hashint8((CAST(ds.objoid AS int8) << 16) + ds.objsubid) # hashtext(ds.description)",
     "FROM pg_description ds JOIN rel r ON r.oid = ds.objoid"
     " WHERE ds.classoid = CAST('pg_class' AS regclass)"),
)) + """) AS fingerprint
"""

ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL",
           "d": "SET DEFAULT"}

_TYPES: dict[str, str] = {
    "integer": "integer",
    "int": "integer",
    "int4": "integer",
    "serial": "integer",
    "smallint": "integer",
    "int2": "integer",
    "smallserial": "integer",
    "bigint": "bigInteger",
    "int8": "bigInteger",
    "bigserial": "bigInteger",
    "real": "float",
    "float4": "float",
    "double precision": "float",
    "float8": "float",
    "float": "float",
    "numeric": "decimal",
    "decimal": "decimal",
    "money": "decimal",
    "character varying": "string",
    "varchar": "string",
    "character": "string",
    "char": "string",
    "bpchar": "string",
    "text": "text",
    "citext": "text",
    "boolean": "boolean",
    "bool": "boolean",
    "date": "date",
    "timestamp without time zone": "dateTime",
    "timestamp": "dateTime",
    "timestamp with time zone": "timestamp",
    "timestamptz": "timestamp",
    "time without time zone": "time",
    "time with time zone": "time",
    "time": "time",
    "timetz": "time",
    "json": "json",
    "jsonb": "json",
    "uuid": "uuid",
    "bytea": "binary",
    "geometry": "geometry",
    "geography": "geometry",
}

#: ``information_schema``'s binary precision of the fixed-size numeric types.
_PRECISION = {"int2": 16, "int4": 32, "int8": 64, "float4": 24, "float8": 53}

_MODIFIERS = re.compile(r"\([^)]*\)")


def base_type(full_type: str) -> str:
    """``"timestamp(3) with time zone"`` -> ``"timestamp with time zone"``."""
    return " ".join(_MODIFIERS.sub("", full_type or "").split()).lower()


def map_pg_type(data_type: str) -> str:
    name = base_type(data_type)
    if name.endswith("[]"):
        return "unknown"
    return _TYPES.get(name, "unknown")


_NUMBER = re.compile(r"^-?\d+(\.\d+)?(e[+-]?\d+)?$", re.IGNORECASE)
_TOKEN_CAST = re.compile(r"^\(?([\w.+-]+)\)?::.+$", re.DOTALL)


def _quoted_literal(text: str) -> str | None:
    """The content of ``'...'`` or ``'...'::type``; None if the text is something else."""
    if not text.startswith("'"):
        return None
    i, out = 1, []
    while i < len(text):
        if text[i] == "'":
            if text[i + 1:i + 2] == "'":
                out.append("'")
                i += 2
                continue
            rest = text[i + 1:]
            return "".join(out) if rest == "" or rest.startswith("::") else None
        out.append(text[i])
        i += 1
    return None


def _as_number(text: str) -> int | float | None:
    if not _NUMBER.match(text):
        return None
    return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


def parse_default(raw: str | None, type_: str) -> Any:
    """``'draft'::character varying`` -> ``"draft"``; numbers and booleans as values;
    ``now()`` as ``CURRENT_TIMESTAMP``; other expressions as their SQL text."""
    if raw is None:
        return None
    text = raw.strip()
    literal = _quoted_literal(text)
    if literal is not None:
        if type_ in ("integer", "bigInteger", "float", "decimal"):
            number = _as_number(literal.strip())
            return literal if number is None else number
        if type_ == "boolean" and literal.lower() in ("true", "false", "t", "f"):
            return literal.lower() in ("true", "t")
        return literal
    m = _TOKEN_CAST.match(text)
    if m:
        text = m.group(1)
    lowered = text.lower()
    if lowered == "null":
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    number = _as_number(text)
    if number is not None:
        return number
    if lowered in ("now()", "current_timestamp", "transaction_timestamp()",
                   "localtimestamp"):
        return "CURRENT_TIMESTAMP"
    if lowered in ("current_date", "current_time"):
        return text.upper()
    return text


def _lengths(udt: str, typmod: int | None) -> tuple[int | None, int | None, int | None]:
    """(max_length, numeric_precision, numeric_scale) from a type modifier."""
    mod = typmod if typmod is not None and typmod >= 0 else None
    if udt in ("varchar", "bpchar"):
        return (mod - 4 if mod is not None else None), None, None
    if udt == "numeric":
        if mod is None:
            return None, None, None
        return None, ((mod - 4) >> 16) & 0xFFFF, (mod - 4) & 0xFFFF
    if udt in _PRECISION:
        return None, _PRECISION[udt], 0 if udt.startswith("int") else None
    return None, None, None


def _rows(connection: Connection, queries: tuple[str, str], schema: str,
          only: list[str] | None) -> list[dict[str, Any]]:
    """Run the full (``only`` None) or the targeted form of one catalogue query."""
    full, targeted = queries
    if only is None:
        result = connection.execute(sa.text(full), {"schema": schema})
    else:
        result = connection.execute(sa.text(targeted), {"schema": schema, "only": only})
    return [dict(r._mapping) for r in result]


def introspect_postgres(
    connection: Connection, schema: str | None = None, exclude: tuple[str, ...] = (),
    only: Collection[str] | None = None,
) -> RawSchema:
    """Every table, view and materialised view of ``schema`` (default: the current one);
    with ``only``, just those named there, filtered inside the queries."""
    # Tables are schema-qualified only when a schema was asked for; otherwise queries stay
    # unqualified and resolve through the search path, as Directus's do.
    qualify = schema
    if schema is None:
        schema = connection.execute(sa.text("SELECT current_schema()")).scalar_one()
    assert schema is not None
    names = only_tables(only)
    if names == []:
        return RawSchema(tables={}, vendor="postgres", schema_name=schema)
    skip = set(exclude)
    tables: dict[str, RawTable] = {}
    for r in _rows(connection, QUERIES["relations"], schema, names):
        if r["table_name"] in skip:
            continue
        tables[r["table_name"]] = RawTable(
            name=r["table_name"], is_view=r["kind"] in ("v", "m"), comment=r["comment"],
            schema=qualify)

    by_attnum: dict[tuple[str, int], RawColumn] = {}
    for r in _rows(connection, QUERIES["columns"], schema, names):
        table = tables.get(r["table_name"])
        if table is None:
            continue
        data_type = base_type(r["full_type"])
        type_ = map_pg_type(data_type)
        max_length, precision, scale = _lengths(r["udt_name"], r["typmod"])
        default = r["column_default"]
        generated = r["generated"] == "s"
        col = RawColumn(
            name=r["column_name"],
            data_type=data_type,
            type=type_,
            nullable=bool(r["nullable"]),
            default=None if generated else parse_default(default, type_),
            max_length=max_length,
            numeric_precision=precision,
            numeric_scale=scale,
            has_auto_increment=r["identity"] in ("a", "d") or str(default or "").startswith(
                "nextval("),
            is_generated=generated,
            generation_expression=default if generated else None,
            comment=r["comment"],
        )
        table.columns.append(col)
        by_attnum[(table.name, int(r["attnum"]))] = col

    for r in _rows(connection, QUERIES["indexes"], schema, names):
        if r["key_count"] != 1 or r["special"] or not r["attnum"]:
            continue
        col = by_attnum.get((r["table_name"], int(r["attnum"])))
        if col is None:
            continue
        if r["is_unique"]:
            col.is_unique = True
        if not r["is_primary"]:
            col.is_indexed = True

    multi_fk: dict[str, int] = defaultdict(int)
    for r in _rows(connection, QUERIES["constraints"], schema, names):
        table = tables.get(r["table_name"])
        if table is None:
            continue
        keys = list(r["conkey"] or [])
        cols = [by_attnum.get((table.name, int(k))) for k in keys]
        if r["kind"] == "p":
            for c in cols:
                if c is not None:
                    c.is_primary_key = True
        elif r["kind"] == "u" and len(cols) == 1 and cols[0] is not None:
            cols[0].is_unique = True
        elif r["kind"] == "f":
            if len(cols) != 1 or cols[0] is None or r["foreign_column"] is None:
                multi_fk[table.name] += 1
                continue
            table.foreign_keys.append(RawForeignKey(
                table=table.name,
                column=cols[0].name,
                foreign_table=r["foreign_table"],
                foreign_column=r["foreign_column"],
                constraint_name=r["constraint_name"],
                on_update=ACTIONS.get(r["on_update"], "NO ACTION"),
                on_delete=ACTIONS.get(r["on_delete"], "NO ACTION"),
                foreign_schema=r["foreign_schema"],
            ))
    return RawSchema(tables=tables, vendor="postgres", schema_name=schema)


def catalogue_fingerprint_postgres(connection: Connection, schema: str | None = None) -> str:
    """:data:`FINGERPRINT_SQL` for ``schema`` (default: the current one)."""
    value = connection.execute(sa.text(FINGERPRINT_SQL), {"schema": schema}).scalar_one()
    return str(value)
