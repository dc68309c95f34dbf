"""Schema management: collections, fields and relations, as Directus's ``/collections``,
``/fields`` and ``/relations`` routes expose them.

Reads come from the immutable schema snapshot, so they cost no query. Writes are for admins
only; each one changes the database (``CREATE TABLE``, ``ALTER TABLE``, foreign keys) and the
``directus_collections``/``directus_fields``/``directus_relations`` rows in one transaction,
then refreshes the snapshot so the next request sees the change.

The SQL that differs between databases belongs to the dialect (:mod:`transom.dialects`):
where it :attr:`~transom.dialects.Dialect.supports_alter_column`, a column's type, size,
nullability or default changes in place (:meth:`~transom.dialects.Dialect.alter_column`);
SQLite rebuilds the table instead (:meth:`~transom.dialects.Dialect.rebuild_table`). Where a
dialect cannot add a foreign key to an existing table (``supports_alter_constraints``),
relations made there are metadata only.

Databases without transactional DDL (MySQL/MariaDB) commit every DDL statement on their own.
There, every DDL step registers an undo step, and a failure later in the same change runs
those undo steps after the rollback, so a failed change leaves neither a half-made table nor
a stray metadata row. DDL always runs before the metadata writes for the same reason: a
metadata write can be rolled back, a committed DDL statement only compensated.

All SQL is built with SQLAlchemy constructs (``CreateTable``, ``CreateColumn``, indexes,
constraints and the small compiled elements of :mod:`transom.dialects`); every identifier
is checked against :data:`NAME_RE` or the snapshot before it gets near a statement, and
quoted by the dialect's identifier preparer.

The package: :mod:`.payload` (names, payload parsing, defaults), :mod:`.common` (the shared
``_SchemaService``: permissions, ``change()``, metadata rows), :mod:`.collections`,
:mod:`.fields` and :mod:`.relations` (one service each).
"""

from __future__ import annotations

from ...dialects import AddColumn, DropColumn, DropView
from .collections import CollectionsService, _collection_api
from .common import (
    _meta_tables,
    _SchemaService,
    _Work,
    is_system_field,
    log,
    meta_tables,
)
from .fields import FieldsService
from .payload import (
    ALIAS_SPECIALS,
    COLLECTION_META_KEYS,
    DESELECT_ACTIONS,
    FIELD_META_KEYS,
    MAX_NAME_LENGTH,
    NAME_RE,
    ON_ACTIONS,
    RELATION_META_KEYS,
    FieldSpec,
    check_name,
    constraint_name,
    parse_field,
    server_default,
)
from .relations import RelationsService

__all__ = [
    "ALIAS_SPECIALS",
    "COLLECTION_META_KEYS",
    "DESELECT_ACTIONS",
    "FIELD_META_KEYS",
    "MAX_NAME_LENGTH",
    "NAME_RE",
    "ON_ACTIONS",
    "RELATION_META_KEYS",
    "AddColumn",
    "CollectionsService",
    "DropColumn",
    "DropView",
    "FieldSpec",
    "FieldsService",
    "RelationsService",
    "_SchemaService",
    "_Work",
    "_collection_api",
    "_meta_tables",
    "check_name",
    "constraint_name",
    "is_system_field",
    "log",
    "meta_tables",
    "parse_field",
    "server_default",
]
