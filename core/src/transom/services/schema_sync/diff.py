"""Deep-diff operations, and the diff of a snapshot against the database."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ...errors import InvalidPayloadError
from ..schema import (
    is_system_field,
)
from .portable import _new_relation, _portable, _relation_fields
from .snapshot import SNAPSHOT_VERSION, Portability, is_internal, schema_hash, snapshot

if TYPE_CHECKING:
    from ...kernel import Transom


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
            check_entry(part, item)
    if not isinstance(snap.get("vendor"), str | None):
        raise InvalidPayloadError('"vendor" of the snapshot must be a string')
    return snap


#: Keys of a snapshot entry that must hold a string (or null) when given.
_STRING_KEYS = ("type", "related_collection")
#: Keys of a field's ``schema`` that must hold a number (or null) when given.
_NUMBER_KEYS = ("max_length", "numeric_precision", "numeric_scale")


def check_entry(part: str, item: dict[str, Any]) -> None:
    """One entry's shape: what the diff and apply read must be of the type they expect."""
    name = ".".join(str(item.get(k)) for k in ("collection", "field") if item.get(k))
    for key in ("meta", "schema"):
        if not isinstance(item.get(key), dict | None):
            raise InvalidPayloadError(
                f'"{key}" of {part} entry "{name}" must be an object or null')
    for key in _STRING_KEYS:
        if not isinstance(item.get(key), str | None):
            raise InvalidPayloadError(f'"{key}" of {part} entry "{name}" must be a string')
    schema = item.get("schema") or {}
    if isinstance(schema.get("default_value"), dict | list):
        raise InvalidPayloadError(
            f'"schema.default_value" of {part} entry "{name}" must be a string, number, '
            "boolean or null")
    for key in _NUMBER_KEYS:
        value = schema.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidPayloadError(
                f'"schema.{key}" of {part} entry "{name}" must be an integer or null')


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


def _only(have: Any, want: Any) -> Any:
    """``have`` restricted to the keys ``want`` names: a snapshot that leaves a metadata
    key out does not manage it (older Directus versions lack newer columns)."""
    if isinstance(have, dict) and isinstance(want, dict):
        return {k: v for k, v in have.items() if k in want}
    return have
