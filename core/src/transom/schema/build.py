"""Merge the introspected database with Directus's metadata into a :class:`SchemaSnapshot`.

The database is the truth about what exists (tables, views, columns, foreign keys); the
``directus_collections``/``directus_fields``/``directus_relations`` rows add what Directus
adds (interfaces, special flags, alias fields, o2m/m2m/m2a relations). Tables without
metadata are still collections; user tables are only read here, never altered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from .model import Collection, Field, Relation, SchemaSnapshot
from .raw import RawColumn, RawSchema, RawTable
from .types import UuidString, type_for_special

#: Special flags that decide a field's type over the column's own type.
_SPECIAL_TYPES = {
    "cast-json": "json",
    "json": "json",
    "cast-csv": "csv",
    "csv": "csv",
    "hash": "hash",
    "cast-boolean": "boolean",
    "boolean": "boolean",
    "uuid": "uuid",
    "cast-timestamp": "timestamp",
    "cast-datetime": "dateTime",
}
_ALIAS_SPECIALS = frozenset(
    {"alias", "o2m", "m2m", "m2a", "files", "translations", "no-data", "group"}
)
_JSON_META_COLUMNS = {
    "collections": ("translations", "item_duplication_fields"),
    "fields": ("options", "display_options", "translations", "conditions", "validation"),
    "relations": (),
}
_BOOL_META_COLUMNS = {
    "collections": ("hidden", "singleton", "archive_app_filter", "versioning"),
    "fields": ("readonly", "hidden", "required", "searchable"),
    "relations": (),
}


def parse_json(value: Any) -> Any:
    """A JSON text decoded; anything else (or text that is not JSON) as it is.

    System columns hold JSON as text on databases without a JSON type."""
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def parse_special(value: Any) -> tuple[str, ...]:
    """``special`` is stored as CSV (or a JSON array by older versions)."""
    if not value:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    text = str(value).strip()
    if text.startswith("{") or text.startswith("["):
        parsed = parse_json(text.replace("{", "[").replace("}", "]"))
        if isinstance(parsed, list):
            return tuple(str(v) for v in parsed)
    return tuple(v.strip() for v in text.split(",") if v.strip())


def normalize_meta_row(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    """Turn a stored metadata row into its API form (JSON parsed, booleans, special list)."""
    out = dict(row)
    for col in _JSON_META_COLUMNS[kind]:
        if col in out:
            out[col] = parse_json(out[col])
    for col in _BOOL_META_COLUMNS[kind]:
        if col in out and out[col] is not None:
            out[col] = bool(out[col])
    if kind == "fields":
        special = parse_special(out.get("special"))
        out["special"] = list(special) if special else None
    if kind == "relations" and isinstance(out.get("one_allowed_collections"), str):
        out["one_allowed_collections"] = [
            c for c in out["one_allowed_collections"].split(",") if c
        ]
    return out


def field_type(column: RawColumn, special: tuple[str, ...]) -> str:
    for flag in special:
        if flag in _SPECIAL_TYPES:
            if flag == "uuid" and column.type not in ("uuid", "string", "unknown"):
                continue
            return _SPECIAL_TYPES[flag]
        plugin_type = type_for_special(flag)  # a plugin's type (register_field_types)
        if plugin_type is not None:
            return plugin_type
    return column.type


def column_schema(table: RawTable, column: RawColumn, fk: Any) -> dict[str, Any]:
    """Directus's ``schema`` object of a field."""
    return {
        "name": column.name,
        "table": table.name,
        "data_type": column.data_type,
        "default_value": column.default,
        "max_length": column.max_length,
        "numeric_precision": column.numeric_precision,
        "numeric_scale": column.numeric_scale,
        "is_generated": column.is_generated,
        "generation_expression": column.generation_expression,
        "is_nullable": column.nullable,
        "is_unique": column.is_unique or column.is_primary_key,
        "is_indexed": column.is_indexed,
        "is_primary_key": column.is_primary_key,
        "has_auto_increment": column.has_auto_increment,
        "foreign_key_schema": fk.foreign_schema if fk else None,
        "foreign_key_table": fk.foreign_table if fk else None,
        "foreign_key_column": fk.foreign_column if fk else None,
        "comment": column.comment,
    }


def _collection_schema(table: RawTable, raw: RawSchema) -> dict[str, Any]:
    """Directus's collection ``schema``: ``{name, sql}`` on SQLite, ``{schema, name,
    comment}`` elsewhere."""
    if raw.vendor == "sqlite":
        return {"name": table.name, "sql": table.sql}
    return {"schema": table.schema or raw.schema_name, "name": table.name,
            "comment": table.comment}


