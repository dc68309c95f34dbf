"""``/collections``: create, update and delete tables, views and folders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ...dialects import DropView
from ...errors import ForbiddenError, InvalidPayloadError
from .common import _SchemaService, meta_tables
from .events import schema_event
from .fields import FieldsService
from .payload import COLLECTION_META_KEYS, FieldSpec, check_name, constraint_name, parse_field
from .relations import RelationsService

if TYPE_CHECKING:
    from ...schema.model import Collection


def _collection_api(coll: Collection) -> dict[str, Any]:
    out = coll.to_api()
    schema = out.get("schema")
    if schema is not None and schema.get("schema") is None:
        schema.pop("schema", None)  # only databases with schemas name one, as in Directus
    return out



class CollectionsService(_SchemaService):
    """``/collections``: tables, views and folders with their ``directus_collections`` meta."""

    # -- reads --------------------------------------------------------------------------
    def read_all(self) -> list[dict[str, Any]]:
        return [_collection_api(c) for name, c in self.schema.collections.items()
                if self.can_read(name)]

    def read_one(self, name: str) -> dict[str, Any]:
        return _collection_api(self.collection(name))

    # -- writes -------------------------------------------------------------------------
    def create_many(self, payloads: list[Any]) -> list[str]:
        return [self.create_one(p) for p in payloads]

    @schema_event("collections", "create")
    def create_one(self, payload: Any) -> str:
        """Create a table (or a folder when ``schema`` is null) with its fields and meta."""
        self.require_admin()
        if not isinstance(payload, dict):
            raise InvalidPayloadError("A collection must be an object")
        name = check_name(payload.get("collection"), "collection")
        if name.lower().startswith("directus_"):
            raise InvalidPayloadError('Collection names starting with "directus_" are reserved')
        if self.schema.get(name) is not None:
            raise InvalidPayloadError(f'Collection "{name}" already exists')
        meta = payload.get("meta")
        if meta is not None and not isinstance(meta, dict):
            raise InvalidPayloadError('"meta" must be an object or null')
        schema_in = payload.get("schema")
        if schema_in is not None and not isinstance(schema_in, dict):
            raise InvalidPayloadError('"schema" must be an object or null')
        fields = payload.get("fields")
        inner = schema_in.get("fields") if schema_in else None
        if fields is not None and inner is not None:
            raise InvalidPayloadError('Give the fields in "fields" or in "schema.fields", '
                                      "not both")
        fields = fields if fields is not None else inner
        if fields is not None and not isinstance(fields, list):
            raise InvalidPayloadError('"fields" must be an array')
        folder = schema_in is None and "schema" in payload
        if folder:
            if fields:
                raise InvalidPayloadError(
                    f'Collection "{name}" is a folder (schema: null) and cannot have fields')
            with self.change(f'Could not create collection "{name}"', collections=[name]) \
                    as work:
                self._insert_meta(work.conn, name, meta or {})
            return name
        specs = [parse_field(f) for f in fields or []]
        self._check_fields(name, specs)
        if not any(s.primary_key for s in specs):
            if any(s.field == "id" for s in specs):
                raise InvalidPayloadError(
                    'No field is the primary key, and "id" (the default one) is taken')
            specs.insert(0, FieldSpec(
                "id", "integer", False,
                {"is_primary_key": True, "has_auto_increment": True},
                {"hidden": True, "interface": "input", "readonly": True}))
        fields_svc = FieldsService(self.cms, self.accountability)
        metadata = sa.MetaData()
        columns: list[sa.Column[Any]] = []
        indexes: list[tuple[str, str, bool]] = []
        for spec in specs:
            if spec.alias:
                continue
            columns.append(fields_svc.build_column(name, spec))
            if spec.column.get("is_unique") and not spec.primary_key:
                indexes.append((constraint_name(name, spec.field, "unique"), spec.field, True))
            if spec.column.get("is_indexed") and not spec.primary_key:
                indexes.append((constraint_name(name, spec.field, "index"), spec.field, False))
        pk = next(s for s in specs if s.primary_key)
        kwargs = self.cms.dialect.table_options(
            auto_increment=bool(pk.column.get("has_auto_increment")))
        comment = (schema_in or {}).get("comment")
        if comment is not None and not isinstance(comment, str):
            raise InvalidPayloadError('"schema.comment" must be a string')
        table = sa.Table(name, metadata, *columns, schema=self.db_schema, comment=comment,
                         **kwargs)
        for index_name, column, unique in indexes:
            sa.Index(index_name, table.c[column], unique=unique)

        with self.change(f'Could not create collection "{name}"', collections=[name]) as work:
            table.create(work.conn)
            work.undo.append(lambda c: table.drop(c, checkfirst=True))
            if meta is not None or "meta" not in payload:
                self._insert_meta(work.conn, name, meta or {})
            self.insert_many(work.conn, "directus_fields", [
                fields_svc.field_row(name, spec, sort=position)
                for position, spec in enumerate(specs, start=1)])
        return name

    def _check_fields(self, collection: str, specs: list[FieldSpec]) -> None:
        seen: set[str] = set()
        for spec in specs:
            if spec.field in seen:
                raise InvalidPayloadError(
                    f'Field "{spec.field}" appears twice in collection "{collection}"')
            seen.add(spec.field)
        pks = [s for s in specs if s.primary_key]
        if len(pks) > 1:
            raise InvalidPayloadError("Only one field can be the primary key")
        if pks and pks[0].alias:
            raise InvalidPayloadError("An alias field cannot be the primary key")

    def _insert_meta(self, conn: sa.Connection, name: str, meta: dict[str, Any]) -> None:
        row = {k: v for k, v in meta.items() if k in COLLECTION_META_KEYS}
        self.insert(conn, "directus_collections", {**row, "collection": name})

    def update_many(self, payloads: list[Any]) -> list[str]:
        if not all(isinstance(p, dict) for p in payloads):
            raise InvalidPayloadError("Every item must be an object with a collection")
        return [self.update_one(p.get("collection"), p) for p in payloads]

    @schema_event("collections", "update")
    def update_one(self, name: str, payload: Any) -> str:
        """Update the meta row (creating it for a table that had none); nothing else."""
        self.require_admin()
        coll = self.collection(name)
        if coll.is_system:
            raise ForbiddenError()
        if not isinstance(payload, dict):
            raise InvalidPayloadError("Payload must be an object")
        meta = payload.get("meta")
        if meta is None:
            return name
        if not isinstance(meta, dict):
            raise InvalidPayloadError('"meta" must be an object')
        row = {k: v for k, v in meta.items() if k in COLLECTION_META_KEYS}
        t = meta_tables()["directus_collections"]
        with self.change(f'Could not update collection "{name}"', collections=[name]) as work:
            if coll.meta is None:
                self.insert(work.conn, "directus_collections", {**row, "collection": name})
            elif row:
                work.conn.execute(t.update().where(t.c.collection == name).values(**row))
        return name

    @schema_event("collections", "delete")
    def delete_one(self, name: str) -> None:
        """Drop the table (or view) and every metadata row that mentions the collection."""
        self.require_admin()
        coll = self.collection(name)
        if coll.is_system:
            raise ForbiddenError()
        snap = self.schema
        if not coll.is_folder and not self.can_alter_constraints:
            for rel in snap.relations:
                if rel.related_collection == name and rel.collection != name and rel.schema:
                    raise InvalidPayloadError(
                        f'Collection "{name}" is referenced by the foreign key of '
                        f'"{rel.collection}.{rel.field}", which {self.cms.dialect.name} can '
                        f'only remove by rebuilding that table; delete "{rel.collection}" first')
        tables = meta_tables()
        fields_t, rel_t = tables["directus_fields"], tables["directus_relations"]
        coll_t = tables["directus_collections"]
        children = [c.collection for c in snap.collections.values()
                    if (c.meta or {}).get("group") == name]  # their group is cleared
        with self.change(f'Could not delete collection "{name}"',
                         collections=[name, *children]) as work:
            conn = work.conn
            if not coll.is_folder:
                if self.can_alter_constraints:
                    for rel in snap.relations:
                        if (rel.related_collection == name and rel.collection != name
                                and rel.schema and rel.schema.get("constraint_name")):
                            other = snap.get(rel.collection)
                            if other is not None and other.table is not None:
                                RelationsService(self.cms, self.accountability).drop_fk(
                                    conn, other, rel.field, rel.schema["constraint_name"])
                if coll.is_view:
                    conn.execute(DropView(self.table_of(coll)))
                else:
                    self.table_of(coll).drop(conn)
            # Metadata, after the DDL: on MySQL a rolled-back DELETE is the only safe undo.
            for rel in snap.relations:
                if rel.meta is None or rel.meta.get("system"):
                    continue
                if rel.collection == name and rel.one_field and rel.related_collection \
                        and rel.related_collection != name:
                    self.delete_field_rows(conn, rel.related_collection, rel.one_field)
                allowed = rel.one_allowed_collections
                if name in allowed and rel.collection != name:
                    rest = ",".join(c for c in allowed if c != name) or None
                    conn.execute(rel_t.update().where(
                        rel_t.c.many_collection == rel.collection,
                        rel_t.c.many_field == rel.field).values(one_allowed_collections=rest))
            conn.execute(rel_t.delete().where(sa.or_(rel_t.c.many_collection == name,
                                                     rel_t.c.one_collection == name)))
            conn.execute(fields_t.delete().where(fields_t.c.collection == name))
            conn.execute(coll_t.update().where(coll_t.c.group == name).values(group=None))
            conn.execute(coll_t.delete().where(coll_t.c.collection == name))
            for extra in ("directus_presets", "directus_permissions"):
                if snap.get(extra) is not None:
                    t = tables[extra]
                    conn.execute(t.delete().where(t.c.collection == name))
        self.cms.access_changed()
