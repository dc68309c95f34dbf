"""What Directus knows about its own collections beyond the database catalogue.

Directus keeps no ``directus_fields``/``directus_relations`` rows for system collections; the
special flags, alias fields and relations come with the program. This module holds the part
of that data that changes behaviour in Transom:

* :data:`SYSTEM_FIELD_META`: ``{collection: {field: {"special": [...], ...}}}``, for fields
  whose payload handling depends on it (uuid keys, hashed/concealed secrets, JSON and CSV
  casts, booleans stored as integers, timestamps, automatic dates and users).
* :data:`SYSTEM_ALIAS_FIELDS`: ``{collection: {alias: special}}``, the o2m/m2m fields that
  have no column.
* :data:`SYSTEM_RELATIONS`: rows in the shape of ``directus_relations``. Note that
  ``directus_access.policy`` appears twice (once per alias of ``directus_policies``): the
  junction serves both ``roles`` and ``users``.

UI-only metadata (interfaces' options, dividers, widths) is left out on purpose.
"""

from __future__ import annotations

from typing import Any

from .tables import shared_system_metadata

_UUID = {"special": ["uuid"]}
_M2O = {"special": ["m2o"]}
_JSON = {"special": ["cast-json"]}
_CSV = {"special": ["cast-csv"]}
_BOOL = {"special": ["cast-boolean"]}
_CONCEAL = {"special": ["conceal"]}
_TIMESTAMP = {"special": ["cast-timestamp"]}
_DATE_CREATED = {"special": ["date-created", "cast-timestamp"]}
_DATE_UPDATED = {"special": ["date-updated", "cast-timestamp"]}
_USER_CREATED = {"special": ["user-created"]}
_USER_UPDATED = {"special": ["user-updated"]}
_HASH = {"special": ["hash", "conceal"], "interface": "input-hash"}


def _copy(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, list) else v for k, v in meta.items()}


