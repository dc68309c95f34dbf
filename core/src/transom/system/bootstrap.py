"""First start: system tables through migrations, then the first admin, idempotently.

Like Directus's container: when no user exists yet, create an Administrator role and policy,
a public policy (no permissions), default settings, and the admin user from
``ADMIN_EMAIL``/``ADMIN_PASSWORD``/``ADMIN_TOKEN`` (a password is generated and reported when
none is given). Running it again changes nothing but pending migrations.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..auth.passwords import generate_password, hash_password
from ..plugins import flatten
from . import migrations as mig
from .tables import shared_system_metadata

if TYPE_CHECKING:
    from ..kernel import Transom


def all_migrations(cms: Transom) -> list[mig.Migration]:
    return [*mig.core_migrations(), *flatten(cms.hook.register_migrations(cms=cms))]


def bootstrap(cms: Transom) -> dict[str, Any]:
    """Migrate, then seed the first admin if there is no user. Returns what it did."""
    applied = mig.run_migrations(cms.engine, all_migrations(cms), cms.dialect)
    result: dict[str, Any] = {"migrations": applied, "admin": None}
    with cms.begin() as conn:
        users = conn.execute(sa.text("SELECT COUNT(*) FROM directus_users")).scalar_one()
        if not users:
            result["admin"] = _seed(cms, conn)
    cms.schema_changed()
    cms.access_changed()
    return result


def _seed(cms: Transom, conn: sa.Connection) -> dict[str, Any]:
    md = shared_system_metadata()
    t = {name: md.tables[name] for name in ("directus_roles", "directus_policies",
                                            "directus_access", "directus_users",
                                            "directus_settings")}
    role_id, admin_policy, public_policy = (str(uuid.uuid4()) for _ in range(3))
    conn.execute(t["directus_roles"].insert().values(
        id=role_id, name="Administrator", icon="verified",
        description="$t:admin_description"))
    conn.execute(t["directus_policies"].insert(), [
        {"id": admin_policy, "name": "Administrator", "icon": "verified",
         "description": "$t:admin_description", "admin_access": True, "app_access": True,
         "enforce_tfa": False},
        {"id": public_policy, "name": "$t:public_label", "icon": "public",
         "description": "$t:public_description", "admin_access": False,
         "app_access": False, "enforce_tfa": False},
    ])
    conn.execute(t["directus_access"].insert(), [
        {"id": str(uuid.uuid4()), "role": role_id, "user": None, "policy": admin_policy},
        {"id": str(uuid.uuid4()), "role": None, "user": None, "policy": public_policy},
    ])
    email = cms.config.get("ADMIN_EMAIL") or "admin@example.com"
    password = cms.config.get("ADMIN_PASSWORD")
    generated = None
    if not password:
        password = generated = generate_password()
    user_id = str(uuid.uuid4())
    conn.execute(t["directus_users"].insert().values(
        id=user_id, first_name="Admin", last_name="User", email=email,
        password=hash_password(password, cms.config), status="active", role=role_id,
        token=cms.config.get("ADMIN_TOKEN"), provider="default"))
    has_settings = conn.execute(sa.select(sa.func.count()).select_from(
        t["directus_settings"])).scalar_one()
    if not has_settings:
        conn.execute(t["directus_settings"].insert().values(
            project_name=cms.config.get("PROJECT_NAME", "Transom")))
    return {"id": user_id, "email": email, "role": role_id, "generated_password": generated}
