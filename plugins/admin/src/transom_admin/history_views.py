"""The activity log and the revisions of an item, read as the signed-in user.

Both are ordinary reads of ``directus_activity`` / ``directus_revisions`` through the items
service, so a user sees only the rows its policies allow. Reverting calls the same function
as ``POST /utils/revert/:revision`` (an update through the items service as the caller).
"""

from __future__ import annotations

import math
import uuid
from typing import Any
from urllib.parse import urlencode

from flask import redirect, request

from transom.api import InvalidQueryError, TransomError, parse_json, revert_revision

from .common import bp, context, page, signed_in

PAGE_SIZE = 50


def _page_number() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        raise InvalidQueryError('"page" must be a number') from None


@bp.get("/admin/activity")
@signed_in
def activity_log() -> Any:
    """Newest first, filtered by collection and/or user; bad filters are a 400."""
    ctx = context()
    collection = request.args.get("collection", "").strip()
    user = request.args.get("user", "").strip()
    filters: list[dict[str, Any]] = []
    if collection:
        if ctx.cms.schema.get(collection) is None:
            raise InvalidQueryError(f'Unknown collection "{collection}"')
        filters.append({"collection": {"_eq": collection}})
    if user:
        try:
            user = str(uuid.UUID(user))
        except ValueError:
            raise InvalidQueryError('"user" must be a user id') from None
        filters.append({"user": {"_eq": user}})
    number = _page_number()
    query: dict[str, Any] = {
        "fields": ["id", "action", "timestamp", "user", "collection", "item"],
        "sort": ["-timestamp", "-id"], "limit": PAGE_SIZE, "page": number}
    if filters:
        query["filter"] = {"_and": filters}
    service = ctx.services.items("directus_activity")
    rows = service.read_by_query(query)
    total = service.meta({**query, "meta": ["filter_count"]}).get("filter_count", len(rows))
    pages = max(1, math.ceil(total / PAGE_SIZE))
    users = _user_names(ctx)

    def link(**changes: Any) -> str:
        args = {"collection": collection, "user": user, "page": number, **changes}
        return "/admin/activity?" + urlencode([(k, v) for k, v in args.items()
                                               if v not in ("", None, 1)])

    collections = sorted(ctx.cms.schema.collections)
    return page("admin/activity.html", rows=rows, users=users, collections=collections,
                chosen_collection=collection, chosen_user=user, number=number, pages=pages,
                total=total, link=link)


def _user_names(ctx: Any) -> dict[str, str]:
    """Id -> email of the users the caller may read (an empty map when it may read none)."""
    try:
        rows = ctx.services.users().read_by_query(
            {"fields": ["id", "email"], "sort": ["email"], "limit": -1})
    except TransomError:
        return {}
    return {str(r["id"]): r.get("email") or str(r["id"]) for r in rows}


@bp.get("/admin/content/<collection>/<key>/revisions")
@signed_in
def item_revisions(collection: str, key: str) -> Any:
    """The item's revisions, newest first, each with the fields it changed (the delta)."""
    ctx = context()
    ctx.services.items(collection).read_one(key)  # the item must be readable
    rows = ctx.services.items("directus_revisions").read_by_query({
        "fields": ["id", "activity", "delta"], "sort": ["-id"], "limit": 100,
        "filter": {"_and": [{"collection": {"_eq": collection}}, {"item": {"_eq": key}}]}})
    ids = [r["activity"] for r in rows if r.get("activity") is not None]
    activity: dict[Any, dict[str, Any]] = {}
    if ids:
        for a in ctx.services.items("directus_activity").read_by_query(
                {"fields": ["id", "action", "timestamp", "user"], "limit": -1,
                 "filter": {"id": {"_in": ids}}}):
            activity[a["id"]] = a
    revisions = []
    for r in rows:
        delta = parse_json(r.get("delta"))
        revisions.append({"id": r["id"], "activity": activity.get(r.get("activity"), {}),
                          "delta": delta if isinstance(delta, dict) else {}})
    return page("admin/revisions.html", collection=collection, key=key, revisions=revisions,
                users=_user_names(ctx))


@bp.post("/admin/content/<collection>/<key>/revisions/<revision>/revert")
@signed_in
def item_revert(collection: str, key: str, revision: str) -> Any:
    """Write a revision back onto its item, as the caller (update permission applies)."""
    ctx = context()
    row = ctx.services.items("directus_revisions").read_one(
        revision, {"fields": ["id", "collection", "item"]})
    if row["collection"] != collection or str(row["item"]) != key:
        raise InvalidQueryError("This revision belongs to another item.")
    revert_revision(ctx.cms, ctx.accountability, revision)
    return redirect(f"/admin/content/{collection}/{key}/revisions?reverted={revision}")
