"""Snapshots: the user schema in Directus's API shape, and its hash."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...system.tables import SYSTEM_TABLES
from ..schema import (
    is_system_field,
)

if TYPE_CHECKING:
    from ...kernel import Transom
    from ...schema.model import SchemaSnapshot


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
