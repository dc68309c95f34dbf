"""The Directus 11 system tables as one portable SQLAlchemy ``MetaData``.

Names, columns, nullability, defaults, keys and foreign keys follow what Directus 11 itself
creates, so a database made by Transom can be opened by Directus and the other way round.
Constraint names follow knex's convention (``<table>_<column>_foreign``, ``..._unique``,
``..._index``) through the MetaData naming convention, which keeps them identical on every
database. Types are chosen per database only where Directus's own choice differs:

* uuid: native ``uuid`` on PostgreSQL, ``char(36)`` (the dashed text form) everywhere else.
  ``sa.Uuid`` is not used because it stores 32 hex digits without dashes on databases without
  a native type, which no longer matches rows written by Directus.
* timestamps: ``timestamp with time zone`` on PostgreSQL, ``datetime`` elsewhere (values are
  UTC; the dialect's connection set-up must keep MySQL's session time zone at UTC).
* json: ``json``, with Python ``None`` stored as SQL NULL as Directus does.

:func:`system_metadata` builds a new ``MetaData`` on each call, so apps never share one.
"""

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


def system_metadata() -> sa.MetaData:
    """A new ``MetaData`` holding every system table (see :data:`SYSTEM_TABLES`)."""
    md = sa.MetaData(naming_convention=NAMING_CONVENTION)

    sa.Table(
        "directus_access",
        md,
        _uuid("id", primary_key=True),
        _uuid("role", _fk(_ROLES, "CASCADE")),
        _uuid("user", _fk(_USERS, "CASCADE")),
        _uuid("policy", _fk("directus_policies.id", "CASCADE"), nullable=False),
        _int("sort"),
    )
    sa.Table(
        "directus_activity",
        md,
        _serial(),
        _str("action", 45, nullable=False),
        _uuid("user"),
        sa.Column(
            "timestamp",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=_NOW,
            index=True,
        ),
        _str("ip", 50),
        _text("user_agent"),
        _str("collection", 64, nullable=False),
        _str("item", 255, nullable=False),
        _str("origin", 255),
        **_SERIAL_TABLE,
    )
    sa.Table(
        "directus_collections",
        md,
        _str("collection", 64, primary_key=True),
        _str("icon", 64),
        _text("note"),
        _str("display_template", 255),
        _bool("hidden", False),
        _bool("singleton", False),
        _json("translations"),
        _str("archive_field", 64),
        _bool("archive_app_filter", True),
        _str("archive_value", 255),
        _str("unarchive_value", 255),
        _str("sort_field", 64),
        _str("accountability", 255, server_default="all"),
        _str("color", 255),
        _json("item_duplication_fields"),
        _int("sort"),
        _str("group", 64, _fk(_COLLECTIONS)),
        _str("collapse", 255, nullable=False, server_default="open"),
        _str("preview_url", 255),
        _bool("versioning", False),
    )
    sa.Table(
        "directus_comments",
        md,
        _uuid("id", primary_key=True),
        _str("collection", 64, nullable=False),
        _str("item", 255, nullable=False),
        _text("comment", nullable=False),
        _ts("date_created", now=True),
        _ts("date_updated", now=True),
        _uuid("user_created", _fk(_USERS, "SET NULL")),
        _uuid("user_updated", _fk(_USERS)),
    )
    sa.Table(
        "directus_dashboards",
        md,
        _uuid("id", primary_key=True),
        _str("name", 255, nullable=False),
        _str("icon", 64, nullable=False, server_default="dashboard"),
        _text("note"),
        _ts("date_created", now=True),
        _uuid("user_created", _fk(_USERS, "SET NULL")),
        _str("color", 255),
    )
    sa.Table(
        "directus_extensions",
        md,
        _bool("enabled", True),
        _uuid("id", primary_key=True),
        _str("folder", 255, nullable=False),
        _str("source", 255, nullable=False),
        _uuid("bundle"),
    )
    sa.Table(
        "directus_fields",
        md,
        _serial(),
        _str("collection", 64, nullable=False),
        _str("field", 64, nullable=False),
        _str("special", 64),
        _str("interface", 64),
        _json("options"),
        _str("display", 64),
        _json("display_options"),
        _bool("readonly", False),
        _bool("hidden", False),
        _int("sort"),
        _str("width", 30, server_default="full"),
        _json("translations"),
        _text("note"),
        _json("conditions"),
        _bool("required", False, nullable=True),
        _str("group", 64),
        _json("validation"),
        _text("validation_message"),
        _bool("searchable", True),
        **_SERIAL_TABLE,
    )
    sa.Table(
        "directus_files",
        md,
        _uuid("id", primary_key=True),
        _str("storage", 255, nullable=False),
        _str("filename_disk", 255),
        _str("filename_download", 255, nullable=False),
        _str("title", 255),
        _str("type", 255),
        _uuid("folder", _fk(_FOLDERS, "SET NULL")),
        _uuid("uploaded_by", _fk(_USERS)),
        _ts("created_on", now=True, nullable=False),
        _uuid("modified_by", _fk(_USERS)),
        _ts("modified_on", now=True, nullable=False),
        _str("charset", 50),
        sa.Column("filesize", sa.BigInteger()),
        _int("width"),
        _int("height"),
        _int("duration"),
        _str("embed", 200),
        _text("description"),
        _text("location"),
        _text("tags"),
        _json("metadata"),
        _int("focal_point_x"),
        _int("focal_point_y"),
        _str("tus_id", 64),
        _json("tus_data"),
        _ts("uploaded_on"),
    )
    sa.Table(
        "directus_flows",
        md,
        _uuid("id", primary_key=True),
        _str("name", 255, nullable=False),
        _str("icon", 64),
        _str("color", 255),
        _text("description"),
        _str("status", 255, nullable=False, server_default="active"),
        _str("trigger", 255),
        _str("accountability", 255, server_default="all"),
        _json("options"),
        _uuid("operation", unique=True),
        _ts("date_created", now=True),
        _uuid("user_created", _fk(_USERS, "SET NULL")),
    )
    sa.Table(
        "directus_folders",
        md,
        _uuid("id", primary_key=True),
        _str("name", 255, nullable=False),
        _uuid("parent", _fk(_FOLDERS)),
    )
    sa.Table(
        "directus_migrations",
        md,
        _str("version", 255, primary_key=True),
        _str("name", 255, nullable=False),
        _ts("timestamp", now=True),
    )
    sa.Table(
        "directus_notifications",
        md,
        _serial(),
        _ts("timestamp", now=True),
        _str("status", 255, server_default="inbox"),
        _uuid("recipient", _fk(_USERS, "CASCADE"), nullable=False),
        _uuid("sender", _fk(_USERS)),
        _str("subject", 255, nullable=False),
        _text("message"),
        _str("collection", 64),
        _str("item", 255),
        **_SERIAL_TABLE,
    )
    sa.Table(
        "directus_operations",
        md,
        _uuid("id", primary_key=True),
        _str("name", 255),
        _str("key", 255, nullable=False),
        _str("type", 255, nullable=False),
        _int("position_x", nullable=False),
        _int("position_y", nullable=False),
        _json("options"),
        _uuid("resolve", _fk("directus_operations.id"), unique=True),
        _uuid("reject", _fk("directus_operations.id"), unique=True),
        _uuid("flow", _fk("directus_flows.id", "CASCADE"), nullable=False),
        _ts("date_created", now=True),
        _uuid("user_created", _fk(_USERS, "SET NULL")),
    )
    sa.Table(
        "directus_panels",
        md,
        _uuid("id", primary_key=True),
        _uuid("dashboard", _fk("directus_dashboards.id", "CASCADE"), nullable=False),
        _str("name", 255),
        _str("icon", 64),
        _str("color", 10),
        _bool("show_header", False),
        _text("note"),
        _str("type", 255, nullable=False),
        _int("position_x", nullable=False),
        _int("position_y", nullable=False),
        _int("width", nullable=False),
        _int("height", nullable=False),
        _json("options"),
        _ts("date_created", now=True),
        _uuid("user_created", _fk(_USERS, "SET NULL")),
    )
    sa.Table(
        "directus_permissions",
        md,
        _serial(),
        _str("collection", 64, nullable=False),
        _str("action", 10, nullable=False),
        _json("permissions"),
        _json("validation"),
        _json("presets"),
        _text("fields"),
        _uuid("policy", _fk("directus_policies.id", "CASCADE"), nullable=False),
        **_SERIAL_TABLE,
    )
    sa.Table(
        "directus_policies",
        md,
        _uuid("id", primary_key=True),
        _str("name", 100, nullable=False),
        _str("icon", 64, nullable=False, server_default="badge"),
        _text("description"),
        _text("ip_access"),
        _bool("enforce_tfa", False),
        _bool("admin_access", False),
        _bool("app_access", False),
    )
    sa.Table(
        "directus_presets",
        md,
        _serial(),
        _str("bookmark", 255),
        _uuid("user", _fk(_USERS, "CASCADE")),
        _uuid("role", _fk(_ROLES, "CASCADE")),
        _str("collection", 64),
        _str("search", 100),
        _str("layout", 100, server_default="tabular"),
        _json("layout_query"),
        _json("layout_options"),
        _int("refresh_interval"),
        _json("filter"),
        _str("icon", 64, server_default="bookmark"),
        _str("color", 255),
        **_SERIAL_TABLE,
    )
    sa.Table(
        "directus_relations",
        md,
        _serial(),
        _str("many_collection", 64, nullable=False),
        _str("many_field", 64, nullable=False),
        _str("one_collection", 64),
        _str("one_field", 64),
        _str("one_collection_field", 64),
        _text("one_allowed_collections"),
        _str("junction_field", 64),
        _str("sort_field", 64),
        _str("one_deselect_action", 255, nullable=False, server_default="nullify"),
        **_SERIAL_TABLE,
    )
    sa.Table(
        "directus_revisions",
        md,
        _serial(),
        sa.Column(
            "activity",
            sa.Integer(),
            _fk("directus_activity.id", "CASCADE"),
            nullable=False,
            index=True,
        ),
        _str("collection", 64, nullable=False),
        _str("item", 255, nullable=False),
        _json("data"),
        _json("delta"),
        sa.Column("parent", sa.Integer(), _fk("directus_revisions.id"), index=True),
        _uuid("version", _fk("directus_versions.id", "CASCADE")),
        **_SERIAL_TABLE,
    )
    sa.Table(
        "directus_roles",
        md,
        _uuid("id", primary_key=True),
        _str("name", 100, nullable=False),
        _str("icon", 64, nullable=False, server_default="supervised_user_circle"),
        _text("description"),
        _uuid("parent", _fk(_ROLES)),
    )
    sa.Table(
        "directus_sessions",
        md,
        _str("token", 64, primary_key=True),
        _uuid("user", _fk(_USERS, "CASCADE")),
        _ts("expires", nullable=False),
        _str("ip", 255),
        _text("user_agent"),
        _uuid("share", _fk("directus_shares.id", "CASCADE")),
        _str("origin", 255),
        _str("next_token", 64),
    )
    sa.Table(
        "directus_settings",
        md,
        _serial(),
        _str("project_name", 100, nullable=False, server_default="Directus"),
        _str("project_url", 255),
        _str("project_color", 255, nullable=False, server_default="#6644FF"),
        _uuid("project_logo", _fk(_FILES)),
        _uuid("public_foreground", _fk(_FILES)),
        _uuid("public_background", _fk(_FILES)),
        _text("public_note"),
        _int("auth_login_attempts", server_default=sa.text("25")),
        _str("auth_password_policy", 100),
        _str("storage_asset_transform", 7, server_default="all"),
        _json("storage_asset_presets"),
        _text("custom_css"),
        _uuid("storage_default_folder", _fk(_FOLDERS, "SET NULL")),
        _json("basemaps"),
        _str("mapbox_key", 255),
        _json("module_bar"),
        _str("project_descriptor", 100),
        _str("default_language", 255, nullable=False, server_default="en-US"),
        _json("custom_aspect_ratios"),
        _uuid("public_favicon", _fk(_FILES)),
        _str("default_appearance", 255, nullable=False, server_default="auto"),
        _str("default_theme_light", 255),
        _json("theme_light_overrides"),
        _str("default_theme_dark", 255),
        _json("theme_dark_overrides"),
        _str("report_error_url", 255),
        _str("report_bug_url", 255),
        _str("report_feature_url", 255),
        _bool("public_registration", False),
        _bool("public_registration_verify_email", True),
        _uuid("public_registration_role", _fk(_ROLES, "SET NULL")),
        _json("public_registration_email_filter"),
        _json("visual_editor_urls"),
        _uuid("project_id"),
        _bool("mcp_enabled", False),
        _bool("mcp_allow_deletes", False),
        _str("mcp_prompts_collection", 255),
        _bool("mcp_system_prompt_enabled", True),
        _text("mcp_system_prompt"),
        _str("project_owner", 255),
        _str("project_usage", 255),
        _str("org_name", 255),
        _bool("product_updates", None, nullable=True),
        _str("project_status", 255),
        _text("ai_openai_api_key"),
        _text("ai_anthropic_api_key"),
        _text("ai_system_prompt"),
        _text("ai_google_api_key"),
        _text("ai_openai_compatible_api_key"),
        _text("ai_openai_compatible_base_url"),
        _text("ai_openai_compatible_name"),
        _json("ai_openai_compatible_models"),
        _json("ai_openai_compatible_headers"),
        _json("ai_openai_allowed_models"),
        _json("ai_anthropic_allowed_models"),
        _json("ai_google_allowed_models"),
        _bool("collaborative_editing_enabled", False),
        **_SERIAL_TABLE,
    )
    sa.Table(
        "directus_shares",
        md,
        _uuid("id", primary_key=True),
        _str("name", 255),
        _str("collection", 64, _fk(_COLLECTIONS, "CASCADE"), nullable=False),
        _str("item", 255, nullable=False),
        _uuid("role", _fk(_ROLES, "CASCADE")),
        _str("password", 255),
        _uuid("user_created", _fk(_USERS, "SET NULL")),
        _ts("date_created", now=True),
        _ts("date_start"),
        _ts("date_end"),
        _int("times_used", server_default=sa.text("0")),
        _int("max_uses"),
    )
    sa.Table(
        "directus_translations",
        md,
        _uuid("id", primary_key=True),
        _str("language", 255, nullable=False),
        _str("key", 255, nullable=False),
        _text("value", nullable=False),
    )
    sa.Table(
        "directus_users",
        md,
        _uuid("id", primary_key=True),
        _str("first_name", 50),
        _str("last_name", 50),
        _str("email", 128, unique=True),
        _str("password", 255),
        _str("location", 255),
        _str("title", 50),
        _text("description"),
        _json("tags"),
        _uuid("avatar"),
        _str("language", 255),
        _str("tfa_secret", 255),
        _str("status", 16, nullable=False, server_default="active"),
        _uuid("role", _fk(_ROLES, "SET NULL")),
        _str("token", 255, unique=True),
        _ts("last_access"),
        _str("last_page", 255),
        _str("provider", 128, nullable=False, server_default="default"),
        _str("external_identifier", 255, unique=True),
        _json("auth_data"),
        _bool("email_notifications", True, nullable=True),
        _str("appearance", 255),
        _str("theme_dark", 255),
        _str("theme_light", 255),
        _json("theme_light_overrides"),
        _json("theme_dark_overrides"),
        _str("text_direction", 255, nullable=False, server_default="auto"),
    )
    sa.Table(
        "directus_versions",
        md,
        _uuid("id", primary_key=True),
        _str("key", 64, nullable=False),
        _str("name", 255),
        _str("collection", 64, _fk(_COLLECTIONS, "CASCADE"), nullable=False),
        _str("item", 255, nullable=False),
        _str("hash", 255),
        _ts("date_created", now=True),
        _ts("date_updated", now=True),
        _uuid("user_created", _fk(_USERS, "SET NULL")),
        _uuid("user_updated", _fk(_USERS)),
        _json("delta"),
    )

    # Deployments (late 11.x).
    sa.Table(
        "directus_deployments",
        md,
        _uuid("id", primary_key=True),
        _str("provider", 255, nullable=False, unique=True),
        _text("credentials"),
        _text("options"),
        _ts("date_created", now=True),
        _uuid("user_created", _fk(_USERS, "SET NULL")),
        _json("webhook_ids"),
        _str("webhook_secret", 255),
        _ts("last_synced_at"),
    )
    sa.Table(
        "directus_deployment_projects",
        md,
        _uuid("id", primary_key=True),
        _uuid("deployment", _fk("directus_deployments.id", "CASCADE"), nullable=False),
        _str("external_id", 255, nullable=False),
        _str("name", 255, nullable=False),
        _ts("date_created", now=True),
        _uuid("user_created", _fk(_USERS, "SET NULL")),
        _str("url", 255),
        _str("framework", 255),
        _bool("deployable", True),
        sa.UniqueConstraint("deployment", "external_id"),
    )
    sa.Table(
        "directus_deployment_runs",
        md,
        _uuid("id", primary_key=True),
        _uuid("project", _fk("directus_deployment_projects.id", "CASCADE"), nullable=False),
        _str("external_id", 255, nullable=False),
        _str("target", 255, nullable=False),
        _ts("date_created", now=True),
        _uuid("user_created", _fk(_USERS, "SET NULL")),
        _str("status", 255),
        _str("url", 255),
        _ts("started_at"),
        _ts("completed_at"),
    )
    return md


def system_table(name: str, metadata: sa.MetaData | None = None) -> sa.Table:
    """One system table, from ``metadata`` or from a new :func:`system_metadata`."""
    return (metadata or system_metadata()).tables[name]
