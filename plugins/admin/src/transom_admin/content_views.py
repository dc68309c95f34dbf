"""Content: the item list of a collection and the item form, all through ItemsService."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from flask import redirect, request

from transom.api import ExtensionContext, ForbiddenError, InvalidQueryError, TransomError

from . import forms, relations, translations
from .common import bp, context, errors_by_field, page, signed_in

PAGE_SIZE = 25
STRING_TYPES = {"string", "text", "uuid", "csv", "hash"}


def _fields(ctx: ExtensionContext, collection: str) -> list[dict[str, Any]]:
    """The caller's readable fields (a 403 for a collection it may not read; system
    collections have their own pages)."""
    if collection.startswith("directus_"):
        raise ForbiddenError()
    ctx.services.items(collection).meta({"meta": ["total_count"]})  # the read check
    return ctx.services.fields().read_all(collection)


def _columns(fields: list[dict[str, Any]], pk: str) -> list[str]:
    """The chosen columns (``col``), else the first few; the key comes first when the caller
    may read it, since its cell links to the item (a policy may leave it out, then the rows
    are shown without links)."""
    stored = [f["field"] for f in fields if f.get("schema") is not None
              and (f["field"] == pk or not (f.get("meta") or {}).get("hidden"))]
    chosen = [c for c in request.args.getlist("col") if c in stored and c != pk]
    lead = [pk] if pk in stored else []
    return [*lead, *(chosen or [c for c in stored if c != pk][:4])]


def _may(ctx: ExtensionContext, collection: str, action: str) -> bool:
    """Whether the caller's policies allow ``action`` on ``collection`` at all (to leave out
    a button that could only end in a 403)."""
    fields = ctx.services.fields()
    return fields.admin or fields.permissions.access(collection, action).allowed


@bp.get("/admin/content")
@signed_in
def content_home() -> Any:
    return page("admin/content_home.html")


@bp.get("/admin/content/<collection>")
@signed_in
def item_list(collection: str) -> Any:
    ctx = context()
    fields = _fields(ctx, collection)
    coll = ctx.cms.schema.get(collection)
    assert coll is not None and coll.primary_key is not None  # readable means it exists
    names = {f["field"]: f for f in fields if f.get("schema") is not None}
    columns = _columns(fields, coll.primary_key)
    query: dict[str, Any] = {"fields": columns, "limit": PAGE_SIZE}
    search = request.args.get("q", "").strip()
    if search:
        query["search"] = search
    ff, fv = request.args.get("ff", ""), request.args.get("fv", "")
    if ff and fv:
        if ff not in names:
            raise InvalidQueryError(f'Unknown field "{ff}" in filter')
        op = "_contains" if names[ff]["type"] in STRING_TYPES else "_eq"
        query["filter"] = {ff: {op: fv}}
    sort = request.args.get("sort", "")
    if sort:
        if sort.lstrip("-") not in names:
            raise InvalidQueryError(f'Unknown field "{sort.lstrip("-")}" in sort')
        query["sort"] = [sort]
    try:
        number = max(1, int(request.args.get("page", "1")))
    except ValueError:
        raise InvalidQueryError('"page" must be a number') from None
    query["page"] = number
    items_svc = ctx.services.items(collection)
    rows = items_svc.read_by_query(query)
    total = items_svc.meta({**query, "meta": ["filter_count"]}).get("filter_count", len(rows))
    pages = max(1, math.ceil(total / PAGE_SIZE))

    def link(**changes: Any) -> str:
        args = {"q": search, "ff": ff, "fv": fv, "sort": sort, "page": number, **changes}
        pairs = [(k, v) for k, v in args.items() if v not in ("", None, 1)]
        pairs += [("col", c) for c in request.args.getlist("col") if c in names]
        return f"/admin/content/{collection}?{urlencode(pairs)}"

    return page("admin/item_list.html", collection=collection, columns=columns, rows=rows,
                pk=coll.primary_key, fields=sorted(names), search=search, ff=ff, fv=fv,
                sort=sort, number=number, pages=pages, total=total, link=link,
                chosen=set(columns), linked=coll.primary_key in names,
                can_create=_may(ctx, collection, "create"))


def _form(ctx: ExtensionContext, collection: str, key: str | None, *, submit: bool = True,
          panel_errors: dict[str, str] | None = None) -> Any:
    """The item page; ``submit`` False shows it without handling the POST (a panel's own
    form failed and its message goes to ``panel_errors``)."""
    fields = _fields(ctx, collection)
    ws = forms.widgets(ctx, collection, fields)
    items = ctx.services.items(collection)
    values: dict[str, Any] = items.read_one(key) if key is not None else {}
    errors: dict[str, str] = {}
    general: list[str] = []
    posted = submit and request.method == "POST"
    if posted:
        try:
            data = forms.parse(ws, request.form, creating=key is None)
            with ctx.transaction() as tx:  # a new related item and the item, or neither
                forms.create_related(tx, ws, request.form, data)
                if key is None:
                    key = tx.services.items(collection).create_one(data)
                else:
                    tx.services.items(collection).update_one(key, data)
        except TransomError as exc:
            errors, general = errors_by_field(exc)
        else:
            return redirect(f"/admin/content/{collection}?saved={key}")
    if errors or general:  # show what was typed, next to the messages
        shown = {w.name: (request.form.get(w.name) == "on") if w.interface == "toggle"
                 else request.form.get(w.name, "") for w in ws}
        shown.update({f"{w.name}__new": request.form.get(f"{w.name}__new", "")
                      for w in ws if w.new_label})
    else:
        shown = {w.name: forms.display(w, values.get(w.name)) for w in ws}
    status = 400 if errors or general or panel_errors else 200
    panels = relations.panels(ctx, collection, key, fields) if key is not None else []
    tabs = translations.tabs(ctx, collection, key, fields, request.args.get("lang")) \
        if key is not None else None
    return page("admin/item_form.html", status, collection=collection, key=key, widgets=ws,
                values=shown, errors=errors, general=general, panels=panels, tabs=tabs,
                panel_errors=panel_errors or {})


@bp.post("/admin/content/<collection>/<key>/translations/<code>")
@signed_in
def item_translation(collection: str, key: str, code: str) -> Any:
    """Save one language's translation of an item."""
    ctx = context()
    translations.save(ctx, collection, key, _fields(ctx, collection), code, request.form)
    return redirect(f"/admin/content/{collection}/{key}?" + urlencode({"lang": code}))


