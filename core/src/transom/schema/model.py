"""The immutable schema snapshot every service reads.

Built once from introspection plus Directus's metadata (:mod:`transom.schema.build`), swapped
atomically when the schema changes, never mutated. Each collection carries an SQLAlchemy
``Table`` built from the snapshot, so the query compiler never reflects at request time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa


@dataclass(frozen=True)
class Field:
    """A field of a collection: a column, or an alias (o2m, m2m, m2a, presentation)."""

    collection: str
    field: str
    type: str
    special: tuple[str, ...] = ()
    schema: Mapping[str, Any] | None = None
    meta: Mapping[str, Any] | None = None
    nullable: bool = True
    default: Any = None
    max_length: int | None = None
    is_primary_key: bool = False
    auto_increment: bool = False
    is_generated: bool = False

    @property
    def is_alias(self) -> bool:
        """True when no column stores it (o2m/m2m/m2a/presentation fields)."""
        return self.schema is None

    @property
    def concealed(self) -> bool:
        return "conceal" in self.special or self.type == "hash"

    def to_api(self) -> dict[str, Any]:
        """Directus's ``{collection, field, type, schema, meta}`` object."""
        return {
            "collection": self.collection,
            "field": self.field,
            "type": self.type,
            "schema": dict(self.schema) if self.schema is not None else None,
            "meta": dict(self.meta) if self.meta is not None else None,
        }


@dataclass(frozen=True)
class Relation:
    """A row of ``directus_relations`` (or a foreign key found by introspection)."""

    collection: str
    field: str
    related_collection: str | None
    schema: Mapping[str, Any] | None = None
    meta: Mapping[str, Any] | None = None

    @property
    def one_field(self) -> str | None:
        return (self.meta or {}).get("one_field")

    @property
    def junction_field(self) -> str | None:
        return (self.meta or {}).get("junction_field")

    @property
    def one_allowed_collections(self) -> tuple[str, ...]:
        value = (self.meta or {}).get("one_allowed_collections")
        if not value:
            return ()
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return tuple(value)

    @property
    def one_collection_field(self) -> str | None:
        return (self.meta or {}).get("one_collection_field")

    @property
    def sort_field(self) -> str | None:
        return (self.meta or {}).get("sort_field")

    @property
    def one_deselect_action(self) -> str:
        return (self.meta or {}).get("one_deselect_action") or "nullify"

    def to_api(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "field": self.field,
            "related_collection": self.related_collection,
            "schema": dict(self.schema) if self.schema is not None else None,
            "meta": dict(self.meta) if self.meta is not None else None,
        }


@dataclass(frozen=True)
class RelationInfo:
    """A relational field resolved to what the query planner needs.

    ``kind`` is ``m2o``, ``o2m``, ``m2m``, ``m2a`` or ``a2o`` (the ``item`` side of an m2a
    junction). For m2o: ``collection.field`` holds the key of ``related``. For o2m:
    ``related.foreign_field`` holds the key of ``collection``. For m2m/m2a: ``related`` is the
    junction, ``foreign_field`` its column pointing back here, ``junction_field`` its column
    pointing at the far side (``far_collection`` for m2m; any of ``allowed`` for m2a).
    """

    kind: str
    collection: str
    field: str
    related: str | None
    foreign_field: str | None = None
    junction_field: str | None = None
    far_collection: str | None = None
    allowed: tuple[str, ...] = ()
    collection_field: str | None = None
    sort_field: str | None = None
    deselect_action: str = "nullify"


@dataclass(frozen=True)
class Collection:
    """A table, a view, or a folder (no table) with its fields and metadata."""

    collection: str
    fields: Mapping[str, Field]
    primary_key: str | None
    meta: Mapping[str, Any] | None = None
    schema: Mapping[str, Any] | None = None
    is_view: bool = False
    table: sa.Table | None = None

    @property
    def is_folder(self) -> bool:
        return self.schema is None

    @property
    def is_system(self) -> bool:
        return self.collection.startswith("directus_")

    @property
    def singleton(self) -> bool:
        return bool((self.meta or {}).get("singleton"))

    @property
    def sort_field(self) -> str | None:
        return (self.meta or {}).get("sort_field")

    @property
    def accountability(self) -> str | None:
        if self.meta is None:
            return "all"
        return self.meta.get("accountability")

    @property
    def pk_field(self) -> Field:
        if self.primary_key is None:
            raise KeyError(f"collection {self.collection} has no primary key")
        return self.fields[self.primary_key]

    def to_api(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "meta": dict(self.meta) if self.meta is not None else None,
            "schema": dict(self.schema) if self.schema is not None else None,
        }


