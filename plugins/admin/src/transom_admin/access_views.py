"""Access and settings: users, roles, creating a user, the project name.

The system collections are read and written as the caller, so a non-admin sees what its
policies allow of ``directus_users`` / ``directus_roles`` and gets a 403 for the rest.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request

from transom.api import FailedValidationError, ForbiddenError, TransomError

from .common import COLOR, bp, context, errors_by_field, page, signed_in

LANGUAGES = "languages"


@bp.get("/admin/users")
@signed_in
def user_list() -> Any:
    ctx = context()
    users = ctx.services.users().read_by_query(
        {"fields": ["id", "email", "first_name", "last_name", "status", "role"],
         "sort": ["email"], "limit": 200})
    roles = {r["id"]: r["name"] for r in ctx.services.items("directus_roles").read_by_query(
        {"fields": ["id", "name"], "limit": -1})}
    return page("admin/user_list.html", users=users, roles=roles)


@bp.route("/admin/users/+", methods=["GET", "POST"])
@signed_in
def user_create() -> Any:
    ctx = context()
    roles = ctx.services.items("directus_roles").read_by_query(
        {"fields": ["id", "name"], "sort": ["name"], "limit": -1})
    errors: dict[str, str] = {}
    general: list[str] = []
    if request.method == "POST":
        data = {k: request.form.get(k, "").strip() for k in
                ("email", "password", "first_name", "last_name", "role")}
        data = {k: v for k, v in data.items() if v}
        data["status"] = "active"
        try:
            ctx.services.users().create_one(data)
        except TransomError as exc:
            errors, general = errors_by_field(exc)
        else:
            return redirect("/admin/users?created=1")
    return page("admin/user_form.html", 400 if errors or general else 200, roles=roles,
                form=request.form, errors=errors, general=general)


@bp.get("/admin/roles")
@signed_in
def role_list() -> Any:
    ctx = context()
    roles = ctx.services.items("directus_roles").read_by_query(
        {"fields": ["id", "name", "description"], "sort": ["name"], "limit": -1})
    return page("admin/role_list.html", roles=roles)


@bp.route("/admin/settings/project", methods=["GET", "POST"])
@signed_in
def project_settings() -> Any:
    ctx = context()
    settings = ctx.services.items("directus_settings")
    errors: dict[str, str] = {}
    general: list[str] = []
    if request.method == "POST":
        data = {"project_name": request.form.get("project_name", "")}
        color = request.form.get("project_color", "").strip()
        if color:
            data["project_color"] = color
        try:
            if color and not COLOR.fullmatch(color):
                raise FailedValidationError("project_color", "regex",
                                            "Enter a colour like #6644FF.")
            settings.upsert_singleton(data)
        except TransomError as exc:
            errors, general = errors_by_field(exc)
        else:
            return redirect("/admin/settings/project?saved=1")
    current = settings.read_singleton({"fields": ["project_name", "project_color"]})
    return page("admin/settings.html", 400 if errors or general else 200,
                settings=current, errors=errors, general=general,
                languages=_languages(ctx))


def _languages(ctx: Any) -> list[dict[str, Any]] | None:
    """The rows of the ``languages`` collection, or None when there is no such collection."""
    if ctx.cms.schema.get(LANGUAGES) is None:
        return None
    return ctx.services.items(LANGUAGES).read_by_query({"sort": ["code"], "limit": -1})


@bp.post("/admin/settings/languages")
@signed_in
def language_add() -> Any:
    """Add a content language (through the items service: permissions and validation)."""
    ctx = context()
    if ctx.cms.schema.get(LANGUAGES) is None:
        raise ForbiddenError()
    data = {k: request.form.get(k, "").strip() for k in ("code", "name", "direction")}
    data = {k: v for k, v in data.items() if v and k in ctx.cms.schema.get(LANGUAGES).fields}
    errors: dict[str, str] = {}
    general: list[str] = []
    try:
        if not data.get("code"):
            raise FailedValidationError("code", "required", "Enter a language code.")
        ctx.services.items(LANGUAGES).create_one(data)
    except TransomError as exc:
        errors, general = errors_by_field(exc)
        settings = ctx.services.items("directus_settings").read_singleton(
            {"fields": ["project_name", "project_color"]})
        return page("admin/settings.html", 400, settings=settings, errors=errors,
                    general=general, languages=_languages(ctx), language_form=data)
    return redirect("/admin/settings/project?language=1")


ACTIONS = ("create", "read", "update", "delete")


@bp.get("/admin/policies")
@signed_in
def policy_list() -> Any:
    policies = context().services.items("directus_policies").read_by_query(
        {"fields": ["id", "name", "admin_access", "app_access"], "sort": ["name"],
         "limit": -1})
    return page("admin/policy_list.html", policies=policies)


@bp.route("/admin/policies/<key>", methods=["GET", "POST"])
@signed_in
def policy_matrix(key: str) -> Any:
    """Collection x action for one policy: a tick adds a permission on every item and field
    (its filter and field list are edited on the permission's own page)."""
    ctx = context()
    policy = ctx.services.items("directus_policies").read_one(key, {"fields": ["id", "name"]})
    perms = ctx.services.items("directus_permissions")
    rows = perms.read_by_query({"fields": ["id", "collection", "action", "fields",
                                           "permissions"], "limit": -1,
                                "filter": {"policy": {"_eq": policy["id"]}}})
    collections = sorted(n for n, c in ctx.cms.schema.collections.items()
                         if not c.is_system and not c.is_folder)
    have = {(r["collection"], r["action"]): r["id"] for r in rows}
    #: permissions narrower than "every item and field" (the matrix marks them)
    narrowed = {(r["collection"], r["action"]) for r in rows
                if r.get("permissions") or (r.get("fields") or ["*"]) not in (["*"], "*")}
    if request.method == "POST":
        wanted = {(c, a) for c in collections for a in ACTIONS
                  if request.form.get(f"{c}:{a}") == "on"}
        known = {(c, a) for c in collections for a in ACTIONS}
        with ctx.transaction() as tx:
            items = tx.services.items("directus_permissions")
            for pair in sorted(wanted - set(have)):
                items.create_one({"policy": policy["id"], "collection": pair[0],
                                  "action": pair[1], "fields": ["*"], "permissions": {}})
            gone = [have[p] for p in set(have) & known - wanted]
            if gone:
                items.delete_many(gone)
        return redirect(f"/admin/policies/{key}?saved=1")
    return page("admin/policy_matrix.html", policy=policy, collections=collections,
                actions=ACTIONS, have=have, narrowed=narrowed)
