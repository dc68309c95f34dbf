"""Shared pieces of the system tables: the naming convention, the table lists and the
column helpers (Directus's types, defaults and foreign keys, portable across databases)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..schema.types import UuidString

#: knex's constraint names, reproduced so every database gets the names Directus uses.
NAMING_CONVENTION: dict[str, str] = {
    "pk": "%(table_name)s_pkey",
    "fk": "%(table_name)s_%(column_0_name)s_foreign",
    "uq": "%(table_name)s_%(column_0_N_name)s_unique",
    "ix": "%(table_name)s_%(column_0_N_name)s_index",
}

#: The system tables Directus 11.0 and later always have.
CORE_SYSTEM_TABLES: tuple[str, ...] = (
    "directus_access",
    "directus_activity",
    "directus_collections",
    "directus_comments",
    "directus_dashboards",
    "directus_extensions",
    "directus_fields",
    "directus_files",
    "directus_flows",
    "directus_folders",
    "directus_migrations",
    "directus_notifications",
    "directus_operations",
    "directus_panels",
    "directus_permissions",
    "directus_policies",
    "directus_presets",
    "directus_relations",
    "directus_revisions",
    "directus_roles",
    "directus_sessions",
    "directus_settings",
    "directus_shares",
    "directus_translations",
    "directus_users",
    "directus_versions",
)

#: Tables of late 11.x releases (deployments), created too so the schema matches them.
EXTRA_SYSTEM_TABLES: tuple[str, ...] = (
    "directus_deployments",
    "directus_deployment_projects",
    "directus_deployment_runs",
)

SYSTEM_TABLES: tuple[str, ...] = CORE_SYSTEM_TABLES + EXTRA_SYSTEM_TABLES


_NOW = sa.text("CURRENT_TIMESTAMP")


def _uuid(name: str, *args: Any, **kw: Any) -> sa.Column[Any]:
    return sa.Column(name, UuidString(), *args, **kw)


def _str(name: str, length: int, *args: Any, **kw: Any) -> sa.Column[Any]:
    return sa.Column(name, sa.String(length), *args, **kw)


def _text(name: str, **kw: Any) -> sa.Column[Any]:
    return sa.Column(name, sa.Text(), **kw)


def _int(name: str, **kw: Any) -> sa.Column[Any]:
    return sa.Column(name, sa.Integer(), **kw)


def _json(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.JSON(none_as_null=True), nullable=True)


def _ts(name: str, *, now: bool = False, nullable: bool = True) -> sa.Column[Any]:
    """A timestamp with time zone, optionally defaulting to the current time."""
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=_NOW if now else None,
    )


def _bool(name: str, default: bool | None, *, nullable: bool = False) -> sa.Column[Any]:
    server_default = None if default is None else (sa.true() if default else sa.false())
    return sa.Column(name, sa.Boolean(), nullable=nullable, server_default=server_default)


def _serial(name: str = "id") -> sa.Column[Any]:
    """An auto-incrementing integer key (a sequence on PostgreSQL, as Directus makes it)."""
    return sa.Column(name, sa.Integer(), primary_key=True, autoincrement=True)


def _fk(target: str, ondelete: str | None = None) -> sa.ForeignKey:
    return sa.ForeignKey(target, ondelete=ondelete)


_USERS = "directus_users.id"
_ROLES = "directus_roles.id"
_FILES = "directus_files.id"
_FOLDERS = "directus_folders.id"
_COLLECTIONS = "directus_collections.collection"
_SERIAL_TABLE = {"sqlite_autoincrement": True}
