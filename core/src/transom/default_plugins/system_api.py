"""Routes of the system collections (``/users``, ``/roles``, ``/policies``, ``/permissions``,
``/access``, ``/activity``, ``/revisions``, ``/settings``, ...) and the "me" routes.

They are the same generic CRUD as ``/items`` over the ``directus_*`` tables, through the same
:class:`ItemsService` and so the same permission engine; a few collections are read-only
(activity, revisions) or singletons (settings), as in Directus.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response

from .. import hookimpl
from ..errors import ForbiddenError, InvalidCredentialsError, InvalidPayloadError, TransomError
from ..http import crud
from ..http.context import current_cms, get_accountability
from ..http.openapi import Blueprint, describe
from ..http.responses import json_response, request_json
from ..http.schemas import (
    SYSTEM_BODIES,
    BatchDeleteBody,
    BatchUpdateBody,
    ExplainQuery,
    ObjectBody,
    QuerySchema,
    UserBody,
)
from ..permissions.rules import ACTIONS
from ..query import parse_query
from ..services.items import ItemsService
from ..services.users import UsersService

#: route -> (collection, writable)
ROUTES: dict[str, tuple[str, bool]] = {
    "users": ("directus_users", True),
    "roles": ("directus_roles", True),
    "policies": ("directus_policies", True),
    "permissions": ("directus_permissions", True),
    "access": ("directus_access", True),
    "activity": ("directus_activity", False),
    "revisions": ("directus_revisions", False),
    "folders": ("directus_folders", True),
    "presets": ("directus_presets", True),
    "translations": ("directus_translations", True),
    "comments": ("directus_comments", True),
    "notifications": ("directus_notifications", True),
    "shares": ("directus_shares", True),
    "versions": ("directus_versions", True),
    "dashboards": ("directus_dashboards", True),
    "panels": ("directus_panels", True),
    "flows": ("directus_flows", True),
    "operations": ("directus_operations", True),
}

# flask-smorest Blueprint: documented from the shared schemas. The CRUD views share the
# items read path (crud.request_query), so they are described, not wrapped (no parsing cost).
bp = Blueprint("transom_system", __name__, description="System collections and me routes.")


def _service(collection: str) -> ItemsService:
    if collection == "directus_users":  # email format and the project's password policy
        return UsersService(current_cms(), get_accountability())
    return ItemsService(current_cms(), collection, get_accountability())


def _me_routes() -> None:
    @bp.get("/users/me")
    @describe(query=QuerySchema)
    def users_me() -> Response:
        """The current user"""
        acc = get_accountability()
        if acc.share is not None and acc.user is None:
            # Directus: a share's caller is no user; it is told its share and role
            return json_response({"data": {"share": acc.share, "role": {
                "id": acc.role, "admin_access": False, "app_access": False}}})
        if acc.user is None:
            raise InvalidCredentialsError()
        query = crud.request_query()
        try:
            data = _service("directus_users").read_one(acc.user, query)
        except TransomError as exc:
            if exc.code != "FORBIDDEN":
                raise
            data = {"id": acc.user}  # Directus: a user who may not read themselves
        return json_response({"data": data})

    @bp.patch("/users/me")
    @describe(body=UserBody)
    def update_me() -> Response:
        """Update the current user"""
        acc = get_accountability()
        if acc.user is None:
            raise InvalidCredentialsError()
        payload = request_json()
        if not isinstance(payload, dict):
            raise InvalidPayloadError("Payload must be an object")
        svc = _service("directus_users")
        svc.update_one(acc.user, payload)
        return crud.read_back(svc, [acc.user], parse_query({}), single=True)

    @bp.get("/roles/me")
    @describe(query=QuerySchema)
    def roles_me() -> Response:
        """The current user's roles"""
        acc = get_accountability()
        if not acc.roles:
            return json_response({"data": []})
        return json_response({"data": ItemsService(current_cms(), "directus_roles").read_many(
            list(acc.roles), crud.request_query())})

    @bp.get("/policies/me/globals")
    def policies_me_globals() -> Response:
        """The current user's global access flags"""
        acc = get_accountability()
        return json_response({"data": {"app_access": acc.app, "admin_access": acc.admin,
                                       "enforce_tfa": acc.enforce_tfa}})

    @bp.get("/permissions/me")
    def permissions_me() -> Response:
        """The current user's permissions, per collection and action"""
        cms = current_cms()
        return json_response({"data": cms.access.permissions(get_accountability())
                              .summary(cms.schema)})

    @bp.get("/permissions/me/<collection>")
    @bp.get("/permissions/me/<collection>/<key>")
    def permissions_me_item(collection: str, key: str | None = None) -> Response:
        """The current user's permissions on a collection or an item"""
        cms = current_cms()
        perms = cms.access.permissions(get_accountability())
        return json_response({"data": perms.item_summary(cms, collection, key)})

    @bp.get("/permissions/explain/<collection>/<action>")
    @bp.arguments(ExplainQuery, location="query", as_kwargs=True)
    def permissions_explain(collection: str, action: str, **args: Any) -> Response:
        """Transom extension: why a caller may, may partly, or may not do something.

        Admins only. ``?user=<id>``, ``?role=<id>`` or neither (the public policies) picks
        whose permissions to explain; ``?key=<pk>`` also says whether that item is
        reachable for them and which of its fields they would see masked.
        """
        cms = current_cms()
        if not get_accountability().admin:
            raise ForbiddenError()
        if action not in ACTIONS:
            raise InvalidPayloadError(f'"action" must be one of {", ".join(ACTIONS)}')
        coll = cms.schema.get(collection)
        if coll is None:
            raise ForbiddenError.collection(collection)
        target = _explained_accountability(cms, args.get("user"), args.get("role"))
        perms = cms.access.permissions(target)
        out = perms.explain(collection, action, list(coll.fields))
        out["policies"] = list(target.policies)
        key = args.get("key")
        if key is not None and coll.primary_key:
            try:
                ItemsService(cms, collection, target).read_one(
                    key, {"fields": [coll.primary_key],
                          "filter": None if action == "read" else
                          perms.access(collection, action).row_filter()})
                out["item"] = {"key": key, "reachable": True}
            except TransomError as exc:
                if exc.code != "FORBIDDEN":
                    raise
                out["item"] = {"key": key, "reachable": False}
        return json_response({"data": out})

    @bp.get("/settings")
    @describe(query=QuerySchema)
    def read_settings() -> Response:
        """The project settings"""
        svc = _service("directus_settings")
        return json_response({"data": svc.read_singleton(crud.request_query())})

    @bp.patch("/settings")
    @describe(body=ObjectBody)
    def update_settings() -> Response:
        """Update the project settings"""
        svc = _service("directus_settings")
        payload = request_json()
        if not isinstance(payload, dict):
            raise InvalidPayloadError("Payload must be an object")
        svc.upsert_singleton(payload)
        return json_response({"data": svc.read_singleton(parse_query({}))})