@dataclass(frozen=True)
class SchemaSnapshot:
    """Every collection and relation, frozen. ``version`` changes whenever anything does."""

    collections: Mapping[str, Collection]
    relations: tuple[Relation, ...]
    vendor: str = ""
    version: str = ""
    _relation_index: Mapping[tuple[str, str], RelationInfo] = field(
        default_factory=dict, repr=False
    )
    _digests: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def create(
        cls, collections: dict[str, Collection], relations: list[Relation], vendor: str = "",
        previous: SchemaSnapshot | None = None,
    ) -> SchemaSnapshot:
        """Freeze a snapshot; collections reused from ``previous`` (the same objects) keep
        their digests, so an incremental build hashes only what it rebuilt."""
        index = _index_relations(collections, relations)
        old = previous._digests if previous is not None else {}
        digests: dict[str, str] = {}
        for name, c in collections.items():
            if previous is not None and previous.collections.get(name) is c and name in old:
                digests[name] = old[name]
                continue
            one = hashlib.sha256(repr((name, c.meta, c.schema, c.is_view)).encode())
            for f in c.fields.values():
                one.update(repr((f.field, f.type, f.special, f.schema, f.meta)).encode())
            digests[name] = one.hexdigest()
        digest = hashlib.sha256()
        for name in sorted(digests):
            digest.update(digests[name].encode())
        # sorted: a targeted refresh may list the same relations in another order
        for text in sorted(repr((r.collection, r.field, r.related_collection, r.meta,
                                 r.schema)) for r in relations):
            digest.update(text.encode())
        return cls(
            collections=MappingProxyType(dict(collections)),
            relations=tuple(relations),
            vendor=vendor,
            version=digest.hexdigest()[:16],
            _relation_index=MappingProxyType(index),
            _digests=MappingProxyType(digests),
        )

    def get(self, collection: str) -> Collection | None:
        return self.collections.get(collection)

    def relation(self, collection: str, field_name: str) -> RelationInfo | None:
        """How ``collection.field_name`` relates to another collection, or None."""
        return self._relation_index.get((collection, field_name))

    def relations_of(self, collection: str) -> list[Relation]:
        return [
            r
            for r in self.relations
            if r.collection == collection or r.related_collection == collection
        ]


def _index_relations(
    collections: Mapping[str, Collection], relations: list[Relation]
) -> dict[tuple[str, str], RelationInfo]:
    """Resolve every relational field once, so the planner looks them up in O(1)."""
    index: dict[tuple[str, str], RelationInfo] = {}
    by_many: dict[tuple[str, str], Relation] = {}
    for r in relations:
        by_many.setdefault((r.collection, r.field), r)
    for r in relations:
        if r.related_collection is None and r.one_allowed_collections:
            index[(r.collection, r.field)] = RelationInfo(
                kind="a2o",
                collection=r.collection,
                field=r.field,
                related=None,
                allowed=r.one_allowed_collections,
                collection_field=r.one_collection_field or "collection",
            )
        elif r.related_collection is not None:
            index[(r.collection, r.field)] = RelationInfo(
                kind="m2o",
                collection=r.collection,
                field=r.field,
                related=r.related_collection,
            )
        one_field = r.one_field
        if r.related_collection is None or not one_field:
            continue
        if r.related_collection not in collections:
            continue
        junction = by_many.get((r.collection, r.junction_field)) if r.junction_field else None
        if junction is None:
            kind, far, allowed, cfield = "o2m", None, (), None
        elif junction.related_collection is None:
            kind, far = "m2a", None
            allowed = junction.one_allowed_collections
            cfield = junction.one_collection_field or "collection"
        else:
            kind, far, allowed, cfield = "m2m", junction.related_collection, (), None
        index[(r.related_collection, one_field)] = RelationInfo(
            kind=kind,
            collection=r.related_collection,
            field=one_field,
            related=r.collection,
            foreign_field=r.field,
            junction_field=r.junction_field if junction is not None else None,
            far_collection=far,
            allowed=allowed,
            collection_field=cfield,
            sort_field=r.sort_field,
            deselect_action=r.one_deselect_action,
        )
    return index