def _query_type(type_: str) -> sa.types.TypeEngine[Any]:
    """Column types for compiling queries: no result processing (values are converted once,
    by :mod:`transom.compiler.values`), but integers typed so auto-increment keys work."""
    if type_ == "integer":
        return sa.Integer()
    if type_ == "bigInteger":
        return sa.BigInteger()
    if type_ == "uuid":
        return UuidString()  # PostgreSQL won't compare uuid with varchar parameters
    return sa.types.NullType()


def merge_raw(old: RawSchema, part: RawSchema, names: set[str]) -> RawSchema:
    """``old`` with the tables of ``names`` replaced by ``part``'s (a targeted re-read;
    tables of ``names`` missing from ``part`` are gone) and its relation rows brought up to
    date. The collection and field metadata rows of the result are ``part``'s only: an
    incremental build reads just those, and a full refresh reads everything again."""
    tables = {n: t for n, t in old.tables.items() if n not in names}
    tables.update(part.tables)
    return RawSchema(
        tables=tables,
        collections_meta=part.collections_meta,
        fields_meta=part.fields_meta,
        relations_meta=[r for r in old.relations_meta
                        if r["many_collection"] not in names
                        and r.get("one_collection") not in names] + part.relations_meta,
        vendor=old.vendor or part.vendor,
        schema_name=old.schema_name if old.schema_name is not None else part.schema_name,
    )


def build_snapshot(
    raw: RawSchema,
    *,
    system_field_meta: dict[str, dict[str, dict[str, Any]]] | None = None,
    system_alias_fields: dict[str, dict[str, str]] | None = None,
    system_relations: Iterable[dict[str, Any]] = (),
    overlays: Iterable[dict[str, Any]] = (),
    previous: SchemaSnapshot | None = None,
    changed: set[str] | None = None,
) -> SchemaSnapshot:
    """Build the immutable snapshot. ``overlays`` are ``extend_schema`` hook results.

    With ``previous`` and ``changed``, only the collections named in ``changed`` are built
    again; the others are taken from ``previous`` as they are (relations are always
    resolved again: they link collections to each other).
    """
    incremental = previous is not None and changed is not None
    wanted = (lambda name: name in changed) if incremental else (lambda name: True)  # type: ignore[operator]
    collections_meta = {
        r["collection"]: normalize_meta_row("collections", r) for r in raw.collections_meta
        if wanted(r["collection"])
    }
    fields_meta: dict[tuple[str, str], dict[str, Any]] = {}
    for r in raw.fields_meta:
        if wanted(r["collection"]):
            fields_meta[(r["collection"], r["field"])] = normalize_meta_row("fields", r)
    relation_rows = [normalize_meta_row("relations", r) for r in raw.relations_meta]
    for overlay in overlays:
        for r in overlay.get("collections", []) or []:
            if wanted(r["collection"]):
                base = collections_meta.get(r["collection"], {})
                collections_meta[r["collection"]] = {**base, **r}
        for r in overlay.get("fields", []) or []:
            if wanted(r["collection"]):
                key = (r["collection"], r["field"])
                fields_meta[key] = {**fields_meta.get(key, {}),
                                    **normalize_meta_row("fields", r)}
        relation_rows.extend(normalize_meta_row("relations", r) for r in overlay.get(
            "relations", []) or [])

    system_field_meta = system_field_meta or {}
    system_alias_fields = system_alias_fields or {}
    metadata = sa.MetaData()
    collections: dict[str, Collection] = {}
    if incremental:
        assert previous is not None
        for name, coll in previous.collections.items():
            if name not in changed:  # type: ignore[operator]
                collections[name] = coll
    fields_by_collection: dict[str, dict[str, dict[str, Any]]] = {}
    for (coll_name, fname), meta in fields_meta.items():
        fields_by_collection.setdefault(coll_name, {})[fname] = meta

    for table in raw.tables.values():
        if not wanted(table.name):
            continue
        collections[table.name] = _build_collection(
            table, raw, fields_by_collection.get(table.name, {}),
            collections_meta.get(table.name), system_field_meta.get(table.name, {}),
            system_alias_fields.get(table.name, {}), metadata)
    # Folder collections: metadata without a table.
    for name, meta in collections_meta.items():
        if name not in collections:
            collections[name] = Collection(name, {}, None, meta, None)

    relations = _relations(raw, relation_rows, list(system_relations), collections)
    return SchemaSnapshot.create(collections, relations, raw.vendor, previous=previous)


