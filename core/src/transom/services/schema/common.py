"""What the three schema services share: permissions, the write transaction with its
compensation and schema refresh, and the metadata rows."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ...errors import ContainsNullValuesError, ForbiddenError, InvalidPayloadError, TransomError

if TYPE_CHECKING:
    from ...accountability import Accountability
    from ...kernel import Transom
    from ...schema.model import Collection, SchemaSnapshot

log = logging.getLogger("transom.schema")


# -- metadata tables -----------------------------------------------------------------------
@cache
def meta_tables() -> dict[str, sa.Table]:
    """The metadata tables schema changes write (typed, so JSON and booleans bind right
    everywhere)."""
    from ...system.tables import system_metadata

    md = system_metadata()
    return {name: md.tables[name] for name in (
        "directus_collections", "directus_fields", "directus_relations",
        "directus_presets", "directus_permissions")}


#: the name schema_sync and older callers import
_meta_tables = meta_tables


@cache
def _system_columns() -> dict[str, frozenset[str]]:
    from ...system.collections import SYSTEM_ALIAS_FIELDS
    from ...system.tables import system_metadata

    out = {name: frozenset(t.columns.keys()) for name, t in system_metadata().tables.items()}
    for name, aliases in SYSTEM_ALIAS_FIELDS.items():
        out[name] = out.get(name, frozenset()) | frozenset(aliases)
    return out


def is_system_field(collection: str, field_name: str) -> bool:
    """Fields Directus itself defines on its system collections (not custom ones)."""
    return field_name in _system_columns().get(collection, frozenset())


# -- the services --------------------------------------------------------------------------
class _Work:
    """One schema change in progress: its connection and how to undo its DDL."""

    def __init__(self, conn: sa.Connection, foreign_keys_off: bool = False) -> None:
        self.conn = conn
        self.undo: list[Callable[[sa.Connection], Any]] = []
        #: the dialect prepared this change for a table rebuild (SQLite: foreign keys off)
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
        return bool(d.supports_foreign_keys and d.supports_alter_constraints)

    def sa_table(self, name: str, *columns: Any, schema: str | None = None,
                 metadata: sa.MetaData | None = None) -> sa.Table:
        """A throw-away ``Table`` naming ``name`` (for DDL compilation only)."""
        return sa.Table(name, metadata or sa.MetaData(), *columns, schema=schema)

    def schema_of(self, coll: Collection) -> str | None:
        """The database schema a collection's table lives in (None where there are none)."""
        return (coll.schema or {}).get("schema") if self.cms.dialect.supports_schemas \
            else None

    def table_of(self, coll: Collection, *columns: Any,
                 metadata: sa.MetaData | None = None) -> sa.Table:
        return self.sa_table(coll.collection, *columns, schema=self.schema_of(coll),
                             metadata=metadata)

    # -- writing ------------------------------------------------------------------------
    @contextmanager
    def change(self, what: str, rebuild: bool = False,
               collections: Iterable[str] | None = None) -> Iterator[_Work]:
        """One schema change: a transaction, compensated where DDL is not transactional,
        database errors turned into 400s, and afterwards the collections it touched (and
        those related to them; ``None``: everything) refreshed on every worker and
        instance before the change answers.

        ``rebuild`` asks the dialect for a connection on which a table can be rebuilt
        (:meth:`~transom.dialects.Dialect.schema_change_connection`: SQLite turns foreign
        keys off around the transaction); ``work.foreign_keys_off`` says whether it did.
        """
        self.require_admin()
        work: _Work | None = None
        try:
            with self.cms.dialect.schema_change_connection(self.cms.engine, rebuild) \
                    as (conn, can_rebuild):
                with conn.begin():
                    work = _Work(conn, foreign_keys_off=can_rebuild)
                    yield work
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
        conn.execute(meta_tables()[table].insert().values(**row))

    @staticmethod
    def insert_many(conn: sa.Connection, table: str, rows: list[dict[str, Any]]) -> None:
        """One executemany per set of rows with the same keys (a collection's fields)."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(sorted(row)), []).append(row)
        for group in groups.values():
            conn.execute(meta_tables()[table].insert(), group)

    def delete_field_rows(self, conn: sa.Connection, collection: str, field_name: str) -> None:
        t = meta_tables()["directus_fields"]
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
        t = meta_tables()["directus_fields"]
        found = conn.execute(sa.select(t.c.id).where(
            t.c.collection == collection, t.c.field == field_name)).first()
        if found is None:
            self.insert(conn, "directus_fields", {
                "collection": collection, "field": field_name, "special": special,
                "interface": f"list-{special}" if special != "translations" else "translations",
            })
