"""``/relations``: foreign keys plus the ``directus_relations`` rows that describe them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ...errors import ForbiddenError, InvalidPayloadError
from .common import _SchemaService, _Work, meta_tables
from .events import schema_event
from .payload import DESELECT_ACTIONS, ON_ACTIONS, RELATION_META_KEYS, check_name, constraint_name

if TYPE_CHECKING:
    from ...schema.model import Collection, Relation


class RelationsService(_SchemaService):
    """``/relations``: foreign keys plus the ``directus_relations`` rows that describe them.

    On SQLite a foreign key can only be declared when a table is created, so relations made
    here are recorded as metadata only (reads, nested writes and the app work the same; the
    database just doesn't enforce them). PostgreSQL and MySQL get a real constraint named
    ``<table>_<column>_foreign``, as Directus names them.
    """

    # -- reads --------------------------------------------------------------------------
    def _visible(self, rel: Relation) -> bool:
        if self.admin:
            return True
        if not self.can_read_field(rel.collection, rel.field):
            return False
        return rel.related_collection is None or self.can_read(rel.related_collection)

    def read_all(self, collection: str | None = None) -> list[dict[str, Any]]:
        if collection is not None:
            self.collection(collection)
        return [r.to_api() for r in self.schema.relations
                if (collection is None or r.collection == collection) and self._visible(r)]

    def relation(self, collection: str, field_name: str) -> Relation:
        self.collection(collection)
        for rel in self.schema.relations:
            if rel.collection == collection and rel.field == field_name and self._visible(rel):
                return rel
        raise ForbiddenError.field(str(field_name), collection)

    def read_one(self, collection: str, field_name: str) -> dict[str, Any]:
        return self.relation(collection, field_name).to_api()

    # -- DDL ----------------------------------------------------------------------------
    def _fk(self, many: Collection, field_name: str, one: Collection, name: str,
            on_delete: str | None, on_update: str | None) -> sa.ForeignKeyConstraint:
        md = sa.MetaData()
        pk = one.primary_key
        assert pk is not None
        one_t = self.table_of(one, sa.Column(pk, sa.Integer()), metadata=md)
        many_t = self.table_of(many, sa.Column(field_name, sa.Integer()), metadata=md)
        fk = sa.ForeignKeyConstraint([field_name], [one_t.c[pk]], name=name,
                                     ondelete=on_delete, onupdate=on_update)
        many_t.append_constraint(fk)
        return fk

    def add_fk(self, work: _Work, many: Collection, field_name: str, one: Collection,
               on_delete: str | None, on_update: str | None, name: str | None = None) -> None:
        name = name or constraint_name(many.collection, field_name, "foreign")
        fk = self._fk(many, field_name, one, name, on_delete, on_update)
        self.cms.dialect.add_foreign_key(work.conn, fk)
        work.undo.append(lambda c: self.drop_fk(c, many, field_name, name))

    def drop_fk(self, conn: sa.Connection, many: Collection, field_name: str,
                name: str) -> None:
        md = sa.MetaData()
        table = self.table_of(many, sa.Column(field_name, sa.Integer()), metadata=md)
        target = self.sa_table("_transom_target", sa.Column("id", sa.Integer()), metadata=md)
        fk = sa.ForeignKeyConstraint([field_name], [target.c.id], name=name)
        table.append_constraint(fk)
        self.cms.dialect.drop_foreign_key(conn, fk)

    def ensure_key_index(self, work: _Work, many: Collection, field_name: str) -> None:
        """Index the relation's key column unless an index already starts with it: nested
        reads fetch children with ``WHERE <fk> IN (...)`` and filters on relations join on
        it, so without one every such read scans the whole many side (PostgreSQL and
        SQLite never index a foreign key on their own; MySQL does, and is then skipped)."""
        if many.is_view:
            return  # a view has no indexes of its own
        insp = sa.inspect(work.conn)
        schema = self.schema_of(many)
        for ix in insp.get_indexes(many.collection, schema=schema):
            if (ix.get("column_names") or [None])[0] == field_name:
                return
        for uc in insp.get_unique_constraints(many.collection, schema=schema):
            if (uc.get("column_names") or [None])[0] == field_name:
                return
        pk = insp.get_pk_constraint(many.collection, schema=schema)
        if (pk.get("constrained_columns") or [None])[0] == field_name:
            return
        name = constraint_name(many.collection, field_name, "index")
        table = self.table_of(many, sa.Column(field_name, sa.Integer()), metadata=sa.MetaData())
        sa.Index(name, table.c[field_name]).create(work.conn)
        work.undo.append(lambda c: self.cms.dialect.drop_index(
            c, self.table_of(many, sa.Column(field_name, sa.Integer()),
                             metadata=sa.MetaData()), name, False))

    # -- payload ------------------------------------------------------------------------
    def _schema_actions(self, schema_in: Any) -> tuple[str | None, str | None]:
        if not isinstance(schema_in, dict):
            raise InvalidPayloadError('"schema" must be an object or null')
        out: list[str | None] = []
        for key in ("on_delete", "on_update"):
            value = schema_in.get(key)
            if value is not None:
                if not isinstance(value, str) or value.upper() not in ON_ACTIONS:
                    raise InvalidPayloadError(
                        f'"schema.{key}" must be one of {", ".join(ON_ACTIONS)}')
                value = value.upper()
            out.append(value)
        return out[0], out[1]

    def _meta_row(self, coll: Collection, meta: Any, related: str | None) -> dict[str, Any]:
        """Validated ``directus_relations`` columns from a payload's ``meta``."""
        if meta is None:
            return {}
        if not isinstance(meta, dict):
            raise InvalidPayloadError('"meta" must be an object or null')
        row = {k: meta[k] for k in RELATION_META_KEYS if k in meta}
        for key in ("junction_field", "sort_field", "one_collection_field"):
            value = row.get(key)
            if value is not None and (not isinstance(value, str) or value not in coll.fields):
                raise InvalidPayloadError(
                    f'"meta.{key}": field "{value}" does not exist in collection '
                    f'"{coll.collection}"')
        if row.get("one_field") is not None:
            check_name(row["one_field"], "one_field")
            if related is None:
                raise InvalidPayloadError('"meta.one_field" needs a related_collection')
        allowed = row.get("one_allowed_collections")
        if allowed is not None:
            if isinstance(allowed, str):
                allowed = [a for a in allowed.split(",") if a]
            if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
                raise InvalidPayloadError('"meta.one_allowed_collections" must be an array')
            for name in allowed:
                target = self.schema.get(name)
                if target is None or target.table is None:
                    raise InvalidPayloadError(f'Collection "{name}" does not exist')
            row["one_allowed_collections"] = ",".join(allowed) or None
        action = row.get("one_deselect_action")
        if action is not None and action not in DESELECT_ACTIONS:
            raise InvalidPayloadError('"meta.one_deselect_action" must be "nullify" or "delete"')
        if "one_deselect_action" in row and action is None:
            row.pop("one_deselect_action")
        return row

    def _alias_special(self, collection: str, row: dict[str, Any]) -> str:
        """What kind of alias the relation's ``one_field`` is: o2m, m2m or m2a."""
        junction = row.get("junction_field")
        if not junction:
            return "o2m"
        for rel in self.schema.relations:
            if rel.collection == collection and rel.field == junction:
                return "m2a" if rel.related_collection is None else "m2m"
        return "m2m"

    # -- writes -------------------------------------------------------------------------
    @schema_event("relations", "create")
    def create_one(self, payload: Any) -> tuple[str, str]:
        """Add the foreign key (where possible) and the ``directus_relations`` row."""
        self.require_admin()
        if not isinstance(payload, dict):
            raise InvalidPayloadError("A relation must be an object")
        cname = payload.get("collection")
        fname = payload.get("field")
        if not isinstance(cname, str) or not cname:
            raise InvalidPayloadError('"collection" is required')
        if not isinstance(fname, str) or not fname:
            raise InvalidPayloadError('"field" is required')
        coll = self.schema.get(cname)
        if coll is None or coll.table is None:
            raise InvalidPayloadError(f'Collection "{cname}" does not exist')
        current = coll.fields.get(fname)
        if current is None:
            raise InvalidPayloadError(
                f'Field "{fname}" does not exist in collection "{cname}"')
        if current.is_alias:
            raise InvalidPayloadError(
                f'Field "{fname}" of collection "{cname}" is an alias; a relation needs a '
                "column on the many side")
        related_name = payload.get("related_collection")
        related = None
        if related_name is not None:
            related = self.schema.get(related_name) if isinstance(related_name, str) else None
            if related is None or related.table is None or related.primary_key is None:
                raise InvalidPayloadError(f'Collection "{related_name}" does not exist')
        for rel in self.schema.relations:
            if rel.collection == cname and rel.field == fname and rel.meta is not None:
                raise InvalidPayloadError(
                    f'Field "{fname}" in collection "{cname}" already has an associated '
                    "relationship")
        schema_in = payload.get("schema", {})
        actions = self._schema_actions(schema_in) if schema_in is not None else None
        row = self._meta_row(coll, payload.get("meta"), related_name)
        if related is None and not row.get("one_allowed_collections"):
            raise InvalidPayloadError(
                '"related_collection" is required, or "meta.one_allowed_collections" for '
                "a many-to-any relation")
        has_fk = bool(current.schema and current.schema.get("foreign_key_table"))
        with self.change(f'Could not create relation "{cname}.{fname}"',
                         collections=[cname, *([related_name] if related else [])]) as work:
            if actions is not None and related is not None and not has_fk \
                    and self.can_alter_constraints:
                self.add_fk(work, coll, fname, related, *actions)
            self.ensure_key_index(work, coll, fname)
            self.insert(work.conn, "directus_relations", {
                **row, "many_collection": cname, "many_field": fname,
                "one_collection": related_name})
            if row.get("one_field") and related_name is not None:
                self.ensure_alias(work.conn, related_name, row["one_field"],
                                  self._alias_special(cname, row))
        return cname, fname

    @schema_event("relations", "update")
    def update_one(self, collection: str, field_name: str, payload: Any) -> tuple[str, str]:
        """Update the meta row (creating it for a bare foreign key) and the FK's actions."""
        self.require_admin()
        rel = self.relation(collection, field_name)
        if (rel.meta or {}).get("system"):
            raise ForbiddenError()
        if not isinstance(payload, dict):
            raise InvalidPayloadError("Payload must be an object")
        coll = self.schema.get(collection)
        assert coll is not None
        row = self._meta_row(coll, payload.get("meta"), rel.related_collection)
        schema_in = payload.get("schema")
        actions = self._schema_actions(schema_in) if schema_in is not None else None
        t = meta_tables()["directus_relations"]
        with self.change(f'Could not update relation "{collection}.{field_name}"',
                         collections=[collection]) as work:
            if actions is not None and rel.schema is not None and self.can_alter_constraints:
                on_delete = actions[0] or rel.schema.get("on_delete")
                on_update = actions[1] or rel.schema.get("on_update")
                if (on_delete, on_update) != (rel.schema.get("on_delete"),
                                              rel.schema.get("on_update")):
                    related = self.schema.get(rel.related_collection or "")
                    name = rel.schema.get("constraint_name") or constraint_name(
                        collection, field_name, "foreign")
                    if related is None:
                        raise InvalidPayloadError("The related collection no longer exists")
                    self.drop_fk(work.conn, coll, field_name, name)
                    self.add_fk(work, coll, field_name, related, on_delete, on_update, name)
            if rel.meta is None:
                self.insert(work.conn, "directus_relations", {
                    **row, "many_collection": collection, "many_field": field_name,
                    "one_collection": rel.related_collection})
            elif row:
                work.conn.execute(t.update().where(
                    t.c.many_collection == collection, t.c.many_field == field_name
                ).values(**row))
            if row.get("one_field") and rel.related_collection:
                merged = {**(rel.meta or {}), **row}
                self.ensure_alias(work.conn, rel.related_collection, row["one_field"],
                                  self._alias_special(collection, merged))
        return collection, field_name

    @schema_event("relations", "delete")
    def delete_one(self, collection: str, field_name: str) -> None:
        """Drop the foreign key and the row; the o2m alias on the other side goes too."""
        self.require_admin()
        rel = self.relation(collection, field_name)
        if (rel.meta or {}).get("system"):
            raise ForbiddenError()
        coll = self.schema.get(collection)
        assert coll is not None
        t = meta_tables()["directus_relations"]
        with self.change(f'Could not delete relation "{collection}.{field_name}"',
                         collections=[collection]) as work:
            if rel.schema and rel.schema.get("constraint_name") and self.can_alter_constraints:
                self.drop_fk(work.conn, coll, field_name, rel.schema["constraint_name"])
            work.conn.execute(t.delete().where(t.c.many_collection == collection,
                                               t.c.many_field == field_name))
            if rel.one_field and rel.related_collection:
                related = self.schema.get(rel.related_collection)
                alias = related.fields.get(rel.one_field) if related else None
                if alias is not None and alias.is_alias:
                    self.delete_field_rows(work.conn, rel.related_collection, rel.one_field)
