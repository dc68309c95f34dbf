"""Data model: list collections, create one with fields and m2o relations, hide one.

Schema writes go through CollectionsService and RelationsService, which allow admins only;
everybody else gets their 403.
"""

from __future__ import annotations

import re
from typing import Any

from flask import redirect, request

from transom.api import (
    ErrorGroup,
    ExtensionContext,
    FailedValidationError,
    ForbiddenError,
    TransomError,
)

from .common import bp, context, errors_by_field, page, signed_in

FIELD_ROWS = 5
TYPES = ["string", "text", "integer", "bigInteger", "float", "decimal", "boolean",
         "dateTime", "date", "json", "csv", "uuid", "m2o"]
NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _require_admin(ctx: ExtensionContext) -> None:
    if not (ctx.accountability and ctx.accountability.admin):
        raise ForbiddenError()


def _tables(ctx: ExtensionContext) -> list[str]:
    return sorted(n for n, c in ctx.cms.schema.collections.items()
                  if not c.is_system and not c.is_folder)


@bp.get("/admin/settings/data-model")
@signed_in
def model_list() -> Any:
    ctx = context()
    _require_admin(ctx)
    rows = [{"collection": n, "hidden": bool((ctx.cms.schema.collections[n].meta or {})
                                              .get("hidden")),
             "fields": len(ctx.cms.schema.collections[n].fields)} for n in _tables(ctx)]
    return page("admin/model_list.html", rows=rows)


def _default(kind: str, text: str) -> Any:
    if kind in ("integer", "bigInteger"):
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ValueError
        return text.lower() == "true"
    return text


def _field_payloads(ctx: ExtensionContext, form: Any) -> tuple[list[dict[str, Any]],
                                                               list[tuple[str, str]]]:
    """Fields and m2o relations from the form rows; every mistake as a field error."""
    fields: list[dict[str, Any]] = []
    relations: list[tuple[str, str]] = []
    problems: list[TransomError] = []
    seen = {"id"}
    for i in range(FIELD_ROWS):
        name = form.get(f"f{i}_name", "").strip()
        if not name:
            continue
        kind = form.get(f"f{i}_type", "string")
        if not NAME.match(name) or name in seen:
            problems.append(FailedValidationError(
                f"f{i}_name", "name", "Use lower-case letters, digits and _ (unique)."))
            continue
        seen.add(name)
        if kind not in TYPES:
            problems.append(FailedValidationError(f"f{i}_type", "type", "Unknown type."))
            continue
        meta: dict[str, Any] = {"required": form.get(f"f{i}_required") == "on",
                                "hidden": form.get(f"f{i}_hidden") == "on",
                                "note": form.get(f"f{i}_note", "").strip() or None}
        schema: dict[str, Any] = {"is_unique": form.get(f"f{i}_unique") == "on"}
        if kind == "m2o":
            related = form.get(f"f{i}_related", "")
            coll = ctx.cms.schema.get(related)
            if coll is None or coll.is_system or coll.primary_key is None:
                problems.append(FailedValidationError(
                    f"f{i}_related", "related", "Choose the related collection."))
                continue
            kind = coll.pk_field.type
            meta.update(interface="select-dropdown-m2o", special=["m2o"])
            relations.append((name, related))
        elif kind == "csv":
            meta.update(interface="tags", special=["cast-csv"])
        elif kind == "json":
            meta.update(special=["cast-json"])
        elif kind == "boolean":
            meta.update(special=["cast-boolean"])
        default = form.get(f"f{i}_default", "").strip()
        if default:
            try:
                schema["default_value"] = _default(kind, default)
            except ValueError:
                problems.append(FailedValidationError(
                    f"f{i}_default", "default", f"Not a valid {kind} value."))
                continue
        fields.append({"field": name, "type": kind, "meta": meta, "schema": schema})
    if problems:
        raise ErrorGroup(problems)
    return fields, relations


@bp.route("/admin/settings/data-model/+", methods=["GET", "POST"])
@signed_in
def model_create() -> Any:
    ctx = context()
    _require_admin(ctx)
    errors: dict[str, str] = {}
    general: list[str] = []
    if request.method == "POST":
        name = request.form.get("collection", "").strip()
        try:
            if not NAME.match(name):
                raise FailedValidationError("collection", "name",
                                            "Use lower-case letters, digits and _.")
            fields, relations = _field_payloads(ctx, request.form)
            _create(ctx, name, fields, relations, request.form.get("hidden") == "on")
        except TransomError as exc:
            errors, general = errors_by_field(exc)
        else:
            return redirect(f"/admin/settings/data-model/{name}?created=1")
    return page("admin/model_create.html", 400 if errors or general else 200,
                rows=range(FIELD_ROWS), types=TYPES, tables=_tables(ctx), form=request.form,
                errors=errors, general=general)


def _create(ctx: ExtensionContext, name: str, fields: list[dict[str, Any]],
            relations: list[tuple[str, str]], hidden: bool) -> None:
    """The table, then its relations; a relation that fails takes the table back out."""
    svc = ctx.services
    svc.collections().create_one({
        "collection": name, "schema": {}, "meta": {"hidden": hidden},
        "fields": [{"field": "id", "type": "integer",
                    "schema": {"is_primary_key": True, "has_auto_increment": True},
                    "meta": {"hidden": True, "readonly": True}}, *fields]})
    try:
        for field_name, related in relations:
            svc.relations().create_one({"collection": name, "field": field_name,
                                        "related_collection": related,
                                        "schema": {"on_delete": "SET NULL"}})
    except TransomError:
        svc.collections().delete_one(name)
        raise


@bp.route("/admin/settings/data-model/<collection>", methods=["GET", "POST"])
@signed_in
def model_detail(collection: str) -> Any:
    ctx = context()
    _require_admin(ctx)
    info = ctx.services.collections().read_one(collection)
    if request.method == "POST":
        ctx.services.collections().update_one(
            collection, {"meta": {"hidden": request.form.get("hidden") == "on"}})
        return redirect(f"/admin/settings/data-model/{collection}?saved=1")
    fields = ctx.services.fields().read_all(collection)
    relations = {r["field"]: r["related_collection"]
                 for r in ctx.services.relations().read_all(collection)
                 if r.get("collection") == collection}
    return page("admin/model_detail.html", collection=collection, meta=info.get("meta") or {},
                fields=fields, relations=relations)