@bp.route("/admin/content/<collection>/+", methods=["GET", "POST"])
@signed_in
def item_create(collection: str) -> Any:
    return _form(context(), collection, None)


@bp.route("/admin/content/<collection>/<key>", methods=["GET", "POST"])
@signed_in
def item_edit(collection: str, key: str) -> Any:
    return _form(context(), collection, key)


@bp.post("/admin/content/<collection>/<key>/links/<name>")
@signed_in
def item_link(collection: str, key: str, name: str) -> Any:
    """Add (``add`` = far key) or remove (``remove`` = junction row) an m2m link."""
    ctx = context()
    if request.form.get("add"):
        relations.link(ctx, collection, key, name, request.form["add"])
    elif request.form.get("remove"):
        relations.unlink(ctx, collection, key, name, request.form["remove"])
    else:
        raise InvalidQueryError('Send "add" or "remove".')
    return redirect(f"/admin/content/{collection}/{key}#rel-{name}")


@bp.post("/admin/content/<collection>/<key>/order/<name>")
@signed_in
def item_order(collection: str, key: str, name: str) -> Any:
    """Move one related item of a sortable o2m up or down (``row``, ``move``)."""
    ctx = context()
    relations.move(ctx, collection, key, name, request.form.get("row", ""),
                   request.form.get("move", ""))
    row = request.form.get("row", "")
    return redirect(f"/admin/content/{collection}/{key}#move-{name}-{row}")


@bp.post("/admin/content/<collection>/<key>/related/<name>")
@signed_in
def item_related_create(collection: str, key: str, name: str) -> Any:
    """Create an item of an o2m's related collection, already linked to this item."""
    ctx = context()
    try:
        relations.create_linked(ctx, collection, key, name, request.form.get("label", ""))
    except TransomError as exc:
        if getattr(exc, "status", 500) != 400:
            raise
        message = "; ".join(e.message for e in getattr(exc, "errors", None) or [exc])
        return _form(ctx, collection, key, submit=False, panel_errors={name: message})
    return redirect(f"/admin/content/{collection}/{key}#rel-{name}")


@bp.post("/admin/content/<collection>/<key>/delete")
@signed_in
def item_delete(collection: str, key: str) -> Any:
    context().services.items(collection).delete_one(key)
    return redirect(f"/admin/content/{collection}?deleted={key}")
