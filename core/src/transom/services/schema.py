"""Schema management: collections, fields and relations, as Directus's ``/collections``,
``/fields`` and ``/relations`` routes expose them.

Reads come from the immutable schema snapshot, so they cost no query. Writes are for admins
only; each one changes the database (``CREATE TABLE``, ``ALTER TABLE``, foreign keys) and the
``directus_collections``/``directus_fields``/``directus_relations`` rows in one transaction,
then refreshes the snapshot so the next request sees the change.

SQLite cannot ``ALTER COLUMN``: a column's type, size, nullability or default is changed by
the table rebuild SQLite documents (:func:`rebuild_sqlite_table`). It cannot add a foreign
key to an existing table either, so relations made there are metadata only.

Databases without transactional DDL (MySQL/MariaDB) commit every DDL statement on their own.
There, every DDL step registers an undo step, and a failure later in the same change runs
those undo steps after the rollback, so a failed change leaves neither a half-made table nor
a stray metadata row. DDL always runs before the metadata writes for the same reason: a
metadata write can be rolled back, a committed DDL statement only compensated.

All SQL is built with SQLAlchemy constructs (``CreateTable``, ``CreateColumn``, indexes,
constraints and the small compiled elements below); every identifier is checked against
:data:`NAME_RE` or the snapshot before it gets near a statement, and quoted by the dialect's
identifier preparer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateColumn, ExecutableDDLElement

from ..errors import ContainsNullValuesError, ForbiddenError, InvalidPayloadError, TransomError
from ..schema.build import parse_special
from ..schema.types import ALIAS_TYPES, DATE_TYPES, TYPES

if TYPE_CHECKING:
    from ..accountability import Accountability
    from ..kernel import Transom
    from ..schema.model import Collection, Field, Relation, SchemaSnapshot

log = logging.getLogger("transom.schema")

#: Collection and field names: what every database accepts unquoted, and Directus's app too.
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_NAME_LENGTH = 64
#: Longest constraint/index name we generate (PostgreSQL cuts at 63, MySQL refuses > 64).
_MAX_CONSTRAINT = 60

ON_ACTIONS = ("NO ACTION", "SET NULL", "SET DEFAULT", "CASCADE", "RESTRICT")
DESELECT_ACTIONS = ("nullify", "delete")

#: ``special`` flags that make a field an alias (no column).
ALIAS_SPECIALS = frozenset(
    {"alias", "no-data", "o2m", "m2m", "m2a", "files", "translations", "group", "presentation"}
)
#: Specials the Directus app sets for a type; added when missing so every database reads
#: the field back as the same type (MariaDB's JSON is LONGTEXT, MySQL's boolean TINYINT...).
_TYPE_SPECIALS = {
    "json": "cast-json",
    "boolean": "cast-boolean",
    "csv": "cast-csv",
    "hash": "hash",
    "timestamp": "cast-timestamp",
}

FIELD_META_KEYS = (
    "special", "interface", "options", "display", "display_options", "readonly", "hidden",
    "sort", "width", "translations", "note", "conditions", "required", "group", "validation",
    "validation_message", "searchable",
)
COLLECTION_META_KEYS = (
    "icon", "note", "display_template", "hidden", "singleton", "translations",
    "archive_field", "archive_app_filter", "archive_value", "unarchive_value", "sort_field",
    "accountability", "color", "item_duplication_fields", "sort", "group", "collapse",
    "preview_url", "versioning",
)
RELATION_META_KEYS = (
    "one_field", "one_collection_field", "one_allowed_collections", "junction_field",
    "sort_field", "one_deselect_action",
)

#: The simple form's column options, mapped to Directus's ``schema`` keys.
_SIMPLE_SCHEMA_KEYS = {
    "primary_key": "is_primary_key",
    "is_primary_key": "is_primary_key",
    "auto_increment": "has_auto_increment",
    "has_auto_increment": "has_auto_increment",
    "max_length": "max_length",
    "length": "max_length",
    "nullable": "is_nullable",
    "is_nullable": "is_nullable",
    "default": "default_value",
    "default_value": "default_value",
    "unique": "is_unique",
    "is_unique": "is_unique",
    "indexed": "is_indexed",
    "is_indexed": "is_indexed",
    "precision": "numeric_precision",
    "numeric_precision": "numeric_precision",
    "scale": "numeric_scale",
    "numeric_scale": "numeric_scale",
    "comment": "comment",
}
#: Column changes that need ALTER COLUMN (or, on SQLite, a table rebuild).
_COLUMN_CHANGES = frozenset({"type", "size", "nullable", "default"})
_BOOL_SCHEMA = ("is_primary_key", "has_auto_increment", "is_nullable", "is_unique",
                "is_indexed")
_INT_SCHEMA = ("max_length", "numeric_precision", "numeric_scale")


# -- small DDL elements SQLAlchemy Core has no construct for -------------------------------
class _AlterTable(ExecutableDDLElement):
    """``ALTER TABLE <table> ...``; subclasses compile the rest."""

    def __init__(self, table: sa.Table, column: sa.Column[Any] | None = None,
                 name: str | None = None) -> None:
        self.table = table
        self.column = column
        self.name = name


class AddColumn(_AlterTable):
    pass


class DropColumn(_AlterTable):
    pass


class SetNullable(_AlterTable):
    pass


class SetDefault(_AlterTable):
    pass


class SetType(_AlterTable):
    pass


class ModifyColumn(_AlterTable):
    pass


class DropView(_AlterTable):
    pass


def _table_sql(compiler: Any, table: sa.Table) -> str:
    return compiler.preparer.format_table(table)


def _column_sql(compiler: Any, element: _AlterTable) -> str:
    name = element.column.name if element.column is not None else element.name
    return compiler.preparer.quote(name)


@compiles(AddColumn)
def _add_column(element: AddColumn, compiler: Any, **kw: Any) -> str:
    return (f"ALTER TABLE {_table_sql(compiler, element.table)} ADD COLUMN "
            f"{compiler.process(CreateColumn(element.column), **kw)}")


@compiles(DropColumn)
def _drop_column(element: DropColumn, compiler: Any, **kw: Any) -> str:
    return (f"ALTER TABLE {_table_sql(compiler, element.table)} DROP COLUMN "
            f"{_column_sql(compiler, element)}")


@compiles(SetNullable)
def _set_nullable(element: SetNullable, compiler: Any, **kw: Any) -> str:
    assert element.column is not None
    action = "DROP NOT NULL" if element.column.nullable else "SET NOT NULL"
    return (f"ALTER TABLE {_table_sql(compiler, element.table)} ALTER COLUMN "
            f"{_column_sql(compiler, element)} {action}")


@compiles(SetDefault)
def _set_default(element: SetDefault, compiler: Any, **kw: Any) -> str:
    assert element.column is not None
    default = compiler.get_column_default_string(element.column)
    action = "DROP DEFAULT" if default is None else f"SET DEFAULT {default}"
    return (f"ALTER TABLE {_table_sql(compiler, element.table)} ALTER COLUMN "
            f"{_column_sql(compiler, element)} {action}")


@compiles(SetType)
def _set_type(element: SetType, compiler: Any, **kw: Any) -> str:
    assert element.column is not None
    type_sql = compiler.dialect.type_compiler_instance.process(
        element.column.type, type_expression=element.column)
    col = _column_sql(compiler, element)
    return (f"ALTER TABLE {_table_sql(compiler, element.table)} ALTER COLUMN {col} "
            f"TYPE {type_sql} USING {col}::{type_sql}")


@compiles(ModifyColumn)
def _modify_column(element: ModifyColumn, compiler: Any, **kw: Any) -> str:
    return (f"ALTER TABLE {_table_sql(compiler, element.table)} MODIFY COLUMN "
            f"{compiler.process(CreateColumn(element.column), **kw)}")


@compiles(DropView)
def _drop_view(element: DropView, compiler: Any, **kw: Any) -> str:
    return f"DROP VIEW {_table_sql(compiler, element.table)}"


# -- metadata tables -----------------------------------------------------------------------
@cache
def _meta_tables() -> dict[str, sa.Table]:
    """The three metadata tables (typed, so JSON and booleans bind right everywhere)."""
    from ..system.tables import system_metadata

    md = system_metadata()
    return {name: md.tables[name] for name in (
        "directus_collections", "directus_fields", "directus_relations",
        "directus_presets", "directus_permissions")}


@cache
def _system_columns() -> dict[str, frozenset[str]]:
    from ..system.collections import SYSTEM_ALIAS_FIELDS
    from ..system.tables import system_metadata

    out = {name: frozenset(t.columns.keys()) for name, t in system_metadata().tables.items()}
    for name, aliases in SYSTEM_ALIAS_FIELDS.items():
        out[name] = out.get(name, frozenset()) | frozenset(aliases)
    return out


def is_system_field(collection: str, field_name: str) -> bool:
    """Fields Directus itself defines on its system collections (not custom ones)."""
    return field_name in _system_columns().get(collection, frozenset())


# -- validation helpers --------------------------------------------------------------------
def check_name(name: Any, what: str) -> str:
    """A collection or field name safe to use as an identifier, or 400."""
    if not isinstance(name, str) or not name:
        raise InvalidPayloadError(f'"{what}" is required and must be a string')
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidPayloadError(
            f'{what.capitalize()} name "{name}" is longer than {MAX_NAME_LENGTH} characters')
    if not NAME_RE.match(name):
        raise InvalidPayloadError(
            f'{what.capitalize()} name "{name}" may only contain letters, digits and '
            "underscores, and must not start with a digit")
    return name


def constraint_name(table: str, column: str, suffix: str) -> str:
    """knex's ``<table>_<column>_<suffix>``, shortened with a hash when too long."""
    name = f"{table}_{column}_{suffix}"
    if len(name) <= _MAX_CONSTRAINT:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[:_MAX_CONSTRAINT - len(suffix) - 10]}_{digest}_{suffix}"


