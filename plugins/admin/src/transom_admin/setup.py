"""First run: whether an administrator exists, and making the first one.

Acts as the system (no accountability) on purpose: there is nobody to sign in as yet. The
page that calls it refuses once an active administrator exists, so it cannot be used to
add a second one.
"""

from __future__ import annotations

from typing import Any

from transom.api import (
    ErrorGroup,
    ExtensionContext,
    FailedValidationError,
    ForbiddenError,
    Transom,
)


def admin_exists(cms: Transom) -> bool:
    """True when an active user holds an admin policy (through its role or directly)."""
    svc = ExtensionContext(cms).services
    policies = [p["id"] for p in svc.items("directus_policies", emit_events=False).read_by_query(
        {"fields": ["id"], "filter": {"admin_access": {"_eq": True}}, "limit": -1})]
    if not policies:
        return False
    links = svc.items("directus_access", emit_events=False).read_by_query(
        {"fields": ["role", "user"], "filter": {"policy": {"_in": policies}}, "limit": -1})
    roles = [a["role"] for a in links if a.get("role")]
    users = [a["user"] for a in links if a.get("user")]
    who: list[dict[str, Any]] = []
    if roles:
        who.append({"role": {"_in": roles}})
    if users:
        who.append({"id": {"_in": users}})
    if not who:
        return False
    found = svc.items("directus_users", emit_events=False).read_by_query(
        {"fields": ["id"], "limit": 1,
         "filter": {"_and": [{"status": {"_eq": "active"}}, {"_or": who}]}})
    return bool(found)


def create_first_admin(cms: Transom, email: str, password: str, project_name: str) -> Any:
    """The first administrator and the project name, in one transaction."""
    problems = []
    if not email.strip():
        problems.append(FailedValidationError("email", "required", "An email is required."))
    if len(password) < 8:
        problems.append(FailedValidationError("password", "length",
                                              "The password needs at least 8 characters."))
    if problems:
        raise ErrorGroup(problems)
    if admin_exists(cms):
        raise ForbiddenError("The project already has an administrator.")
    with ExtensionContext(cms).transaction() as ctx:
        svc = ctx.services
        policy = _admin_policy(ctx)
        role = _admin_role(ctx, policy)
        user = svc.users().create_one({"email": email.strip(), "password": password,
                                       "role": role, "status": "active",
                                       "first_name": "Admin"})
        if project_name.strip():
            svc.items("directus_settings").upsert_singleton(
                {"project_name": project_name.strip()})
    return user


def _admin_policy(ctx: ExtensionContext) -> Any:
    items = ctx.services.items("directus_policies")
    found = items.read_by_query({"fields": ["id"], "limit": 1,
                                 "filter": {"admin_access": {"_eq": True}}})
    if found:
        return found[0]["id"]
    return items.create_one({"name": "Administrator", "icon": "verified",
                             "admin_access": True, "app_access": True})


def _admin_role(ctx: ExtensionContext, policy: Any) -> Any:
    access = ctx.services.items("directus_access")
    found = access.read_by_query({"fields": ["role"], "limit": -1,
                                  "filter": {"policy": {"_eq": policy}}})
    for row in found:
        if row.get("role"):
            return row["role"]
    role = ctx.services.items("directus_roles").create_one(
        {"name": "Administrator", "icon": "verified"})
    access.create_one({"role": role, "policy": policy})
    return role