def _fields(**fields: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Own copies of the shared shapes, so editing one field's meta never touches another."""
    return {name: _copy(meta) for name, meta in fields.items()}


SYSTEM_FIELD_META: dict[str, dict[str, dict[str, Any]]] = {
    "directus_access": _fields(id=_UUID, role=_M2O, user=_M2O, policy=_M2O),
    "directus_activity": _fields(timestamp=_DATE_CREATED),
    "directus_collections": _fields(
        hidden=_BOOL,
        singleton=_BOOL,
        translations=_JSON,
        archive_app_filter=_BOOL,
        item_duplication_fields=_JSON,
        versioning=_BOOL,
    ),
    "directus_comments": _fields(
        id=_UUID,
        date_created=_DATE_CREATED,
        date_updated=_DATE_UPDATED,
        user_created=_USER_CREATED,
        user_updated=_USER_UPDATED,
    ),
    "directus_dashboards": _fields(
        id=_UUID, date_created=_DATE_CREATED, user_created=_USER_CREATED
    ),
    "directus_extensions": _fields(id=_UUID, enabled=_BOOL),
    "directus_fields": _fields(
        special=_CSV,
        options=_JSON,
        display_options=_JSON,
        readonly=_BOOL,
        hidden=_BOOL,
        translations=_JSON,
        conditions=_JSON,
        required=_BOOL,
        validation=_JSON,
        searchable=_BOOL,
    ),
    "directus_files": _fields(
        id=_UUID,
        tags=_JSON,
        metadata=_JSON,
        tus_data=_JSON,
        folder=_M2O,
        uploaded_by=_USER_CREATED,
        uploaded_on=_DATE_CREATED,
        modified_by=_USER_UPDATED,
        modified_on=_DATE_UPDATED,
        created_on=_TIMESTAMP,
    ),
    "directus_flows": _fields(
        id=_UUID, options=_JSON, date_created=_DATE_CREATED, user_created=_USER_CREATED
    ),
    "directus_folders": _fields(id=_UUID),
    "directus_migrations": _fields(timestamp=_TIMESTAMP),
    "directus_notifications": _fields(timestamp=_DATE_CREATED),
    "directus_operations": _fields(
        id=_UUID, options=_JSON, date_created=_DATE_CREATED, user_created=_USER_CREATED
    ),
    "directus_panels": _fields(
        id=_UUID,
        show_header=_BOOL,
        options=_JSON,
        date_created=_DATE_CREATED,
        user_created=_USER_CREATED,
    ),
    "directus_permissions": _fields(
        permissions=_JSON, validation=_JSON, presets=_JSON, fields=_CSV
    ),
    "directus_policies": _fields(
        id=_UUID,
        ip_access=_CSV,
        enforce_tfa=_BOOL,
        admin_access=_BOOL,
        app_access=_BOOL,
    ),
    "directus_presets": _fields(
        layout_query=_JSON, layout_options=_JSON, filter=_JSON, user=_M2O, role=_M2O
    ),
    "directus_relations": _fields(one_allowed_collections=_CSV),
    "directus_revisions": _fields(data=_JSON, delta=_JSON),
    "directus_roles": _fields(id=_UUID, parent=_M2O),
    "directus_sessions": _fields(expires=_TIMESTAMP, token=_CONCEAL, next_token=_CONCEAL),
    "directus_settings": _fields(
        public_registration_role=_M2O,
        storage_asset_presets=_JSON,
        basemaps=_JSON,
        module_bar=_JSON,
        custom_aspect_ratios=_JSON,
        theme_light_overrides=_JSON,
        theme_dark_overrides=_JSON,
        public_registration_email_filter=_JSON,
        visual_editor_urls=_JSON,
        ai_openai_compatible_models=_JSON,
        ai_openai_compatible_headers=_JSON,
        ai_openai_allowed_models=_JSON,
        ai_anthropic_allowed_models=_JSON,
        ai_google_allowed_models=_JSON,
        public_registration=_BOOL,
        public_registration_verify_email=_BOOL,
        mcp_enabled=_BOOL,
        mcp_allow_deletes=_BOOL,
        mcp_system_prompt_enabled=_BOOL,
        product_updates=_BOOL,
        collaborative_editing_enabled=_BOOL,
        # Directus stores these encrypted ("encrypt"); Transom at least never returns them.
        ai_openai_api_key=_CONCEAL,
        ai_anthropic_api_key=_CONCEAL,
        ai_google_api_key=_CONCEAL,
        ai_openai_compatible_api_key=_CONCEAL,
    ),
    "directus_shares": _fields(
        id=_UUID,
        password=_HASH,
        date_start=_TIMESTAMP,
        date_end=_TIMESTAMP,
        date_created=_DATE_CREATED,
        user_created=_USER_CREATED,
    ),
    "directus_translations": _fields(id=_UUID),
    "directus_users": _fields(
        id=_UUID,
        password=_HASH,
        token=_CONCEAL,
        tfa_secret=_CONCEAL,
        tags=_JSON,
        role=_M2O,
        email_notifications=_BOOL,
        theme_light_overrides=_JSON,
        theme_dark_overrides=_JSON,
        last_access=_TIMESTAMP,
        auth_data={"special": ["cast-json"], "hidden": True},
    ),
    "directus_versions": _fields(
        id=_UUID,
        delta=_JSON,
        date_created=_DATE_CREATED,
        date_updated=_DATE_UPDATED,
        user_created=_USER_CREATED,
        user_updated=_USER_UPDATED,
    ),
    "directus_deployments": _fields(
        id=_UUID,
        credentials=_CONCEAL,
        webhook_ids=_JSON,
        date_created=_DATE_CREATED,
        user_created=_USER_CREATED,
    ),
    "directus_deployment_projects": _fields(
        id=_UUID, deployable=_BOOL, date_created=_DATE_CREATED, user_created=_USER_CREATED
    ),
    "directus_deployment_runs": _fields(
        id=_UUID, date_created=_DATE_CREATED, user_created=_USER_CREATED
    ),
}

#: Relational fields without a column, by collection: ``{alias: special}``.
SYSTEM_ALIAS_FIELDS: dict[str, dict[str, str]] = {
    "directus_activity": {"revisions": "o2m"},
    "directus_dashboards": {"panels": "o2m"},
    "directus_flows": {"operations": "o2m"},
    "directus_policies": {"permissions": "o2m", "roles": "m2m", "users": "m2m"},
    "directus_roles": {"children": "o2m", "policies": "m2m", "users": "o2m"},
    "directus_users": {"policies": "m2m"},
    "directus_deployments": {"projects": "o2m"},
    "directus_deployment_projects": {"runs": "o2m"},
}


def _relation(
    many_collection: str,
    many_field: str,
    one_collection: str | None,
    one_field: str | None = None,
    *,
    junction_field: str | None = None,
    sort_field: str | None = None,
    one_deselect_action: str = "nullify",
) -> dict[str, Any]:
    """A row shaped like ``directus_relations`` (without ``id``)."""
    return {
        "many_collection": many_collection,
        "many_field": many_field,
        "one_collection": one_collection,
        "one_field": one_field,
        "one_collection_field": None,
        "one_allowed_collections": None,
        "junction_field": junction_field,
        "sort_field": sort_field,
        "one_deselect_action": one_deselect_action,
    }


_U = "directus_users"

#: The relations Directus declares between its system collections.
SYSTEM_RELATIONS: list[dict[str, Any]] = [
    _relation("directus_collections", "group", "directus_collections"),
    _relation("directus_comments", "collection", "directus_collections"),
    _relation("directus_comments", "user_created", _U),
    _relation("directus_comments", "user_updated", _U),
    _relation(_U, "role", "directus_roles", "users"),
    _relation(_U, "avatar", "directus_files"),
    _relation("directus_revisions", "activity", "directus_activity", "revisions"),
    _relation("directus_revisions", "parent", "directus_revisions"),
    _relation("directus_revisions", "version", "directus_versions"),
    _relation("directus_presets", "user", _U),
    _relation("directus_presets", "role", "directus_roles"),
    _relation("directus_folders", "parent", "directus_folders"),
    _relation("directus_files", "folder", "directus_folders"),
    _relation("directus_files", "uploaded_by", _U),
    _relation("directus_files", "modified_by", _U),
    _relation("directus_fields", "collection", "directus_collections", "fields"),
    _relation("directus_fields", "group", "directus_fields"),
    _relation("directus_activity", "user", _U),
    _relation("directus_settings", "project_logo", "directus_files"),
    _relation("directus_settings", "public_foreground", "directus_files"),
    _relation("directus_settings", "public_background", "directus_files"),
    _relation("directus_settings", "public_favicon", "directus_files"),
    _relation("directus_settings", "storage_default_folder", "directus_folders"),
    _relation("directus_settings", "public_registration_role", "directus_roles"),
    _relation("directus_panels", "dashboard", "directus_dashboards", "panels"),
    _relation("directus_panels", "user_created", _U),
    _relation("directus_flows", "operation", "directus_operations"),
    _relation("directus_flows", "user_created", _U),
    _relation(
        "directus_operations", "flow", "directus_flows", "operations", one_deselect_action="delete"
    ),
    _relation("directus_operations", "resolve", "directus_operations"),
    _relation("directus_operations", "reject", "directus_operations"),
    _relation("directus_operations", "user_created", _U),
    _relation("directus_sessions", "user", _U),
    _relation("directus_sessions", "share", "directus_shares"),
    _relation("directus_dashboards", "user_created", _U),
    _relation("directus_notifications", "recipient", _U),
    _relation("directus_notifications", "sender", _U),
    _relation("directus_shares", "role", "directus_roles"),
    _relation("directus_shares", "collection", "directus_collections"),
    _relation("directus_shares", "user_created", _U),
    _relation("directus_versions", "collection", "directus_collections"),
    _relation("directus_versions", "user_created", _U),
    _relation("directus_versions", "user_updated", _U),
    _relation(
        "directus_permissions",
        "policy",
        "directus_policies",
        "permissions",
        one_deselect_action="delete",
    ),
    # directus_access is the junction of three m2m aliases: roles.policies, users.policies,
    # and, from the policy side, policies.roles and policies.users (two rows, same column).
    _relation(
        "directus_access",
        "policy",
        "directus_policies",
        "roles",
        junction_field="role",
        one_deselect_action="delete",
    ),
    _relation(
        "directus_access",
        "policy",
        "directus_policies",
        "users",
        junction_field="user",
        one_deselect_action="delete",
    ),
    _relation(
        "directus_access",
        "role",
        "directus_roles",
        "policies",
        junction_field="policy",
        sort_field="sort",
        one_deselect_action="delete",
    ),
    _relation(
        "directus_access",
        "user",
        _U,
        "policies",
        junction_field="policy",
        sort_field="sort",
        one_deselect_action="delete",
    ),
    _relation("directus_roles", "parent", "directus_roles", "children"),
    _relation(
        "directus_deployment_projects",
        "deployment",
        "directus_deployments",
        "projects",
        one_deselect_action="delete",
    ),
    _relation("directus_deployments", "user_created", _U),
    _relation("directus_deployment_projects", "user_created", _U),
    _relation(
        "directus_deployment_runs",
        "project",
        "directus_deployment_projects",
        "runs",
        one_deselect_action="delete",
    ),
    _relation("directus_deployment_runs", "user_created", _U),
]

#: ``directus_settings`` as Directus reports it when no row exists yet (the column defaults).
DEFAULT_SETTINGS_ROW: dict[str, Any] = {
    "project_name": "Directus",
    "project_color": "#6644FF",
    "auth_login_attempts": 25,
    "storage_asset_transform": "all",
    "default_language": "en-US",
    "default_appearance": "auto",
    "public_registration": False,
    "public_registration_verify_email": True,
    "mcp_enabled": False,
    "mcp_allow_deletes": False,
    "mcp_system_prompt_enabled": True,
    "collaborative_editing_enabled": False,
}


def field_meta(collection: str, field: str) -> dict[str, Any] | None:
    """The built-in meta of a system field, or None."""
    return SYSTEM_FIELD_META.get(collection, {}).get(field)


def field_special(collection: str, field: str) -> tuple[str, ...]:
    """The special flags of a system field (empty when it has none)."""
    meta = field_meta(collection, field)
    return tuple(meta.get("special") or ()) if meta else ()


def alias_fields(collection: str) -> dict[str, str]:
    """The alias (o2m/m2m) fields of a system collection: ``{field: special}``."""
    return dict(SYSTEM_ALIAS_FIELDS.get(collection, {}))


def relations_of(collection: str) -> list[dict[str, Any]]:
    """System relations whose many or one side is ``collection``."""
    return [
        r for r in SYSTEM_RELATIONS if collection in (r["many_collection"], r["one_collection"])
    ]


def default_settings() -> dict[str, Any]:
    """A fresh copy of :data:`DEFAULT_SETTINGS_ROW` with every other column None."""
    row: dict[str, Any] = {
        c.name: None for c in shared_system_metadata().tables["directus_settings"].columns
    }
    row.update(DEFAULT_SETTINGS_ROW)
    return row
