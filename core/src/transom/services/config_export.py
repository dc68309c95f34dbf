"""Configuration as code: roles, policies, access, permissions, settings and the schema
metadata rows, exported to one document and imported back idempotently.

Ids are kept (roles, policies and access rows are uuids), so references between them
survive the trip and importing the same document twice changes nothing the second time.
What belongs to people or to one running instance is never exported: users, sessions,
tokens, password hashes, activity, revisions, the instance's ``project_id`` and the AI
providers' API keys in the settings.

Rows are matched on their primary key, except where an integer id only numbers rows of one
database: permissions match on ``(policy, collection, action)``, field metadata on
``(collection, field)``, relation metadata on ``(many_collection, many_field)``. Import is
an upsert (nothing is deleted) in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from dateutil import parser as date_parser
from sqlalchemy.exc import SQLAlchemyError

from ..errors import InvalidPayloadError
from ..system.tables import system_metadata

if TYPE_CHECKING:
    from ..kernel import Transom

EXPORT_VERSION = 1
#: The table a plugin may keep outgoing webhooks in; exported when it exists.
WEBHOOKS_TABLE = "transom_webhooks"
#: Settings that identify one instance or hold a credential.
_PRIVATE_SETTINGS = frozenset({"id", "project_id"})
#: Settings columns that point at files and folders, which are not part of the export.
_FILE_SETTINGS = {
    "project_logo": "directus_files", "public_foreground": "directus_files",
    "public_background": "directus_files", "public_favicon": "directus_files",
    "storage_default_folder": "directus_folders",
}

#: section -> (table, natural key used to match rows, columns left out of the export)
SECTIONS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "policies": ("directus_policies", ("id",), ()),
    "roles": ("directus_roles", ("id",), ()),
    "access": ("directus_access", ("id",), ()),
    "permissions": ("directus_permissions", ("policy", "collection", "action"), ("id",)),
    "collections_meta": ("directus_collections", ("collection",), ()),
    "fields_meta": ("directus_fields", ("collection", "field"), ("id",)),
    "relations_meta": ("directus_relations", ("many_collection", "many_field"), ("id",)),
}
_ORDER = {
    "policies": ("name", "id"),
    "roles": ("name", "id"),
    "access": ("id",),
    "permissions": ("policy", "collection", "action", "id"),
    "collections_meta": ("collection",),
    "fields_meta": ("collection", "field"),
    "relations_meta": ("many_collection", "many_field"),
}


def _private_setting(name: str) -> bool:
    return name in _PRIVATE_SETTINGS or name.endswith("_api_key")


class _Tables:
    """Typed system tables, limited to the columns this database really has."""

    def __init__(self, cms: Transom) -> None:
        self.cms = cms
        self.md = system_metadata()
        self.schema = cms.refresh_schema()

    def table(self, name: str) -> sa.Table | None:
        if self.schema.get(name) is None:
            return None
        if name in self.md.tables:
            return self.md.tables[name]
        return None

    def columns(self, name: str) -> list[str]:
        coll = self.schema.get(name)
        table = self.table(name)
        if coll is None or table is None:
            return []
        return [c.name for c in table.columns if c.name in coll.fields
                and not coll.fields[c.name].is_alias]


def _plain(value: Any) -> Any:
    """Values as JSON and YAML can carry them."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return value


def _rows(conn: sa.Connection, table: sa.Table, columns: list[str],
          order: Iterable[str] = ()) -> list[dict[str, Any]]:
    stmt = sa.select(*(table.c[c] for c in columns))
    stmt = stmt.order_by(*(table.c[c] for c in order if c in columns))
    return [{str(k): _plain(v) for k, v in r.items()} for r in conn.execute(stmt).mappings()]


def _webhooks_table(conn: sa.Connection) -> sa.Table | None:
    if not sa.inspect(conn).has_table(WEBHOOKS_TABLE):
        return None
    return sa.Table(WEBHOOKS_TABLE, sa.MetaData(), autoload_with=conn)


