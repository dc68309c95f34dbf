"""One permission of a policy: its field list, item filter, validation and presets.

The matrix (``access_views.policy_matrix``) ticks whole permissions; this page edits one
row of ``directus_permissions``. Everything typed is checked before anything is written
(JSON that parses, filters the query engine accepts on that collection, presets naming
known fields), then the row is created or updated in one call of the items service as the
caller, so a bad filter shows its message at the field and leaves the row as it was.
"""

from __future__ import annotations

import json
from typing import Any

from flask import redirect, request

from transom.api import (
    ErrorGroup,
    ExtensionContext,
    FailedValidationError,
    ForbiddenError,
    ItemsService,
    TransomError,
)

from .common import bp, context, errors_by_field, page, signed_in

ACTIONS = ("create", "read", "update", "delete")
#: the JSON parts of a permission, with the label the page gives them
JSON_PARTS = (("permissions", "Item filter"), ("validation", "Validation"),
              ("presets", "Presets"))


def _collection_fields(ctx: ExtensionContext, collection: str) -> list[str]:
    coll = ctx.cms.schema.get(collection)
    if coll is None or coll.is_system or coll.is_folder:
        raise ForbiddenError()
    return list(coll.fields)


def _check_filter(ctx: ExtensionContext, collection: str, name: str, value: Any) -> None:
    """Let the query engine judge the filter: a read as the system with ``limit`` 0 parses
    it against the snapshot (unknown fields, bad operators, bad values), reading no row."""
    if not isinstance(value, dict):
        raise FailedValidationError(name, "type", "Enter a JSON object, like "
                                    '{"status": {"_eq": "draft"}}.')
    if not value:
        return
    pk = ctx.cms.schema.get(collection).primary_key
    try:
        ItemsService(ctx.cms, collection, None, emit_events=False).read_by_query(
            {"filter": value, "fields": [pk], "limit": 0})
    except TransomError as exc:
        raise FailedValidationError(name, "filter", f"This filter is not valid: "
                                    f"{exc.message}") from None


def parse(ctx: ExtensionContext, collection: str, form: Any) -> dict[str, Any]:
    """The permission's payload from the form; every problem as a field error."""
    known = _collection_fields(ctx, collection)
    problems: list[TransomError] = []
    chosen = form.getlist("fields")
    if "*" in chosen:
        fields: list[str] = ["*"]
    else:
        fields = [f for f in chosen if f in known]
        if len(fields) != len(chosen):
            problems.append(FailedValidationError("fields", "choices",
                                                  "Choose fields of the collection."))
    data: dict[str, Any] = {"fields": fields}
    for name, label in JSON_PARTS:
        text = (form.get(name) or "").strip()
        if not text:
            data[name] = {} if name == "permissions" else None
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(FailedValidationError(
                name, "json", f"{label}: not valid JSON ({exc.msg}, line {exc.lineno})."))
            continue
        try:
            if name == "presets":
                if not isinstance(value, dict):
                    raise FailedValidationError(name, "type", "Enter a JSON object of "
                                                "field values.")
                unknown = sorted(set(value) - set(known))
                if unknown:
                    raise FailedValidationError(name, "fields", "Unknown field(s): "
                                                + ", ".join(unknown) + ".")
            else:
                _check_filter(ctx, collection, name, value)
        except TransomError as exc:
            problems.append(exc)
            continue
        data[name] = value
    if problems:
        raise ErrorGroup(problems)
    return data


def _shown(row: dict[str, Any] | None) -> dict[str, Any]:
    """The form's values for a stored row (or the defaults of a new permission)."""
    row = row or {}
    stored = row.get("fields") or ["*"]
    out: dict[str, Any] = {"fields": stored.split(",") if isinstance(stored, str)
                           else list(stored)}
    for name, _ in JSON_PARTS:
        value = row.get(name)
        out[name] = json.dumps(value, indent=2) if value not in (None, {}) else ""
    return out


@bp.route("/admin/policies/<key>/permissions/<collection>/<action>",
          methods=["GET", "POST"])
@signed_in
def permission_edit(key: str, collection: str, action: str) -> Any:
    """Edit (or create) the policy's permission for one collection and action."""
    ctx = context()
    if action not in ACTIONS:
        raise ForbiddenError()
    known = _collection_fields(ctx, collection)
    policy = ctx.services.items("directus_policies").read_one(key, {"fields": ["id", "name"]})
    perms = ctx.services.items("directus_permissions")
    found = perms.read_by_query({
        "fields": ["id", "fields", "permissions", "validation", "presets"], "limit": 1,
        "filter": {"_and": [{"policy": {"_eq": policy["id"]}},
                            {"collection": {"_eq": collection}},
                            {"action": {"_eq": action}}]}})
    row = found[0] if found else None
    errors: dict[str, str] = {}
    general: list[str] = []
    shown = _shown(row)
    if request.method == "POST":
        try:
            data = parse(ctx, collection, request.form)
            if row is None:
                perms.create_one({"policy": policy["id"], "collection": collection,
                                  "action": action, **data})
            else:
                perms.update_one(row["id"], data)
        except TransomError as exc:
            errors, general = errors_by_field(exc)
            shown = {"fields": request.form.getlist("fields"),
                     **{n: request.form.get(n, "") for n, _ in JSON_PARTS}}
        else:
            return redirect(f"/admin/policies/{key}?saved=1")
    return page("admin/permission_form.html", 400 if errors or general else 200,
                policy=policy, collection=collection, action=action, known=known,
                values=shown, errors=errors, general=general, exists=row is not None,
                parts=JSON_PARTS)