def _explained_accountability(cms: Any, user_id: str | None, role_id: str | None) -> Any:
    """The accountability named by ``?user=`` or ``?role=``, or the public one."""
    if user_id:
        users = cms.schema.get("directus_users").table
        with cms.connect() as conn:
            row = conn.execute(sa.select(users.c.id, users.c.role).where(
                users.c.id == user_id)).first()
        if row is None:
            raise ForbiddenError()
        return cms.access.for_user(str(row.id), row.role)
    if role_id:
        return cms.access.for_user("00000000-0000-0000-0000-000000000000", role_id)
    return cms.access.public()


def _crud_routes(route: str, collection: str, writable: bool) -> None:
    """The generic route set of one system collection."""

    body = SYSTEM_BODIES.get(route, ObjectBody)

    @describe(summary=f"List {route} (SEARCH: the query in the body)", query=QuerySchema)
    def list_view() -> Response:
        return crud.list_items(_service(collection))

    @describe(summary=f"Read one of {route}", query=QuerySchema)
    def read_view(key: str) -> Response:
        return crud.read_item(_service(collection), key)

    bp.add_url_rule(f"/{route}", f"{route}_list", list_view, methods=["GET", "SEARCH"])
    bp.add_url_rule(f"/{route}/<key>", f"{route}_read", read_view, methods=["GET"])
    if not writable:
        return

    @describe(summary=f"Create one of {route} (object) or several (array)",
              query=QuerySchema, body=body)
    def create_view() -> Response:
        return crud.create_items(_service(collection))

    @describe(summary=f"Update {route} by keys or query", query=QuerySchema,
              body=BatchUpdateBody)
    def update_many_view() -> Response:
        return crud.update_items(_service(collection))

    @describe(summary=f"Update one of {route}", query=QuerySchema, body=body)
    def update_view(key: str) -> Response:
        return crud.update_item(_service(collection), key)

    @describe(summary=f"Delete {route} by keys or query", body=BatchDeleteBody)
    def delete_many_view() -> Response:
        return crud.delete_items(_service(collection))

    @describe(summary=f"Delete one of {route}")
    def delete_view(key: str) -> Response:
        return crud.delete_item(_service(collection), key)

    bp.add_url_rule(f"/{route}", f"{route}_create", create_view, methods=["POST"])
    bp.add_url_rule(f"/{route}", f"{route}_update_many", update_many_view, methods=["PATCH"])
    bp.add_url_rule(f"/{route}/<key>", f"{route}_update", update_view, methods=["PATCH"])
    bp.add_url_rule(f"/{route}", f"{route}_delete_many", delete_many_view, methods=["DELETE"])
    bp.add_url_rule(f"/{route}/<key>", f"{route}_delete", delete_view, methods=["DELETE"])


_me_routes()  # before the generic routes, so /users/me is not read as a key
for _route, (_collection, _writable) in ROUTES.items():
    _crud_routes(_route, _collection, _writable)


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp

