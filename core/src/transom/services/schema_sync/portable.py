"""The dialect-neutral subset of a snapshot that diffs compare."""

from __future__ import annotations

import decimal
import json
from typing import Any

from ...schema.types import ALIAS_TYPES, DATE_TYPES
from .snapshot import _CALL_RE, _LIMITED_VENDORS, _NOW_RE, _QUOTED_RE, Portability, _without


def _action(value: Any) -> str:
    """FK actions; RESTRICT and NO ACTION behave alike and MySQL reports one for the other."""
    text = str(value or "NO ACTION").upper()
    return "NO ACTION" if text == "RESTRICT" else text


def portable_default(type_: str, value: Any, auto: bool = False) -> Any:
    """A column default every database writes the same way, or None for an expression."""
    if auto or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.upper() == "NULL":
            return None
        if type_ in DATE_TYPES and _NOW_RE.match(text):
            return "CURRENT_TIMESTAMP"
        quoted = _QUOTED_RE.match(text)
        if quoted:
            text = quoted.group(1).replace("''", "'")
        elif _CALL_RE.match(text) or "::" in text:
            return None  # nextval(...), gen_random_uuid(), uuid(): the database's own
        value = text
    try:
        if type_ == "boolean":
            if isinstance(value, str):
                return value.lower() in ("1", "true", "t", "yes", "b'1'")
            return bool(value)
        if type_ in ("integer", "bigInteger"):
            return int(value)
        if type_ == "float":
            return float(value)
        if type_ == "decimal":
            return format(decimal.Decimal(str(value)).normalize(), "f")
    except (ValueError, ArithmeticError):
        return value
    if type_ == "json" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _field_type(entry: dict[str, Any]) -> str:
    """The field's type, reading a ``char(36)`` column as the uuid it stores (as Directus)."""
    type_ = entry.get("type") or "unknown"
    schema = entry.get("schema") or {}
    data_type = str(schema.get("data_type") or "").lower()
    if type_ == "string" and schema.get("max_length") == 36 and data_type in (
            "char", "character", "bpchar", "nchar"):
        return "uuid"
    return type_


def _meta(meta: Any) -> dict[str, Any] | None:
    if meta is None:
        return None
    out = _without(meta, "id", "system") or {}
    if "special" in out and not out["special"]:
        out["special"] = None
    return out


def _portable_field(entry: dict[str, Any], relation_fields: set[tuple[str, str]],
                    port: Portability) -> dict[str, Any]:
    collection, name = entry["collection"], entry["field"]
    type_ = _field_type(entry)
    schema = entry.get("schema")
    out: dict[str, Any] = {"collection": collection, "field": name, "type": type_,
                           "meta": _meta(entry.get("meta")), "schema": None}
    if schema is None or type_ in ALIAS_TYPES:
        out["type"] = "alias" if type_ in ALIAS_TYPES else type_
        return out
    pk = bool(schema.get("is_primary_key"))
    auto = bool(schema.get("has_auto_increment"))
    unique = bool(schema.get("is_unique")) or pk
    s: dict[str, Any] = {
        "is_primary_key": pk,
        "has_auto_increment": auto,
        "is_nullable": False if pk else bool(schema.get("is_nullable", True)),
        "is_unique": unique,
        "default_value": portable_default(type_, schema.get("default_value"), auto),
    }
    # A unique column and a foreign key (on MySQL) are indexed anyway; only a plain index
    # asked for on purpose is worth comparing.
    if not unique and (collection, name) not in relation_fields:
        s["is_indexed"] = bool(schema.get("is_indexed"))
    if type_ in ("string", "hash"):
        s["max_length"] = schema.get("max_length")
    if type_ == "decimal":
        s["numeric_precision"] = schema.get("numeric_precision")
        s["numeric_scale"] = schema.get("numeric_scale")
    if port.comments:
        s["comment"] = schema.get("comment") or None
    out["schema"] = s
    return out


def _portable_collection(entry: dict[str, Any], port: Portability) -> dict[str, Any]:
    schema = entry.get("schema")
    out_schema = None
    if schema is not None:
        out_schema = {"name": entry["collection"]}
        if port.comments:
            out_schema["comment"] = (schema or {}).get("comment") or None
    return {"collection": entry["collection"], "meta": _meta(entry.get("meta")),
            "schema": out_schema}


def _portable_relation(entry: dict[str, Any], port: Portability) -> dict[str, Any]:
    schema = entry.get("schema")
    out_schema = None
    if port.foreign_keys and schema is not None:
        out_schema = {"on_delete": _action(schema.get("on_delete")),
                      "on_update": _action(schema.get("on_update"))}
    meta = _meta(entry.get("meta"))
    if meta is not None and isinstance(meta.get("one_allowed_collections"), str):
        meta["one_allowed_collections"] = [
            c for c in meta["one_allowed_collections"].split(",") if c] or None
    return {"collection": entry["collection"], "field": entry["field"],
            "related_collection": entry.get("related_collection"), "meta": meta,
            "schema": out_schema}


def _relation_fields(*snaps: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r["collection"], r["field"]) for s in snaps for r in s.get("relations") or []}


def _portable(snap: dict[str, Any], relation_fields: set[tuple[str, str]],
              port: Portability) -> dict[str, dict[Any, dict[str, Any]]]:
    return {
        "collections": {c["collection"]: _portable_collection(c, port)
                        for c in snap.get("collections") or []},
        "fields": {(f["collection"], f["field"]): _portable_field(f, relation_fields, port)
                   for f in snap.get("fields") or []},
        "relations": {(r["collection"], r["field"]): _portable_relation(r, port)
                      for r in snap.get("relations") or []},
    }


def _new_relation(entry: dict[str, Any], vendor: str | None,
                  fields: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """A relation to create, with its foreign key.

    SQLite cannot add a foreign key to an existing table, so its snapshots say ``schema:
    null`` for relations that would have one anywhere else; on a database that can, they
    get the foreign key Directus's app would make (``SET NULL`` on delete when nullable).
    """
    out = _portable_relation(entry, Portability())
    if out["schema"] is None and (vendor or "").lower() in _LIMITED_VENDORS \
            and out["related_collection"] is not None:
        field_schema = (fields.get((out["collection"], out["field"])) or {}).get("schema") or {}
        nullable = field_schema.get("is_nullable", True)
        out["schema"] = {"on_delete": "SET NULL" if nullable else "NO ACTION",
                         "on_update": "NO ACTION"}
    return out


# -- deep diff -----------------------------------------------------------------------------
