"""Schema as code: Directus's ``/schema/snapshot``, ``/schema/diff`` and ``/schema/apply``.

A *snapshot* is the user schema (collections, fields, relations) in Directus's API shape,
sorted and without volatile ids, so it can live in version control. A *diff* compares a
snapshot with the current database and lists deep-diff operations per collection, field and
relation; it carries the hash of the schema it was computed against, and *apply* refuses it
once that schema has changed, so a stale diff can never be replayed. Apply reuses the schema
services for every change (so DDL, metadata rows and SQLite rebuilds behave exactly as the
``/collections``, ``/fields`` and ``/relations`` routes do) and returns the plan it followed;
a dry run returns the same plan without touching anything.

Comparison is dialect-neutral: a snapshot taken on SQLite applies cleanly to PostgreSQL or
MariaDB and then diffs as equal there. Both sides are reduced to the portable subset of a
field's ``schema`` (type, nullability, uniqueness, key and auto-increment, string length,
decimal precision, simple literal defaults) before comparing; what only one database knows
(``data_type``, ``nextval(...)`` defaults, integer precision, constraint names, indexes that
MySQL adds for foreign keys, foreign keys SQLite cannot add) is left out.
"""

from __future__ import annotations

import copy
import decimal
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidPayloadError
from ..schema.types import ALIAS_TYPES, DATE_TYPES
from ..system.tables import SYSTEM_TABLES
from .schema import (
    CollectionsService,
    FieldsService,
    RelationsService,
    _meta_tables,
    is_system_field,
)

if TYPE_CHECKING:
    from ..kernel import Transom
    from ..schema.model import SchemaSnapshot

#: Version of the snapshot format (Directus's ``version``); a different one needs ``force``.
SNAPSHOT_VERSION = 1
#: What Transom writes as the ``directus`` version of its snapshots.
DIRECTUS_VERSION = "11.0.0-transom"
#: Tables owned by Directus itself or by Transom plugins, never part of a user snapshot.
INTERNAL_PREFIXES = ("directus_", "transom_")
#: Vendors that cannot add foreign keys to existing tables nor store comments.
_LIMITED_VENDORS = frozenset({"sqlite"})

STALE_MESSAGE = "stale diff: the schema changed since the diff was made"

_KINDS = frozenset({"N", "D", "E", "A"})
_NOW_RE = re.compile(
    r"^(now\(\)|current_timestamp(\(\d*\))?|localtimestamp(\(\d*\))?|getdate\(\)|"
    r"sysdate|systimestamp)$", re.IGNORECASE)
_CALL_RE = re.compile(r"^[A-Za-z_][\w.]*\s*\(.*\)$", re.DOTALL)
_QUOTED_RE = re.compile(r"^\(?'(.*)'\)?(::[\w\s\"]+(\[\])?)?$", re.DOTALL)
_apply_lock = threading.Lock()


# -- snapshot ------------------------------------------------------------------------------
def is_internal(collection: str) -> bool:
    """Directus's and Transom's own tables, which their code creates, not a snapshot."""
    return collection.startswith(INTERNAL_PREFIXES)


def _without(meta: Any, *keys: str) -> dict[str, Any] | None:
    if meta is None:
        return None
    return {k: v for k, v in dict(meta).items() if k not in keys}


def snapshot(cms: Transom, refresh: bool = False) -> dict[str, Any]:
    """The user schema in Directus's snapshot format, sorted, without volatile ids.

    Database-only tables (no ``directus_collections`` row) are included with ``meta: null``
    so that "create the table by migration, then add Directus metadata" keeps working.
    Custom fields added to Directus's own collections are included, as Directus does.
    Views are left out: they are database objects no apply could recreate.
    """
    snap = cms.refresh_schema() if refresh else cms.schema
    return _snapshot_of(snap, cms.dialect.vendor)