def _build_collection(
    table: RawTable,
    raw: RawSchema,
    fields_meta: dict[str, dict[str, Any]],
    collection_meta: dict[str, Any] | None,
    sys_meta: dict[str, dict[str, Any]],
    sys_aliases: dict[str, str],
    metadata: sa.MetaData,
) -> Collection:
    """One collection from its table, its own metadata rows and the system defaults."""
    name = table.name
    fields: dict[str, Field] = {}
    columns: list[sa.Column[Any]] = []
    primary = None
    fk_index = {fk.column: fk for fk in table.foreign_keys}
    for col in table.columns:
        meta = fields_meta.get(col.name)
        special = parse_special(meta.get("special")) if meta else ()
        if not special and col.name in sys_meta:
            special = tuple(sys_meta[col.name].get("special") or ())
        ftype = field_type(col, special)
        fk = fk_index.get(col.name)
        fields[col.name] = Field(
            collection=name,
            field=col.name,
            type=ftype,
            special=special,
            schema=column_schema(table, col, fk),
            meta=meta,
            nullable=col.nullable,
            default=col.default,
            max_length=col.max_length,
            is_primary_key=col.is_primary_key,
            auto_increment=col.has_auto_increment,
            is_generated=col.is_generated,
        )
        if col.is_primary_key and primary is None:
            primary = col.name
        columns.append(
            sa.Column(col.name, _query_type(col.type), primary_key=col.is_primary_key,
                      autoincrement=col.has_auto_increment and col.type in (
                          "integer", "bigInteger"), key=col.name)
        )
    # Alias fields: metadata rows without a column, plus the system collections' aliases.
    for fname, meta in fields_meta.items():
        if fname not in fields:
            special = parse_special(meta.get("special"))
            fields[fname] = Field(name, fname, "alias", special, None, meta)
    for fname, flag in sys_aliases.items():
        if fname not in fields:
            fields[fname] = Field(name, fname, "alias", (flag,), None, None)
    if primary is None and "id" in fields and not fields["id"].is_alias:
        primary = "id"  # views have no primary key; Directus falls back to "id"
    sa_table = sa.Table(name, metadata, *columns, schema=table.schema)
    return Collection(
        collection=name,
        fields=fields,
        primary_key=primary,
        meta=collection_meta,
        schema=_collection_schema(table, raw),
        is_view=table.is_view,
        table=sa_table,
    )


def _relations(
    raw: RawSchema,
    rows: list[dict[str, Any]],
    system_rows: list[dict[str, Any]],
    collections: dict[str, Collection],
) -> list[Relation]:
    """Relations from metadata rows, system relations, and bare foreign keys."""
    fks = {(t.name, fk.column): fk for t in raw.tables.values() for fk in t.foreign_keys}
    # Keyed by (many, field, one_field): Directus declares two rows on directus_access.policy
    # (policies.roles and policies.users), both of which must survive.
    out: dict[tuple[str, str, str | None], Relation] = {}

    def fk_schema(many: str, field: str) -> dict[str, Any] | None:
        fk = fks.get((many, field))
        if fk is None:
            return None
        return {
            "constraint_name": fk.constraint_name,
            "table": many,
            "column": field,
            "foreign_key_schema": fk.foreign_schema,
            "foreign_key_table": fk.foreign_table,
            "foreign_key_column": fk.foreign_column,
            "on_update": fk.on_update,
            "on_delete": fk.on_delete,
        }

    for row in [*system_rows, *rows]:
        many, field = row["many_collection"], row["many_field"]
        if many not in collections:
            continue
        meta = {
            "id": row.get("id"),
            "many_collection": many,
            "many_field": field,
            "one_collection": row.get("one_collection"),
            "one_field": row.get("one_field"),
            "one_collection_field": row.get("one_collection_field"),
            "one_allowed_collections": row.get("one_allowed_collections"),
            "junction_field": row.get("junction_field"),
            "sort_field": row.get("sort_field"),
            "one_deselect_action": row.get("one_deselect_action") or "nullify",
        }
        if row in system_rows:
            meta["system"] = True
        for key in [k for k in out if k[:2] == (many, field) and k[2] in (None, meta[
                "one_field"])]:
            del out[key]  # a stored row replaces the system default for the same relation
        out[(many, field, meta["one_field"])] = Relation(
            collection=many,
            field=field,
            related_collection=row.get("one_collection"),
            schema=fk_schema(many, field),
            meta=meta,
        )
    described = {k[:2] for k in out}
    for (many, field), fk in fks.items():
        if (many, field) in described or fk.foreign_table not in collections:
            continue
        out[(many, field, None)] = Relation(many, field, fk.foreign_table,
                                            fk_schema(many, field), None)
    return list(out.values())