def export_config(cms: Transom) -> dict[str, Any]:
    """The whole configuration as one document (see the module docstring for its scope)."""
    tables = _Tables(cms)
    out: dict[str, Any] = {"version": EXPORT_VERSION}
    with cms.connect() as conn:
        for section, (name, _key, skip) in SECTIONS.items():
            table = tables.table(name)
            cols = [c for c in tables.columns(name) if c not in skip]
            out[section] = _rows(conn, table, cols, _ORDER[section]) if table is not None \
                else []
        settings_t = tables.table("directus_settings")
        settings: dict[str, Any] = {}
        if settings_t is not None:
            cols = tables.columns("directus_settings")
            rows = _rows(conn, settings_t, cols, ("id",))
            if rows:
                settings = {k: v for k, v in rows[0].items() if not _private_setting(k)}
        out["settings"] = settings
        webhooks = _webhooks_table(conn)
        if webhooks is not None:
            pk = [c.name for c in webhooks.primary_key.columns]
            out["webhooks"] = _rows(conn, webhooks, list(webhooks.columns.keys()), pk)
    return out


# -- import --------------------------------------------------------------------------------
class _Summary:
    def __init__(self) -> None:
        self.data: dict[str, dict[str, int]] = {}

    def count(self, section: str, what: str) -> None:
        counts = self.data.setdefault(section, {"created": 0, "updated": 0, "unchanged": 0,
                                                "skipped": 0})
        counts[what] += 1


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dt.datetime | dt.date) and isinstance(b, str):
        return a.isoformat() == b
    return bool(a == b)


def _coerce(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    """Turn exported strings back into the values typed columns want (dates)."""
    out = dict(row)
    for name, value in row.items():
        if not isinstance(value, str) or name not in table.c:
            continue
        try:
            python_type = table.c[name].type.python_type
        except NotImplementedError:
            continue
        if python_type in (dt.datetime, dt.date):
            parsed = date_parser.isoparse(value)
            out[name] = parsed if python_type is dt.datetime else parsed.date()
    return out


def _upsert(conn: sa.Connection, table: sa.Table, row: dict[str, Any], key: tuple[str, ...],
            summary: _Summary, section: str) -> None:
    """Insert ``row`` or update the row with the same ``key`` where values differ."""
    where = sa.and_(*(table.c[k] == row[k] for k in key))
    current = conn.execute(sa.select(*(table.c[c] for c in row)).where(where).limit(1)
                           ).mappings().first()
    if current is None:
        conn.execute(table.insert().values(**row))
        summary.count(section, "created")
        return
    changes = {k: v for k, v in row.items() if k not in key and not _same(current[k], v)}
    if not changes:
        summary.count(section, "unchanged")
        return
    conn.execute(table.update().where(where).values(**changes))
    summary.count(section, "updated")


def _parents_first(rows: list[dict[str, Any]], key: str, parent: str) -> list[dict[str, Any]]:
    """Rows ordered so that a row's parent (a FK to the same table) comes before it."""
    by_key = {r.get(key): r for r in rows}
    order: list[dict[str, Any]] = []
    seen: set[Any] = set()

    def visit(row: dict[str, Any], depth: int) -> None:
        if row.get(key) in seen or depth > len(rows):
            return
        seen.add(row.get(key))
        up = by_key.get(row.get(parent))
        if up is not None and up is not row:
            visit(up, depth + 1)
        order.append(row)

    for row in rows:
        visit(row, 0)
    return order


def _validate(payload: Any) -> dict[str, Any]:
    data = payload
    if isinstance(data, dict) and "version" not in data and isinstance(data.get("data"), dict):
        data = data["data"]
    if not isinstance(data, dict):
        raise InvalidPayloadError("A configuration export must be an object")
    if data.get("version") != EXPORT_VERSION:
        raise InvalidPayloadError(
            f"Configuration export version {data.get('version')!r} is not {EXPORT_VERSION}")
    for section, (_name, key, _skip) in SECTIONS.items():
        rows = data.get(section) or []
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InvalidPayloadError(f'"{section}" must be an array of objects')
        for r in rows:
            if any(r.get(k) is None for k in key):
                raise InvalidPayloadError(f'Every entry of "{section}" needs {", ".join(key)}')
    if not isinstance(data.get("settings") or {}, dict):
        raise InvalidPayloadError('"settings" must be an object')
    if not isinstance(data.get("webhooks") or [], list):
        raise InvalidPayloadError('"webhooks" must be an array')
    return data


def import_config(cms: Transom, payload: Any) -> dict[str, Any]:
    """Upsert an export into this database in one transaction; returns counts per section.

    Rows pointing at something the export does not carry and this database lacks (an access
    row of a user who does not exist here, a permission of an unknown policy, settings
    pointing at a file) are skipped, or the pointer cleared, and counted as ``skipped``.
    """
    data = _validate(payload)
    tables = _Tables(cms)
    summary = _Summary()
    try:
        with cms.begin() as conn:
            _import(conn, tables, data, summary)
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None) or exc
        raise InvalidPayloadError(
            f"Could not import the configuration: {str(orig).strip().splitlines()[0][:300]}"
        ) from None
    cms.access_changed()
    cms.schema_changed()
    return summary.data


