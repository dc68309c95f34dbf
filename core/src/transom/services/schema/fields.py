"""``/fields``: add, alter and drop columns and alias fields.

A column's type, size, nullability or default changes in place where the dialect
:attr:`~transom.dialects.Dialect.supports_alter_column`, by the dialect's table rebuild
(SQLite) where it can rebuild, and is refused otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ...dialects import AddColumn, DropColumn
from ...errors import ContainsNullValuesError, ForbiddenError, InvalidPayloadError, TransomError
from ...schema.types import ALIAS_TYPES, TYPES, field_type, plugin_field_type
from .common import _SchemaService, _Work, is_system_field, meta_tables
from .events import schema_event
from .payload import (
    _COLUMN_CHANGES,
    _TYPE_SPECIALS,
    FIELD_META_KEYS,
    FieldSpec,
    constraint_name,
    parse_field,
    server_default,
)
from .relations import RelationsService

if TYPE_CHECKING:
    from ...schema.model import Collection, Field


class FieldsService(_SchemaService):
    """``/fields``: columns and alias fields with their ``directus_fields`` meta."""

    # -- reads --------------------------------------------------------------------------
    def read_all(self, collection: str | None = None) -> list[dict[str, Any]]:
        if collection is not None:
            coll = self.collection(collection)
            return [f.to_api() for name, f in coll.fields.items()
                    if self.can_read_field(collection, name)]
        out: list[dict[str, Any]] = []
        for cname, coll in self.schema.collections.items():
            if not self.can_read(cname):
                continue
            out.extend(f.to_api() for name, f in coll.fields.items()
                       if self.can_read_field(cname, name))
        return out

    def field(self, collection: str, name: str) -> Field:
        coll = self.collection(collection)
        f = coll.fields.get(name) if isinstance(name, str) else None
        if f is None or not self.can_read_field(collection, name):
            raise ForbiddenError.field(str(name), collection)
        return f

    def read_one(self, collection: str, name: str) -> dict[str, Any]:
        return self.field(collection, name).to_api()

    # -- building blocks ----------------------------------------------------------------
    def build_column(self, table: str, spec: FieldSpec, current: Field | None = None,
                     raw_default: str | None = None) -> sa.Column[Any]:
        """The SQLAlchemy column for a field spec (merged over ``current`` for updates).

        ``raw_default`` is the database's own SQL for a default that must stay as it is
        (an expression such as ``now()`` must not come back as a quoted string).
        """
        c = dict(spec.column)
        type_ = spec.type or (current.type if current else None)
        if current is not None and current.schema is not None:
            base = current.schema
            for key in ("is_nullable", "default_value", "max_length", "numeric_precision",
                        "numeric_scale", "comment", "is_primary_key", "has_auto_increment"):
                c.setdefault(key, base.get(key))
        if type_ is None or (type_ not in TYPES and plugin_field_type(type_) is None):
            raise InvalidPayloadError(f'Field "{spec.field}" needs a column type, not {type_!r}')
        pk = bool(c.get("is_primary_key"))
        auto = bool(c.get("has_auto_increment"))
        if auto and type_ not in ("integer", "bigInteger"):
            raise InvalidPayloadError(
                f'Field "{spec.field}": only integer and bigInteger fields can auto-increment')
        if auto and not pk:
            raise InvalidPayloadError(
                f'Field "{spec.field}": only the primary key can auto-increment')
        sa_type = self.cms.dialect.column_type(type_, c.get("max_length"),
                                               c.get("numeric_precision"),
                                               c.get("numeric_scale"))
        if auto:
            sa_type = self.cms.dialect.auto_increment_type(sa_type)
        nullable = c.get("is_nullable")
        nullable = (not pk) if nullable is None else (nullable and not pk)
        if raw_default is not None:
            default: Any = sa.text(raw_default)
        else:
            default = None if auto else server_default(c.get("default_value"), type_,
                                                       spec.field)
        return sa.Column(spec.field, sa_type, primary_key=pk,
                         autoincrement=auto if pk else False, nullable=nullable,
                         server_default=default, comment=c.get("comment"))

    def field_row(self, collection: str, spec: FieldSpec, sort: int | None = None
                  ) -> dict[str, Any]:
        """The ``directus_fields`` row of a new field, with the specials its type needs."""
        meta = dict(spec.meta or {})
        special = list(meta.get("special") or [])
        type_ = spec.type
        if spec.alias and type_ in ALIAS_TYPES and type_ != "alias" and type_ not in special:
            special.append(type_)
        if not spec.alias:
            if spec.primary_key and type_ == "uuid" and "uuid" not in special:
                special.append("uuid")
            implied = _TYPE_SPECIALS.get(type_ or "")
            plugin_type = plugin_field_type(type_)  # recorded by its flag: see field_type()
            if plugin_type is not None:
                implied = plugin_type.special_flag
            if implied and implied not in special:
                special.append(implied)
        if spec.alias and not special:
            special.append("alias")
        row = {k: meta[k] for k in FIELD_META_KEYS if k in meta}
        registered = field_type(type_) if not spec.alias else None
        if row.get("interface") is None and registered is not None and registered.interface:
            row["interface"] = registered.interface
        row["special"] = ",".join(special) or None
        if row.get("sort") is None and sort is not None:
            row["sort"] = sort
        return {**row, "collection": collection, "field": spec.field}

    def _index_names(self, conn: sa.Connection, coll: Collection, column: str
                     ) -> list[tuple[str, bool, bool]]:
        """``(name, unique, is_constraint)`` of single-column indexes on ``column``."""
        insp = sa.inspect(conn)
        schema = self.schema_of(coll)
        out: list[tuple[str, bool, bool]] = []
        seen: set[str] = set()
        for uc in insp.get_unique_constraints(coll.collection, schema=schema):
            if uc.get("column_names") == [column] and uc.get("name"):
                out.append((uc["name"], True, True))
                seen.add(uc["name"])
        for ix in insp.get_indexes(coll.collection, schema=schema):
            if ix.get("column_names") == [column] and ix.get("name") \
                    and ix["name"] not in seen:
                out.append((ix["name"], bool(ix.get("unique")), False))
        return out

    # -- writes -------------------------------------------------------------------------
    @schema_event("fields", "create")
    def create_field(self, collection: str, payload: Any) -> str:
        """Add a column (``ALTER TABLE ADD COLUMN``) or an alias field (metadata only)."""
        self.require_admin()
        coll = self.collection(collection)
        spec = parse_field(payload)
        if spec.field in coll.fields:
            raise InvalidPayloadError(
                f'Field "{spec.field}" already exists in collection "{collection}"')
        if not spec.alias:
            coll = self.table_collection(collection, "add columns to")
            if spec.primary_key:
                raise InvalidPayloadError(
                    "A primary key can only be created together with its collection")
        sorts = [f.meta.get("sort") for f in coll.fields.values()
                 if f.meta and isinstance(f.meta.get("sort"), int)]
        next_sort = (max(sorts) + 1) if sorts else len(coll.fields) + 1
        with self.change(f'Could not create field "{spec.field}"',
                         collections=[collection]) as work:
            if not spec.alias:
                column = self.build_column(collection, spec)
                table = self.table_of(coll, column)
                work.conn.execute(AddColumn(table, column))
                work.undo.append(
                    lambda c: c.execute(DropColumn(self.table_of(coll), name=spec.field)))
                self._create_indexes(work.conn, table, spec)
            self.insert(work.conn, "directus_fields",
                        self.field_row(collection, spec, sort=next_sort))
        return spec.field

    def _create_indexes(self, conn: sa.Connection, table: sa.Table, spec: FieldSpec) -> None:
        name = table.name
        if spec.column.get("is_unique"):
            sa.Index(constraint_name(name, spec.field, "unique"), table.c[spec.field],
                     unique=True).create(conn)
        if spec.column.get("is_indexed"):
            sa.Index(constraint_name(name, spec.field, "index"), table.c[spec.field]).create(
                conn)

    @schema_event("fields", "update")
    def update_fields(self, collection: str, payloads: Any) -> list[str]:
        """Bulk update (``PATCH /fields/:collection``), all in one change."""
        self.require_admin()
        if not isinstance(payloads, list):
            raise InvalidPayloadError("Body must be an array of fields")
        self.collection(collection)
        names: list[str] = []
        rebuild = self._needs_rebuild(collection, payloads)
        with self.change(f'Could not update fields of "{collection}"', rebuild,
                         collections=[collection]) as work:
            for payload in payloads:
                names.append(self._update(work, collection, payload))
        return names

    @schema_event("fields", "update")
    def update_field(self, collection: str, payload: Any) -> str:
        self.require_admin()
        name = payload.get("field") if isinstance(payload, dict) else None
        rebuild = self._needs_rebuild(collection, [payload])
        with self.change(f'Could not update field "{name}"', rebuild,
                         collections=[collection]) as work:
            return self._update(work, collection, payload)

    def _needs_rebuild(self, collection: str, payloads: list[Any]) -> bool:
        """Whether any of these updates changes a column in a way the database cannot
        ALTER (so the change must be ready to rebuild the table)."""
        if self.cms.dialect.supports_alter_column:
            return False
        coll = self.schema.get(collection)
        if coll is None or coll.table is None or coll.is_view:
            return False
        for payload in payloads:
            try:
                spec = parse_field(payload, for_update=True)
            except TransomError:
                continue
            current = coll.fields.get(spec.field)
            if current is not None and not current.is_alias and self._schema_changes(
                    current, spec) & _COLUMN_CHANGES:
                return True
        return False

    def _update(self, work: _Work, collection: str, payload: Any) -> str:
        coll = self.collection(collection)
        if not isinstance(payload, dict):
            raise InvalidPayloadError("A field must be an object")
        current = coll.fields.get(payload.get("field")) if isinstance(
            payload.get("field"), str) else None
        if current is None:
            raise ForbiddenError.field(str(payload.get("field")), collection)
        spec = parse_field(payload, for_update=True)
        system = is_system_field(collection, spec.field)
        if not current.is_alias and not coll.is_view and not coll.is_folder:
            changes = self._schema_changes(current, spec)
            if changes:
                if system or current.is_primary_key:
                    raise ForbiddenError()
                self._alter(work, coll, current, spec, changes)
        if spec.meta is not None:
            meta = {k: v for k, v in spec.meta.items() if k in FIELD_META_KEYS}
            if system:
                meta.pop("special", None)  # a system field's behaviour is not negotiable
            if "special" in meta:
                meta["special"] = ",".join(meta["special"]) or None
            t = meta_tables()["directus_fields"]
            row_id = (current.meta or {}).get("id")
            if row_id is None:
                work.conn.execute(t.insert().values(**meta, collection=collection,
                                                    field=spec.field))
            elif meta:
                work.conn.execute(t.update().where(t.c.id == row_id).values(**meta))
        return spec.field

    def _schema_changes(self, current: Field, spec: FieldSpec) -> set[str]:
        """Which column properties the request really changes (the app echoes them all)."""
        cur = current.schema or {}
        c = spec.column
        changes: set[str] = set()
        if spec.type is not None and spec.type not in ALIAS_TYPES and spec.type != current.type:
            changes.add("type")
        if "is_nullable" in c and c["is_nullable"] is not None \
                and bool(c["is_nullable"]) != bool(cur.get("is_nullable")):
            changes.add("nullable")
        if "default_value" in c and c["default_value"] != cur.get("default_value"):
            changes.add("default")
        for key in ("max_length", "numeric_precision", "numeric_scale"):
            if key in c and c[key] is not None and c[key] != cur.get(key):
                changes.add("size")
        if "is_unique" in c and c["is_unique"] is not None \
                and bool(c["is_unique"]) != bool(cur.get("is_unique")):
            changes.add("unique")
        if "is_indexed" in c and c["is_indexed"] is not None \
                and bool(c["is_indexed"]) != bool(cur.get("is_indexed")):
            changes.add("index")
        return changes

    def _alter(self, work: _Work, coll: Collection, current: Field, spec: FieldSpec,
               changes: set[str]) -> None:
        """Apply column changes the way the database allows."""
        dialect = self.cms.dialect
        conn = work.conn
        column_changes = changes & _COLUMN_CHANGES
        if column_changes:
            if "nullable" in column_changes and spec.column.get("is_nullable") is False:
                self._refuse_nulls(conn, coll, spec.field)
            new_spec = FieldSpec(spec.field, spec.type or current.type, False,
                                 dict(spec.column))
            new_spec.column.pop("is_primary_key", None)
            new_spec.column.pop("has_auto_increment", None)
            raw_default = None
            if "default" not in column_changes:
                new_spec.column.pop("default_value", None)
                raw_default = self._raw_default(conn, coll, spec.field)
            column = self.build_column(coll.collection, new_spec, current, raw_default)
            table = self.table_of(coll, column)
            if dialect.supports_alter_column:
                dialect.alter_column(conn, table, column, column_changes)
            elif work.foreign_keys_off and not coll.is_system:
                dialect.rebuild_table(conn, coll.collection, column)
            else:
                raise InvalidPayloadError(
                    f"Changing the {', '.join(sorted(column_changes))} of a column of "
                    f'"{coll.collection}" needs a table rebuild on {dialect.name}, which '
                    "Transom does not do for this table; add a new field and copy the data "
                    "instead")
        if changes & {"unique", "index"}:
            table = self.table_of(coll, sa.Column(spec.field, sa.Integer()))
            existing = self._index_names(conn, coll, spec.field)
            if "unique" in changes:
                if spec.column.get("is_unique"):
                    sa.Index(constraint_name(coll.collection, spec.field, "unique"),
                             table.c[spec.field], unique=True).create(conn)
                else:
                    for name, unique, is_constraint in existing:
                        if unique:
                            self._drop_index(conn, table, name, is_constraint)
            if "index" in changes:
                if spec.column.get("is_indexed"):
                    sa.Index(constraint_name(coll.collection, spec.field, "index"),
                             table.c[spec.field]).create(conn)
                else:
                    for name, unique, is_constraint in existing:
                        if not unique:
                            self._drop_index(conn, table, name, is_constraint)

    def _raw_default(self, conn: sa.Connection, coll: Collection, name: str) -> str | None:
        """The column's ``DEFAULT`` exactly as the catalogue holds it (SQL text)."""
        schema = self.schema_of(coll)
        for info in sa.inspect(conn).get_columns(coll.collection, schema=schema):
            if info["name"] == name:
                default = info.get("default")
                return None if default is None or str(default).upper() == "NULL" \
                    else str(default)
        return None

    def _refuse_nulls(self, conn: sa.Connection, coll: Collection, name: str) -> None:
        """``NOT NULL`` on a column holding nulls fails; say so the same way everywhere."""
        table = self.table_of(coll, sa.Column(name, sa.Integer()))
        nulls = conn.execute(sa.select(sa.func.count()).select_from(table).where(
            table.c[name].is_(None))).scalar_one()
        if nulls:
            raise ContainsNullValuesError(coll.collection, name)

    def _drop_index(self, conn: sa.Connection, table: sa.Table, name: str,
                    is_constraint: bool) -> None:
        self.cms.dialect.drop_index(conn, table, name, is_constraint)

    @schema_event("fields", "delete")
    def delete_field(self, collection: str, name: str) -> None:
        """Drop the column (or alias), its meta row and the relations that use it."""
        self.require_admin()
        coll = self.collection(collection)
        current = coll.fields.get(name)
        if current is None:
            raise ForbiddenError.field(name, collection)
        if is_system_field(collection, name) or current.is_primary_key:
            raise ForbiddenError()
        snap = self.schema
        tables = meta_tables()
        fields_t, rel_t = tables["directus_fields"], tables["directus_relations"]
        coll_t = tables["directus_collections"]
        own = [r for r in snap.relations if r.collection == collection and r.field == name]
        if not current.is_alias and not self.can_alter_constraints and any(
                r.schema for r in own):
            raise InvalidPayloadError(
                f'Field "{name}" carries a foreign key, which {self.cms.dialect.name} can only '
                f'remove by rebuilding table "{collection}"; Transom does not do that')
        with self.change(f'Could not delete field "{name}"', collections=[collection]) as work:
            conn = work.conn
            if not current.is_alias:
                coll = self.table_collection(collection, "drop columns of")
                relations = RelationsService(self.cms, self.accountability)
                for rel in own:
                    if rel.schema and rel.schema.get("constraint_name") \
                            and self.can_alter_constraints:
                        relations.drop_fk(conn, coll, name, rel.schema["constraint_name"])
                self.cms.dialect.drop_column(conn, self.table_of(coll), name)
            self.delete_field_rows(conn, collection, name)
            conn.execute(fields_t.update().where(
                fields_t.c.collection == collection, fields_t.c.group == name
            ).values(group=None))
            for rel in own:
                if rel.one_field and rel.related_collection and rel.meta is not None:
                    related = snap.get(rel.related_collection)
                    alias = related.fields.get(rel.one_field) if related else None
                    if alias is not None and alias.is_alias:
                        self.delete_field_rows(conn, rel.related_collection, rel.one_field)
            conn.execute(rel_t.delete().where(rel_t.c.many_collection == collection,
                                              rel_t.c.many_field == name))
            conn.execute(rel_t.update().where(rel_t.c.one_collection == collection,
                                              rel_t.c.one_field == name)
                         .values(one_field=None))
            for column in ("junction_field", "sort_field", "one_collection_field"):
                conn.execute(rel_t.update().where(rel_t.c.many_collection == collection,
                                                  rel_t.c[column] == name)
                             .values(**{column: None}))
            for column in ("sort_field", "archive_field"):
                conn.execute(coll_t.update().where(coll_t.c.collection == collection,
                                                   coll_t.c[column] == name)
                             .values(**{column: None}))