def _snapshot_of(snap: SchemaSnapshot, vendor: str) -> dict[str, Any]:
    collections: list[dict[str, Any]] = []
    fields: list[dict[str, Any]] = []
    custom: set[tuple[str, str]] = set()
    for name in sorted(snap.collections):
        coll = snap.collections[name]
        if coll.is_view:
            continue
        internal = is_internal(name)
        if internal and name not in SYSTEM_TABLES:
            continue
        if not internal:
            schema = None
            if coll.schema is not None:
                schema = {"name": name}
                if coll.schema.get("comment"):
                    schema["comment"] = coll.schema["comment"]
            collections.append({"collection": name,
                                "meta": _without(coll.meta, "id", "system"),
                                "schema": schema})
        for fname in sorted(coll.fields):
            f = coll.fields[fname]
            if internal and (is_system_field(name, fname) or f.meta is None
                             or (f.meta or {}).get("system")):
                continue
            entry = f.to_api()
            entry["meta"] = _without(entry["meta"], "id", "system")
            fields.append(entry)
            custom.add((name, fname))
    relations: list[dict[str, Any]] = []
    for rel in snap.relations:
        if (rel.meta or {}).get("system") or (rel.collection, rel.field) not in custom:
            continue
        entry = rel.to_api()
        entry["meta"] = _without(entry["meta"], "id", "system")
        relations.append(entry)
    relations.sort(key=lambda r: (r["collection"], r["field"]))
    return {"version": SNAPSHOT_VERSION, "directus": DIRECTUS_VERSION, "vendor": vendor,
            "collections": collections, "fields": fields, "relations": relations}


def schema_hash(snap: dict[str, Any]) -> str:
    """A stable hash of a snapshot's content (the ``directus`` version is left out)."""
    body = {k: snap.get(k) for k in ("vendor", "collections", "fields", "relations")}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def current_hash(cms: Transom) -> str:
    """The hash of the schema as the database holds it now (re-read, not cached)."""
    return schema_hash(snapshot(cms, refresh=True))