def _import(conn: sa.Connection, tables: _Tables, data: dict[str, Any],
            summary: _Summary) -> None:
    def keys_of(name: str, column: str = "id") -> set[Any]:
        table = tables.table(name)
        if table is None:
            return set()
        return {r[0] for r in conn.execute(sa.select(table.c[column]))}

    def section(name: str, rows: list[dict[str, Any]],
                keep: Callable[[dict[str, Any]], bool] | None = None) -> None:
        table_name, key, skip = SECTIONS[name]
        table = tables.table(table_name)
        if table is None:
            return
        columns = set(tables.columns(table_name)) - set(skip)
        for row in rows:
            if keep is not None and not keep(row):
                summary.count(name, "skipped")
                continue
            values = _coerce(table, {k: v for k, v in row.items() if k in columns})
            _upsert(conn, table, values, key, summary, name)

    section("policies", data.get("policies") or [])
    roles = data.get("roles") or []
    known_roles = keys_of("directus_roles") | {r["id"] for r in roles}
    section("roles", _parents_first(roles, "id", "parent"),
            lambda r: r.get("parent") is None or r["parent"] in known_roles)
    policies = keys_of("directus_policies")
    roles_now = keys_of("directus_roles")
    users = keys_of("directus_users")
    section("access", data.get("access") or [], lambda r: r.get("policy") in policies and (
        r.get("role") is None or r["role"] in roles_now) and (
        r.get("user") is None or r["user"] in users))
    section("permissions", data.get("permissions") or [],
            lambda r: r.get("policy") in policies)
    _import_settings(conn, tables, data.get("settings") or {}, summary, roles_now)
    section("collections_meta", _parents_first(data.get("collections_meta") or [],
                                               "collection", "group"))
    section("fields_meta", data.get("fields_meta") or [])
    section("relations_meta", data.get("relations_meta") or [])
    hooks = data.get("webhooks")
    if hooks:
        table = _webhooks_table(conn)
        if table is None:
            for _ in hooks:
                summary.count("webhooks", "skipped")
        else:
            key = tuple(c.name for c in table.primary_key.columns)
            for row in hooks:
                if not isinstance(row, dict) or any(row.get(k) is None for k in key):
                    summary.count("webhooks", "skipped")
                    continue
                values = _coerce(table, {k: v for k, v in row.items() if k in table.c})
                _upsert(conn, table, values, key, summary, "webhooks")
            _advance_sequence(conn, table)


def _import_settings(conn: sa.Connection, tables: _Tables, settings: dict[str, Any],
                     summary: _Summary, roles: set[Any]) -> None:
    table = tables.table("directus_settings")
    if table is None or not settings:
        return
    columns = set(tables.columns("directus_settings"))
    values = {k: v for k, v in settings.items() if k in columns and not _private_setting(k)}
    for name, target in _FILE_SETTINGS.items():
        if values.get(name) is not None:
            other = tables.table(target)
            found = other is not None and conn.execute(
                sa.select(other.c.id).where(other.c.id == values[name])).first() is not None
            if not found:
                values[name] = None  # the file is not here; keep the rest of the settings
                summary.count("settings", "skipped")
    if values.get("public_registration_role") not in (None, *roles):
        values["public_registration_role"] = None
        summary.count("settings", "skipped")
    current = conn.execute(sa.select(table.c.id).order_by(table.c.id).limit(1)).first()
    if current is None:
        conn.execute(table.insert().values(**values))
        summary.count("settings", "created")
        return
    _upsert(conn, table, {"id": current[0], **values}, ("id",), summary, "settings")


def _advance_sequence(conn: sa.Connection, table: sa.Table) -> None:
    """PostgreSQL sequences do not move when ids are inserted explicitly."""
    if conn.dialect.name != "postgresql":
        return
    pk = list(table.primary_key.columns)
    if len(pk) != 1 or not isinstance(pk[0].type, sa.Integer):
        return
    col = pk[0].name
    seq = conn.execute(sa.select(sa.func.pg_get_serial_sequence(table.name, col))).scalar()
    if seq:
        conn.execute(sa.select(sa.func.setval(
            seq, sa.select(sa.func.coalesce(sa.func.max(table.c[col]), 1)).scalar_subquery())))