def _special_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | list | tuple):
        return list(parse_special(value))
    raise InvalidPayloadError('"special" must be an array of strings')


def _bool(value: Any, key: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    raise InvalidPayloadError(f'"{key}" must be a boolean')


def _int(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidPayloadError(f'"{key}" must be a positive integer')
    return value


def _collection_api(coll: Collection) -> dict[str, Any]:
    out = coll.to_api()
    schema = out.get("schema")
    if schema is not None and schema.get("schema") is None:
        schema.pop("schema", None)  # only databases with schemas name one, as in Directus
    return out


@dataclass
class FieldSpec:
    """One field of a request, normalised from either payload form.

    ``column`` holds only the ``schema`` keys the caller gave (so updates can tell a change
    from an omission); ``meta`` is None when no metadata was given at all.
    """

    field: str
    type: str | None
    alias: bool
    column: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] | None = None
    schema_given: bool = False

    @property
    def primary_key(self) -> bool:
        return bool(self.column.get("is_primary_key"))


def parse_field(payload: Any, *, for_update: bool = False) -> FieldSpec:
    """A field object (Directus's ``{field, type, schema, meta}`` or the flat form)."""
    if not isinstance(payload, dict):
        raise InvalidPayloadError("A field must be an object")
    name = check_name(payload.get("field"), "field")
    type_ = payload.get("type")
    if type_ is not None and (not isinstance(type_, str)
                              or (type_ not in TYPES and type_ not in ALIAS_TYPES)):
        raise InvalidPayloadError(
            f'Field "{name}" has an unknown type "{type_}"; use one of '
            f"{', '.join(TYPES + ALIAS_TYPES)}")
    schema_in = payload.get("schema")
    if schema_in is not None and not isinstance(schema_in, dict):
        raise InvalidPayloadError(f'"schema" of field "{name}" must be an object or null')
    meta_in = payload.get("meta")
    if meta_in is not None and not isinstance(meta_in, dict):
        raise InvalidPayloadError(f'"meta" of field "{name}" must be an object or null')

    column: dict[str, Any] = {}
    for key, target in _SIMPLE_SCHEMA_KEYS.items():
        if schema_in and key in schema_in and key == target:
            column[target] = schema_in[key]
    for key, target in _SIMPLE_SCHEMA_KEYS.items():
        if key in payload and key not in ("schema", "meta"):
            column[target] = payload[key]
    for key in _BOOL_SCHEMA:
        if key in column:
            column[key] = _bool(column[key], key)
    for key in _INT_SCHEMA:
        if key in column:
            column[key] = _int(column[key], key)
    if column.get("comment") is not None and not isinstance(column["comment"], str):
        raise InvalidPayloadError('"comment" must be a string')

    meta: dict[str, Any] | None = None
    if meta_in is not None:
        meta = {k: v for k, v in meta_in.items() if k in FIELD_META_KEYS}
    flat_meta = {k: payload[k] for k in FIELD_META_KEYS if k in payload}
    if flat_meta:
        meta = {**(meta or {}), **flat_meta}
    if "required" in payload:
        required = _bool(payload["required"], "required")
        if required and "is_nullable" not in column:
            column["is_nullable"] = False
    if meta is not None and "special" in meta:
        meta["special"] = _special_list(meta["special"])

    special = set(meta.get("special") or ()) if meta else set()
    if type_ in ALIAS_TYPES:
        alias = True
    elif type_ is None:
        alias = bool(special & ALIAS_SPECIALS) or ("schema" in payload and schema_in is None)
        if not alias and not for_update:
            raise InvalidPayloadError(f'Field "{name}" needs a "type"')
    else:
        alias = bool(special & ALIAS_SPECIALS)
    return FieldSpec(name, type_, alias, column, meta,
                     schema_given=schema_in is not None or bool(column))


# -- the services --------------------------------------------------------------------------
class _Work:
    """One schema change in progress: its connection and how to undo its DDL."""

    def __init__(self, conn: sa.Connection, foreign_keys_off: bool = False) -> None:
        self.conn = conn
        self.undo: list[Callable[[sa.Connection], Any]] = []
        #: SQLite only: foreign keys are off for this change, so a table can be rebuilt.
        self.foreign_keys_off = foreign_keys_off


class _SchemaService:
    """What the three services share: permissions, the write transaction, DDL helpers."""

    def __init__(self, cms: Transom, accountability: Accountability | None = None) -> None:
        self.cms = cms
        self.accountability = accountability
        self.permissions = cms.access.permissions(accountability)

    # -- access -------------------------------------------------------------------------
    @property
    def schema(self) -> SchemaSnapshot:
        return self.cms.schema

    @property
    def admin(self) -> bool:
        return bool(self.permissions.bypass)

    def require_admin(self) -> None:
        """Schema writes are for admins only, as in Directus."""
        if not self.admin:
            raise ForbiddenError()

    def can_read(self, collection: str) -> bool:
        return self.admin or self.permissions.access(collection, "read").allowed

    def can_read_field(self, collection: str, field_name: str) -> bool:
        if self.admin:
            return True
        acc = self.permissions.access(collection, "read")
        return acc.allowed and acc.field_allowed(field_name)

    def collection(self, name: str) -> Collection:
        """A collection the caller may see, else 403 (missing and hidden look the same)."""
        coll = self.schema.get(name) if isinstance(name, str) else None
        if coll is None or not self.can_read(name):
            raise ForbiddenError.collection(str(name))
        return coll

    def table_collection(self, name: str, action: str) -> Collection:
        """A collection backed by a real table, for a change of its columns."""
        coll = self.collection(name)
        if coll.is_folder:
            raise InvalidPayloadError(
                f'Collection "{name}" is a folder; it has no table to {action}')
        if coll.is_view:
            raise InvalidPayloadError(
                f'Collection "{name}" is a database view; Transom cannot {action} it')
        return coll

    # -- dialect ------------------------------------------------------------------------
    @property
    def db_schema(self) -> str | None:
        if not self.cms.dialect.supports_schemas:
            return None
        return self.cms.config.get("DB_SCHEMA") or None

    @property
    def can_alter_constraints(self) -> bool:
        """Whether foreign keys can be added to or dropped from existing tables.

        SQLite can only declare them in ``CREATE TABLE``; Transom rebuilds SQLite tables to
        change a column's definition but not to add or drop constraints, so relations made
        there are recorded as metadata only.
        """
        d = self.cms.dialect
        return bool(d.supports_foreign_keys) and d.name != "sqlite"

    def sa_table(self, name: str, *columns: Any, schema: str | None = None,
                 metadata: sa.MetaData | None = None) -> sa.Table:
        """A throw-away ``Table`` naming ``name`` (for DDL compilation only)."""
        return sa.Table(name, metadata or sa.MetaData(), *columns, schema=schema)

    def table_of(self, coll: Collection, *columns: Any,
                 metadata: sa.MetaData | None = None) -> sa.Table:
        schema = (coll.schema or {}).get("schema") if self.cms.dialect.supports_schemas \
            else None
        return self.sa_table(coll.collection, *columns, schema=schema, metadata=metadata)

    # -- writing ------------------------------------------------------------------------
    @contextmanager
    def change(self, what: str, rebuild: bool = False,
               collections: Iterable[str] | None = None) -> Iterator[_Work]:
        """One schema change: a transaction, compensated where DDL is not transactional,
        database errors turned into 400s, and afterwards the collections it touched (and
        those related to them; ``None``: everything) refreshed on every worker and
        instance before the change answers.

        ``rebuild`` (SQLite) turns foreign keys off for the change, as SQLite's table
        rebuild procedure requires; the pragma only works outside a transaction, so it is
        set before ``BEGIN`` and restored after the commit or rollback.
        """
        self.require_admin()
        work: _Work | None = None
        rebuild = rebuild and self.cms.dialect.name == "sqlite"
        try:
            with self.cms.engine.connect() as conn:
                raw = conn.connection.driver_connection if rebuild else None
                if raw is not None:
                    raw.execute("PRAGMA foreign_keys=OFF")
                try:
                    with conn.begin():
                        work = _Work(conn, foreign_keys_off=raw is not None)
                        yield work
                finally:
                    if raw is not None:
                        raw.execute("PRAGMA foreign_keys=ON")
        except SQLAlchemyError as exc:
            self._compensate(work)
            if getattr(exc, "connection_invalidated", False):
                raise
            raise self._db_error(exc, what) from None
        except BaseException:
            self._compensate(work)
            raise
        finally:
            try:
                self.cms.schema_changed(self._related(collections))
            except Exception:  # noqa: BLE001 - the change's own outcome matters more
                log.exception("schema refresh after %r failed", what)

    def _related(self, names: Iterable[str] | None) -> set[str] | None:
        """``names`` and every collection a relation links them to (their alias fields and
        relation metadata may change with them)."""
        if names is None:
            return None
        out = set(names)
        for rel in self.cms.schema.relations:
            allowed = rel.one_allowed_collections or ()
            if rel.collection in out or rel.related_collection in out \
                    or any(c in out for c in allowed):
                out.add(rel.collection)
                if rel.related_collection:
                    out.add(rel.related_collection)
        return out

    def _compensate(self, work: _Work | None) -> None:
        """Undo committed DDL after a failure (only where DDL commits on its own)."""
        if work is None or not work.undo or self.cms.dialect.supports_transactional_ddl:
            return
        with self.cms.engine.connect() as conn:
            for step in reversed(work.undo):
                try:
                    with conn.begin():
                        step(conn)
                except Exception:  # noqa: BLE001 - keep undoing what can be undone
                    log.exception("could not undo a schema change step")

    def _db_error(self, exc: SQLAlchemyError, what: str) -> TransomError:
        info = self.cms.dialect.classify_error(exc) if isinstance(exc, DBAPIError) else None
        if info is not None and info.kind == "contains_null":
            return ContainsNullValuesError(info.table, info.column)
        orig = getattr(exc, "orig", None) or exc
        text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        return InvalidPayloadError(f"{what}: {text[:300]}")

    # -- metadata rows ------------------------------------------------------------------
    @staticmethod
    def insert(conn: sa.Connection, table: str, row: dict[str, Any]) -> None:
        conn.execute(_meta_tables()[table].insert().values(**row))

    @staticmethod
    def insert_many(conn: sa.Connection, table: str, rows: list[dict[str, Any]]) -> None:
        """One executemany per set of rows with the same keys (a collection's fields)."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(sorted(row)), []).append(row)
        for group in groups.values():
            conn.execute(_meta_tables()[table].insert(), group)

    def delete_field_rows(self, conn: sa.Connection, collection: str, field_name: str) -> None:
        t = _meta_tables()["directus_fields"]
        conn.execute(t.delete().where(t.c.collection == collection, t.c.field == field_name))

    def ensure_alias(self, conn: sa.Connection, collection: str, field_name: str,
                     special: str) -> None:
        """The o2m/m2m/m2a alias on the "one" side, unless the caller created it already."""
        coll = self.schema.get(collection)
        existing = coll.fields.get(field_name) if coll is not None else None
        if existing is not None:
            if not existing.is_alias:
                raise InvalidPayloadError(
                    f'Field "{field_name}" of collection "{collection}" is a column; the '
                    "one_field of a relation must be an alias field")
            if existing.meta is not None or coll is None or coll.is_system:
                return
        t = _meta_tables()["directus_fields"]
        found = conn.execute(sa.select(t.c.id).where(
            t.c.collection == collection, t.c.field == field_name)).first()
        if found is None:
            self.insert(conn, "directus_fields", {
                "collection": collection, "field": field_name, "special": special,
                "interface": f"list-{special}" if special != "translations" else "translations",
            })


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
        kwargs: dict[str, Any] = {}
        if pk.column.get("has_auto_increment"):
            kwargs["sqlite_autoincrement"] = True  # knex's "integer primary key autoincrement"
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
        t = _meta_tables()["directus_collections"]
        with self.change(f'Could not update collection "{name}"', collections=[name]) as work:
            if coll.meta is None:
                self.insert(work.conn, "directus_collections", {**row, "collection": name})
            elif row:
                work.conn.execute(t.update().where(t.c.collection == name).values(**row))
        return name

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
        tables = _meta_tables()
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
        if type_ is None or type_ not in TYPES:
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
        if auto and type_ == "bigInteger":
            sa_type = sa_type.with_variant(sa.Integer(), "sqlite")  # only INTEGER is a rowid
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
            if implied and implied not in special:
                special.append(implied)
        if spec.alias and not special:
            special.append("alias")
        row = {k: meta[k] for k in FIELD_META_KEYS if k in meta}
        row["special"] = ",".join(special) or None
        if row.get("sort") is None and sort is not None:
            row["sort"] = sort
        return {**row, "collection": collection, "field": spec.field}

    def _index_names(self, conn: sa.Connection, coll: Collection, column: str
                     ) -> list[tuple[str, bool, bool]]:
        """``(name, unique, is_constraint)`` of single-column indexes on ``column``."""
        insp = sa.inspect(conn)
        schema = (coll.schema or {}).get("schema") if self.cms.dialect.supports_schemas \
            else None
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

    def update_field(self, collection: str, payload: Any) -> str:
        self.require_admin()
        name = payload.get("field") if isinstance(payload, dict) else None
        rebuild = self._needs_rebuild(collection, [payload])
        with self.change(f'Could not update field "{name}"', rebuild,
                         collections=[collection]) as work:
            return self._update(work, collection, payload)

    def _needs_rebuild(self, collection: str, payloads: list[Any]) -> bool:
        """Whether any of these updates changes a column in a way SQLite can't ALTER."""
        if self.cms.dialect.name != "sqlite":
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
            t = _meta_tables()["directus_fields"]
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
            if dialect.name == "postgresql":
                if column_changes & {"type", "size"}:
                    conn.execute(SetType(table, column))
                if "nullable" in column_changes:
                    conn.execute(SetNullable(table, column))
                if "default" in column_changes:
                    conn.execute(SetDefault(table, column))
            elif dialect.name == "mysql":
                conn.execute(ModifyColumn(table, column))
            elif dialect.name == "sqlite" and work.foreign_keys_off and not coll.is_system:
                rebuild_sqlite_table(conn, coll.collection, column)
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
        schema = (coll.schema or {}).get("schema") if self.cms.dialect.supports_schemas \
            else None
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
        column = next(iter(table.columns))
        if is_constraint and self.cms.dialect.name == "postgresql":
            uc = sa.UniqueConstraint(column.name, name=name)
            table.append_constraint(uc)
            conn.execute(sa.schema.DropConstraint(uc))
            return
        sa.Index(name, column).drop(conn)

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
        tables = _meta_tables()
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
                if self.cms.dialect.name == "sqlite":
                    # SQLite refuses to drop an indexed column; drop its indexes first.
                    table = self.table_of(coll, sa.Column(name, sa.Integer()))
                    for index, _unique, _constraint in self._index_names(conn, coll, name):
                        if not index.startswith("sqlite_autoindex"):
                            sa.Index(index, table.c[name]).drop(conn)
                conn.execute(DropColumn(self.table_of(coll), name=name))
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


def server_default(value: Any, type_: str, field_name: str) -> Any:
    """A column's ``DEFAULT`` as SQLAlchemy renders it (literals quoted by the dialect)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return sa.true() if value else sa.false()
    if isinstance(value, int | float):
        return sa.text(repr(value) if isinstance(value, float) else str(int(value)))
    if isinstance(value, str):
        upper = value.strip().upper()
        if type_ in DATE_TYPES and upper in ("NOW()", "CURRENT_TIMESTAMP",
                                             "CURRENT_TIMESTAMP()", "CURRENT_DATE",
                                             "CURRENT_TIME"):
            keyword = "CURRENT_TIMESTAMP" if upper.startswith(("NOW", "CURRENT_TIMESTAMP")) \
                else upper
            return sa.text(keyword)
        return value
    if isinstance(value, dict | list) and type_ in ("json", "csv"):
        return json.dumps(value) if type_ == "json" else ",".join(map(str, value))
    raise InvalidPayloadError(f'Field "{field_name}" has a default value of the wrong type')


def rebuild_sqlite_table(conn: sa.Connection, name: str, column: sa.Column[Any]) -> None:
    """Replace one column's definition the way SQLite documents it ("making other kinds of
    table schema changes"): create the new table, copy the rows, drop the old table, rename,
    then recreate the indexes and triggers and check the foreign keys.

    Must run inside a transaction opened with ``foreign_keys=OFF`` (see
    :meth:`_SchemaService.change`), so dropping the old table neither cascades to nor
    blocks on the tables that reference it; their ``REFERENCES`` clauses name the table,
    which exists again after the rename. Tables Transom cannot rebuild faithfully
    (``WITHOUT ROWID``, generated columns) are refused.
    """
    insp = sa.inspect(conn)
    create_sql = conn.execute(sa.text(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :n"), {"n": name}
    ).scalar_one()
    if "WITHOUT ROWID" in create_sql.upper():
        raise InvalidPayloadError(f'Table "{name}" is WITHOUT ROWID; Transom cannot rebuild it')
    extras = [r[0] for r in conn.execute(sa.text(
        "SELECT sql FROM sqlite_master WHERE tbl_name = :n AND type IN ('index', 'trigger') "
        "AND sql IS NOT NULL ORDER BY type"), {"n": name})]
    temp = f"_transom_rebuild_{name}"
    md = sa.MetaData()
    columns: list[sa.Column[Any]] = []
    for info in insp.get_columns(name):
        if info.get("computed"):
            raise InvalidPayloadError(
                f'Table "{name}" has generated columns; Transom cannot rebuild it')
        if info["name"] == column.name:
            columns.append(sa.Column(column.name, column.type, nullable=column.nullable,
                                     server_default=column.server_default,
                                     comment=column.comment))
            continue
        default = info.get("default")
        columns.append(sa.Column(info["name"], info["type"], nullable=info["nullable"],
                                 server_default=sa.text(default) if default is not None
                                 else None))
    pk = insp.get_pk_constraint(name)
    constraints: list[Any] = []
    if pk.get("constrained_columns"):
        constraints.append(sa.PrimaryKeyConstraint(*pk["constrained_columns"],
                                                   name=pk.get("name")))
    for fk in insp.get_foreign_keys(name):
        referred = fk["referred_table"]
        if referred not in md.tables and referred != temp:
            sa.Table(referred, md, *(sa.Column(c, sa.Integer()) for c in fk["referred_columns"]))
        options = {k: v for k, v in (fk.get("options") or {}).items()
                   if k in ("ondelete", "onupdate", "deferrable", "initially")}
        constraints.append(sa.ForeignKeyConstraint(
            fk["constrained_columns"], [f"{referred}.{c}" for c in fk["referred_columns"]],
            name=fk.get("name"), **options))
    for uc in insp.get_unique_constraints(name):
        constraints.append(sa.UniqueConstraint(*uc["column_names"], name=uc.get("name")))
    for ck in insp.get_check_constraints(name):
        constraints.append(sa.CheckConstraint(sa.text(ck["sqltext"]), name=ck.get("name")))
    kwargs: dict[str, Any] = {}
    sequence = None
    if "AUTOINCREMENT" in create_sql.upper():
        kwargs["sqlite_autoincrement"] = True
        sequence = conn.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = :n"),
                                {"n": name}).scalar()
    new = sa.Table(temp, md, *columns, *constraints, **kwargs)
    old = sa.Table(name, sa.MetaData(), *(sa.Column(c.name) for c in columns))
    names = [c.name for c in columns]
    new.create(conn)
    conn.execute(new.insert().from_select(names, sa.select(*(old.c[n] for n in names))))
    preparer = conn.dialect.identifier_preparer
    conn.exec_driver_sql(f"DROP TABLE {preparer.quote(name)}")
    conn.exec_driver_sql("PRAGMA legacy_alter_table=ON")
    try:
        conn.exec_driver_sql(
            f"ALTER TABLE {preparer.quote(temp)} RENAME TO {preparer.quote(name)}")
    finally:
        conn.exec_driver_sql("PRAGMA legacy_alter_table=OFF")
    for sql in extras:
        conn.exec_driver_sql(sql)  # the database's own DDL for the old table's objects
    if sequence is not None:  # AUTOINCREMENT never reuses a key, even a deleted one
        conn.execute(sa.text("UPDATE sqlite_sequence SET seq = :s WHERE name = :n"),
                     {"s": sequence, "n": name})
    insp = sa.inspect(conn)
    children = [t for t in insp.get_table_names() if t != name and any(
        fk["referred_table"] == name for fk in insp.get_foreign_keys(t))]
    for table in (name, *children):
        bad = conn.exec_driver_sql(f"PRAGMA foreign_key_check({preparer.quote(table)})"
                                   ).first()
        if bad is not None:
            raise InvalidPayloadError(
                f'The change would break a foreign key of table "{table}"')


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
        work.conn.execute(sa.schema.AddConstraint(fk))
        work.undo.append(lambda c: self.drop_fk(c, many, field_name, name))

    def drop_fk(self, conn: sa.Connection, many: Collection, field_name: str,
                name: str) -> None:
        md = sa.MetaData()
        table = self.table_of(many, sa.Column(field_name, sa.Integer()), metadata=md)
        target = self.sa_table("_transom_target", sa.Column("id", sa.Integer()), metadata=md)
        fk = sa.ForeignKeyConstraint([field_name], [target.c.id], name=name)
        table.append_constraint(fk)
        conn.execute(sa.schema.DropConstraint(fk))

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
            self.insert(work.conn, "directus_relations", {
                **row, "many_collection": cname, "many_field": fname,
                "one_collection": related_name})
            if row.get("one_field") and related_name is not None:
                self.ensure_alias(work.conn, related_name, row["one_field"],
                                  self._alias_special(cname, row))
        return cname, fname

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
        t = _meta_tables()["directus_relations"]
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

    def delete_one(self, collection: str, field_name: str) -> None:
        """Drop the foreign key and the row; the o2m alias on the other side goes too."""
        self.require_admin()
        rel = self.relation(collection, field_name)
        if (rel.meta or {}).get("system"):
            raise ForbiddenError()
        coll = self.schema.get(collection)
        assert coll is not None
        t = _meta_tables()["directus_relations"]
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