# -- portable form -------------------------------------------------------------------------
@dataclass(frozen=True)
class Portability:
    """What both sides of a comparison can express (SQLite has no added FKs, no comments)."""

    foreign_keys: bool = True
    comments: bool = True

    @classmethod
    def between(cls, *vendors: str | None) -> Portability:
        limited = any((v or "").lower() in _LIMITED_VENDORS for v in vendors)
        return cls(foreign_keys=not limited, comments=not limited)


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
def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def deep_diff(lhs: Any, rhs: Any, path: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Operations turning ``lhs`` into ``rhs``, in the ``deep-diff`` shape Directus uses:
    ``N`` new, ``D`` deleted, ``E`` edited, ``A`` an array change at ``index``."""

    def op(kind: str, **kw: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": kind}
        if path:
            out["path"] = list(path)
        out.update(kw)
        return out

    if isinstance(lhs, dict) and isinstance(rhs, dict):
        ops: list[dict[str, Any]] = []
        for key in lhs:
            if key not in rhs:
                ops.append({"kind": "D", "path": [*path, key], "lhs": lhs[key]})
            else:
                ops.extend(deep_diff(lhs[key], rhs[key], (*path, key)))
        for key in rhs:
            if key not in lhs:
                ops.append({"kind": "N", "path": [*path, key], "rhs": rhs[key]})
        return ops
    if isinstance(lhs, list) and isinstance(rhs, list):
        ops = []
        for i in range(min(len(lhs), len(rhs))):
            ops.extend(deep_diff(lhs[i], rhs[i], (*path, i)))
        for i in range(len(lhs) - 1, len(rhs) - 1, -1):
            ops.append(op("A", index=i, item={"kind": "D", "lhs": lhs[i]}))
        for i in range(len(lhs), len(rhs)):
            ops.append(op("A", index=i, item={"kind": "N", "rhs": rhs[i]}))
        return ops
    if _same(lhs, rhs):
        return []
    return [op("E", lhs=lhs, rhs=rhs)]


def apply_ops(obj: Any, ops: Iterable[dict[str, Any]]) -> Any:
    """``obj`` with deep-diff operations applied (a copy; ``obj`` is not changed)."""
    root: dict[str, Any] = {"v": copy.deepcopy(obj)}
    for op in ops:
        path = ["v", *(op.get("path") or [])]
        parent: Any = root
        for key in path[:-1]:
            if isinstance(parent, dict):
                if not isinstance(parent.get(key), dict | list):
                    parent[key] = {}
                parent = parent[key]
            else:
                parent = parent[key]
        key = path[-1]
        kind = op.get("kind")
        if kind in ("N", "E"):
            parent[key] = copy.deepcopy(op.get("rhs"))
        elif kind == "D":
            if isinstance(parent, dict):
                parent.pop(key, None)
            else:
                parent[key] = None
        elif kind == "A":
            if not isinstance(parent.get(key) if isinstance(parent, dict) else parent[key],
                              list):
                parent[key] = []
            target = parent[key]
            item, index = op.get("item") or {}, int(op.get("index", 0))
            if item.get("kind") == "N":
                while len(target) < index:
                    target.append(None)
                target.insert(index, copy.deepcopy(item.get("rhs")))
            elif item.get("kind") == "D" and index < len(target):
                target.pop(index)
    return root["v"]


# -- diff ----------------------------------------------------------------------------------
def _unwrap(payload: Any, key: str) -> Any:
    """Accept a payload still inside its ``{data: ...}`` envelope (a common mix-up)."""
    if isinstance(payload, dict) and key not in payload and isinstance(payload.get("data"),
                                                                        dict):
        return payload["data"]
    return payload


def validate_snapshot(payload: Any, force: bool = False) -> dict[str, Any]:
    """A snapshot's shape and format version, or a 400 saying what is wrong."""
    snap = _unwrap(payload, "collections")
    if not isinstance(snap, dict):
        raise InvalidPayloadError("A schema snapshot must be an object")
    version = snap.get("version")
    if version != SNAPSHOT_VERSION and not force:
        raise InvalidPayloadError(
            f"Snapshot format version {version!r} is not {SNAPSHOT_VERSION}; "
            "pass ?force=true to diff it anyway")
    required = {"collections": ("collection",), "fields": ("collection", "field"),
                "relations": ("collection", "field")}
    for part, keys in required.items():
        items = snap.get(part, [])
        if items is None:
            items = []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise InvalidPayloadError(f'"{part}" of the snapshot must be an array of objects')
        for item in items:
            for key in keys:
                if not isinstance(item.get(key), str) or not item[key]:
                    raise InvalidPayloadError(f'Every entry of "{part}" needs a "{key}"')
    return snap


def diff(cms: Transom, payload: Any, force: bool = False) -> dict[str, Any] | None:
    """What applying ``payload`` (a snapshot) would change here, or None for nothing.

    Snapshots from any vendor are accepted (moving between databases is the point); only a
    different snapshot format version needs ``force``.
    """
    target = dict(validate_snapshot(payload, force))
    # Directus's and Transom's own collections are made by their code, never by a snapshot.
    target["collections"] = [c for c in target.get("collections") or []
                             if not is_internal(c["collection"])]
    target["fields"] = [f for f in target.get("fields") or []
                        if not is_system_field(f["collection"], f["field"])]
    target["relations"] = [r for r in target.get("relations") or []
                           if not is_system_field(r["collection"], r["field"])]
    current = snapshot(cms, refresh=True)
    source_vendor = target.get("vendor")
    # Comments are created with a field or collection but never compared: SQLite has none
    # and the services cannot change them afterwards.
    port = Portability(foreign_keys=Portability.between(source_vendor,
                                                        cms.dialect.vendor).foreign_keys,
                       comments=False)
    rel_fields = _relation_fields(target, current)
    want = _portable(target, rel_fields, port)
    have = _portable(current, rel_fields, port)
    full = _portable(target, rel_fields, Portability())
    out: dict[str, list[dict[str, Any]]] = {"collections": [], "fields": [], "relations": []}
    for part, ident in (("collections", ("collection",)),
                        ("fields", ("collection", "field")),
                        ("relations", ("collection", "field", "related_collection"))):
        for key in sorted(set(want[part]) | set(have[part]), key=_sort_key):
            a, b = have[part].get(key), want[part].get(key)
            if a is None:
                assert b is not None
                rhs = full[part][key]
                if part == "relations":
                    rhs = _new_relation(next(r for r in target["relations"] if (
                        r["collection"], r["field"]) == key), source_vendor, full["fields"])
                ops = [{"kind": "N", "rhs": rhs}]
                src = b
            elif b is None:
                ops = [{"kind": "D", "lhs": a}]
                src = a
            else:
                ops = deep_diff({**a, "meta": _only(a.get("meta"), b.get("meta"))}, b)
                src = b
                if not ops:
                    continue
            entry = {k: src.get(k) for k in ident}
            entry["diff"] = ops
            out[part].append(entry)
    if not any(out.values()):
        return None
    return {"hash": schema_hash(current), "diff": out}


def _sort_key(key: Any) -> tuple[str, ...]:
    return tuple(key) if isinstance(key, tuple) else (key,)


# -- apply ---------------------------------------------------------------------------------
def _validate_diff(payload: Any) -> tuple[str, dict[str, list[dict[str, Any]]]]:
    body = _unwrap(payload, "hash")
    if not isinstance(body, dict):
        raise InvalidPayloadError('Body must be an object with "hash" and "diff"')
    hash_ = body.get("hash")
    if not isinstance(hash_, str) or not hash_:
        raise InvalidPayloadError('"hash" is required: the hash /schema/diff answered')
    raw = body.get("diff")
    if not isinstance(raw, dict):
        raise InvalidPayloadError('"diff" must be an object with collections, fields and '
                                  "relations")
    out: dict[str, list[dict[str, Any]]] = {}
    for part, keys in (("collections", ("collection",)), ("fields", ("collection", "field")),
                       ("relations", ("collection", "field"))):
        items = raw.get(part) or []
        if not isinstance(items, list):
            raise InvalidPayloadError(f'"diff.{part}" must be an array')
        for item in items:
            if not isinstance(item, dict) or not all(
                    isinstance(item.get(k), str) for k in keys):
                raise InvalidPayloadError(
                    f'Every entry of "diff.{part}" needs {", ".join(keys)} and diff')
            ops = item.get("diff")
            if not isinstance(ops, list) or not ops or not all(
                    isinstance(o, dict) and o.get("kind") in _KINDS for o in ops):
                raise InvalidPayloadError(
                    f'"diff" of {".".join(item[k] for k in keys)} must be a non-empty array '
                    "of operations (kind N, D, E or A)")
        out[part] = items
    return hash_, out


def _whole(ops: list[dict[str, Any]]) -> str | None:
    """``"N"``/``"D"`` when the operations create/delete the whole object."""
    if len(ops) == 1 and not ops[0].get("path") and ops[0]["kind"] in ("N", "D"):
        return str(ops[0]["kind"])
    return None


def _describe(ops: list[dict[str, Any]]) -> str:
    parts = []
    for op in ops:
        path = ".".join(str(p) for p in op.get("path") or []) or "(all)"
        if op["kind"] == "E":
            parts.append(f"{path} {op.get('lhs')!r} -> {op.get('rhs')!r}")
        elif op["kind"] == "N":
            parts.append(f"{path} = {op.get('rhs')!r}")
        elif op["kind"] == "D":
            parts.append(f"{path} removed")
        else:
            parts.append(f"{path}[{op.get('index')}] changed")
    return "; ".join(parts)


def _field_payload(obj: dict[str, Any]) -> dict[str, Any]:
    """A ``FieldsService`` payload from a portable field object."""
    payload: dict[str, Any] = {"field": obj["field"], "type": obj.get("type") or "alias"}
    if obj.get("meta") is not None:
        payload["meta"] = obj["meta"]
    schema = obj.get("schema")
    if schema is None:
        payload["schema"] = None
        return payload
    # Only what every database can take: a diff made by Directus itself carries the
    # source's own expressions (nextval(...), gen_random_uuid()) as default values.
    payload["schema"] = {k: v for k, v in schema.items() if k not in ("name", "table")}
    if "default_value" in schema:
        payload["schema"]["default_value"] = portable_default(
            payload["type"], schema["default_value"], bool(schema.get("has_auto_increment")))
    return payload


def _top(op: dict[str, Any]) -> Any:
    path = op.get("path") or []
    return path[0] if path else None


def _changed(ops: list[dict[str, Any]], part: str) -> set[str]:
    """Keys of ``part`` (meta, schema) the operations touch."""
    return {str(op["path"][1]) for op in ops
            if len(op.get("path") or []) > 1 and op["path"][0] == part}


def _replaces(ops: list[dict[str, Any]], part: str) -> bool:
    """Whether ``part`` as a whole goes from null to an object or back."""
    return any(op.get("path") == [part] for op in ops)


class _Applier:
    """Runs (or, in a dry run, only describes) one diff in dependency order."""

    def __init__(self, cms: Transom, diff_: dict[str, list[dict[str, Any]]],
                 dry_run: bool, progress: Callable[[str], None] | None = None) -> None:
        self.cms = cms
        self.diff = diff_
        self.dry_run = dry_run
        self.progress = progress
        self.plan: list[str] = []
        self.collections = CollectionsService(cms, None)
        self.fields = FieldsService(cms, None)
        self.relations = RelationsService(cms, None)
        self.created_fields: dict[tuple[str, str], dict[str, Any]] = {}

    def step(self, text: str, action: Any, *args: Any) -> None:
        """Record one step of the plan, and run it unless this is a dry run."""
        self.plan.append(text)
        if not self.dry_run:
            action(*args)
            if self.progress is not None:
                self.progress(text)

    def current(self, part: str, key: Any) -> dict[str, Any] | None:
        """The object as it is now, in the portable form the diff's operations address."""
        snap = snapshot(self.cms)
        return _portable(snap, _relation_fields(snap), Portability(comments=False))[
            part].get(key)

    # -- the plan -----------------------------------------------------------------------
    def run(self) -> list[str]:
        d = self.diff
        new_collections = {c["collection"]: c for c in d["collections"]
                           if _whole(c["diff"]) == "N"}
        dropped = {c["collection"] for c in d["collections"] if _whole(c["diff"]) == "D"}
        new_fields = [f for f in d["fields"] if _whole(f["diff"]) == "N"]
        fields_of: dict[str, list[dict[str, Any]]] = {}
        for f in new_fields:
            fields_of.setdefault(f["collection"], []).append(f["diff"][0].get("rhs") or {})
        # 1. collections, each created with its own new fields (folders first: meta.group)
        for name in _creation_order(new_collections):
            obj = new_collections[name]["diff"][0].get("rhs") or {}
            self.create_collection(name, obj, fields_of.get(name, []))
        for entry in d["collections"]:
            if _whole(entry["diff"]) is None:
                self.update_collection(entry["collection"], entry["diff"])
        # 2. fields
        for entry in new_fields:
            if entry["collection"] not in new_collections:
                obj = entry["diff"][0].get("rhs") or {}
                self.step(f"create field {entry['collection']}.{entry['field']} "
                          f"({obj.get('type')})", self.create_field, entry["collection"], obj)
        for entry in d["fields"]:
            if _whole(entry["diff"]) is None:
                self.update_field(entry["collection"], entry["field"], entry["diff"])
        # 3. relations
        for entry in d["relations"]:
            kind = _whole(entry["diff"])
            if kind == "N":
                obj = entry["diff"][0].get("rhs") or {}
                self.step(f"create relation {_relation_label(obj)}", self.create_relation,
                          obj)
            elif kind is None:
                self.update_relation(entry["collection"], entry["field"], entry["diff"])
        if not self.dry_run:
            self.reconcile_created()
        # 4. deletions, in reverse dependency order
        for entry in d["relations"]:
            if _whole(entry["diff"]) == "D":
                c, f = entry["collection"], entry["field"]
                self.step(f"delete relation {c}.{f}", self.relations.delete_one, c, f)
        for entry in d["fields"]:
            if _whole(entry["diff"]) == "D" and entry["collection"] not in dropped:
                c, f = entry["collection"], entry["field"]
                self.step(f"delete field {c}.{f}", self.delete_field, c, f)
        for name in _deletion_order(dropped, self.cms.schema):
            self.step(f"delete collection {name}", self.collections.delete_one, name)
        return self.plan

    # -- collections --------------------------------------------------------------------
    def create_collection(self, name: str, obj: dict[str, Any],
                          fields: list[dict[str, Any]]) -> None:
        schema = obj.get("schema")
        payload: dict[str, Any] = {"collection": name, "meta": obj.get("meta")}
        if schema is None:
            payload["schema"] = None
            self.step(f"create folder {name}", self.collections.create_one, payload)
            return
        payload["schema"] = {"comment": schema["comment"]} if schema.get("comment") else {}
        payload["fields"] = [_field_payload(f) for f in fields]
        for f in fields:
            self.created_fields[(name, f["field"])] = f
        self.step(f"create collection {name} with fields "
                  f"{', '.join(f['field'] for f in fields) or '(id)'}",
                  self.collections.create_one, payload)

    def update_collection(self, name: str, ops: list[dict[str, Any]]) -> None:
        if _replaces(ops, "schema"):
            raise InvalidPayloadError(
                f'Collection "{name}" would change between a folder and a table; delete it '
                "and create it again instead")
        ops = [op for op in ops if _top(op) == "meta"]
        if ops:
            self.step(f"update collection {name}: {_describe(ops)}",
                      self._update_collection, name, ops)

    def _update_collection(self, name: str, ops: list[dict[str, Any]]) -> None:
        current = self.current("collections", name)
        if current is None:
            raise InvalidPayloadError(f'Collection "{name}" does not exist')
        meta = apply_ops(current, ops).get("meta")
        if meta is None:
            t = _meta_tables()["directus_collections"]
            with self.collections.change(f'Could not remove the metadata of "{name}"',
                                         collections=[name]) as w:
                w.conn.execute(t.delete().where(t.c.collection == name))
            return
        keys = set(meta) if _replaces(ops, "meta") else _changed(ops, "meta")
        self.collections.update_one(name, {"meta": {k: meta.get(k) for k in keys
                                                    if k != "collection"}})

    # -- fields -------------------------------------------------------------------------
    def create_field(self, collection: str, obj: dict[str, Any]) -> None:
        self.created_fields[(collection, obj["field"])] = obj
        self.fields.create_field(collection, _field_payload(obj))

    def update_field(self, collection: str, name: str, ops: list[dict[str, Any]]) -> None:
        label = f"{collection}.{name}"
        if _replaces(ops, "schema"):  # a column becoming an alias or the other way round
            self.step(f"recreate field {label}: {_describe(ops)}",
                      self._recreate_field, collection, name, ops)
            return
        self.step(f"update field {label}: {_describe(ops)}",
                  self._update_field, collection, name, ops)

    def _recreate_field(self, collection: str, name: str, ops: list[dict[str, Any]]) -> None:
        target = apply_ops(self.current("fields", (collection, name)), ops)
        self.fields.delete_field(collection, name)
        self.create_field(collection, target)

    def _update_field(self, collection: str, name: str, ops: list[dict[str, Any]]) -> None:
        current = self.current("fields", (collection, name))
        if current is None:
            raise InvalidPayloadError(f'Field "{collection}.{name}" does not exist')
        new = apply_ops(current, ops)
        payload: dict[str, Any] = {"field": name}
        if any(_top(op) == "type" for op in ops):
            payload["type"] = new.get("type")
        changed = _changed(ops, "schema")
        if changed:
            payload["schema"] = {k: (new.get("schema") or {}).get(k) for k in changed}
        meta = new.get("meta")
        if _replaces(ops, "meta") and meta is None:
            self._drop_field_meta(collection, name)
        elif meta is not None:
            keys = set(meta) if _replaces(ops, "meta") else _changed(ops, "meta")
            keys -= {"collection", "field"}
            if keys:
                payload["meta"] = {k: meta.get(k) for k in keys}
        if len(payload) > 1:
            self.fields.update_field(collection, payload)

    def delete_field(self, collection: str, name: str) -> None:
        coll = self.cms.schema.get(collection)
        if coll is not None and name in coll.fields:  # an o2m alias goes with its relation
            self.fields.delete_field(collection, name)

    def _drop_field_meta(self, collection: str, name: str) -> None:
        with self.fields.change(f'Could not remove the metadata of "{collection}.{name}"',
                                collections=[collection]) as work:
            self.fields.delete_field_rows(work.conn, collection, name)

    def reconcile_created(self) -> None:
        """Make created fields' metadata exactly the snapshot's: the services add a sort
        position and the specials a type implies when a payload leaves them out."""
        if not self.created_fields:
            return
        snap = snapshot(self.cms)
        have = _portable(snap, _relation_fields(snap), Portability(comments=False))["fields"]
        for key, want in self.created_fields.items():
            current = have.get(key)
            if current is None:
                continue
            meta_want, meta_have = want.get("meta"), current.get("meta")
            if meta_want is None:
                if meta_have is not None:
                    self._drop_field_meta(*key)
                continue
            ops = deep_diff(_only(meta_have, meta_want), meta_want)
            keys = {str(op["path"][0]) for op in ops if op.get("path")} - {"collection",
                                                                            "field"}
            if keys:
                self.fields.update_field(key[0], {"field": key[1], "meta": {
                    k: meta_want.get(k) for k in keys}})

    # -- relations ----------------------------------------------------------------------
    def create_relation(self, obj: dict[str, Any]) -> None:
        meta = obj.get("meta")
        if meta is not None:
            meta = {k: v for k, v in meta.items()
                    if k not in ("many_collection", "many_field", "one_collection")}
        self.relations.create_one({
            "collection": obj.get("collection"), "field": obj.get("field"),
            "related_collection": obj.get("related_collection"), "meta": meta,
            "schema": obj.get("schema")})

    def update_relation(self, collection: str, name: str, ops: list[dict[str, Any]]) -> None:
        label = f"{collection}.{name}"
        if any(_top(op) == "related_collection" for op in ops):
            self.step(f"recreate relation {label}: {_describe(ops)}",
                      self._recreate_relation, collection, name, ops)
            return
        self.step(f"update relation {label}: {_describe(ops)}",
                  self._update_relation, collection, name, ops)

    def _recreate_relation(self, collection: str, name: str,
                           ops: list[dict[str, Any]]) -> None:
        target = apply_ops(self.current("relations", (collection, name)), ops)
        self.relations.delete_one(collection, name)
        self.create_relation(target)

    def _update_relation(self, collection: str, name: str, ops: list[dict[str, Any]]) -> None:
        current = self.current("relations", (collection, name))
        if current is None:
            raise InvalidPayloadError(f'Relation "{collection}.{name}" does not exist')
        new = apply_ops(current, ops)
        payload: dict[str, Any] = {}
        meta = new.get("meta")
        if meta is not None:
            keys = set(meta) if _replaces(ops, "meta") else _changed(ops, "meta")
            keys -= {"many_collection", "many_field", "one_collection"}
            if keys:
                payload["meta"] = {k: meta.get(k) for k in keys}
        if any(_top(op) == "schema" for op in ops) and new.get("schema") is not None:
            payload["schema"] = new["schema"]
        if payload:
            self.relations.update_one(collection, name, payload)


def _relation_label(obj: dict[str, Any]) -> str:
    target = obj.get("related_collection") or ", ".join(
        (obj.get("meta") or {}).get("one_allowed_collections") or []) or "any collection"
    out = f"{obj.get('collection')}.{obj.get('field')} -> {target}"
    one_field = (obj.get("meta") or {}).get("one_field")
    if one_field and obj.get("related_collection"):
        out += f" (alias {obj['related_collection']}.{one_field})"
    if obj.get("schema"):
        out += f" [foreign key, on delete {obj['schema'].get('on_delete')}]"
    return out


def _only(have: Any, want: Any) -> Any:
    """``have`` restricted to the keys ``want`` names: a snapshot that leaves a metadata
    key out does not manage it (older Directus versions lack newer columns)."""
    if isinstance(have, dict) and isinstance(want, dict):
        return {k: v for k, v in have.items() if k in want}
    return have


def _creation_order(new: dict[str, dict[str, Any]]) -> list[str]:
    """New collections, each after the folder it is grouped in (``meta.group`` is a FK)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str, depth: int = 0) -> None:
        if name in seen or depth > len(new):
            return
        seen.add(name)
        rhs = new[name]["diff"][0].get("rhs") or {}
        group = (rhs.get("meta") or {}).get("group")
        if isinstance(group, str) and group in new:
            visit(group, depth + 1)
        order.append(name)

    for name in sorted(new):
        visit(name)
    return order


def _deletion_order(names: set[str], snap: SchemaSnapshot) -> list[str]:
    """Collections to delete, those holding foreign keys before the ones they point at."""
    points_at: dict[str, set[str]] = {n: set() for n in names}
    for rel in snap.relations:
        if rel.collection in names and rel.related_collection in names \
                and rel.related_collection != rel.collection:
            points_at[rel.collection].add(rel.related_collection)
    order: list[str] = []
    remaining = set(names)
    while remaining:
        free = sorted(n for n in remaining
                      if not any(n in points_at[o] for o in remaining if o != n))
        if not free:  # a cycle: any order, the services report what the database refuses
            free = sorted(remaining)
        for n in free:
            order.append(n)
            remaining.discard(n)
    return order


def apply(cms: Transom, payload: Any, dry_run: bool = False,
          progress: Callable[[str], None] | None = None) -> list[str]:
    """Apply a ``{hash, diff}`` from :func:`diff` and return the plan it followed.

    Refused (400) when the schema changed since the diff was made, which also makes a second
    apply of the same diff fail instead of half-repeating it; a fresh diff of an applied
    snapshot is empty, so "snapshot, diff, apply" can be run any number of times. Each
    change runs in its own transaction through the schema services (DDL does not roll back
    on MySQL anyway); a failure stops the apply at that step with the services' error.
    """
    hash_, diff_ = _validate_diff(payload)
    with _apply_lock:
        if current_hash(cms) != hash_:
            raise InvalidPayloadError(STALE_MESSAGE)
        applier = _Applier(cms, diff_, dry_run, progress)
        try:
            return applier.run()
        finally:
            if not dry_run:
                cms.schema_changed()


def plan(cms: Transom, payload: Any, force: bool = False) -> tuple[dict[str, Any] | None,
                                                                   list[str]]:
    """The diff of a snapshot and what applying it would do (nothing is changed)."""
    result = diff(cms, payload, force)
    if result is None:
        return None, []
    return result, apply(cms, result, dry_run=True)
