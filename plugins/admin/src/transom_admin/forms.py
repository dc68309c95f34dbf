"""Item forms: which interface edits a field, and form text back to API values.

The interface comes from the field's ``meta.interface`` when it names one we render, else
from its type. Values are converted here only as far as HTML forms need (checkbox, numbers,
JSON, tags); the items service still validates everything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, request

from transom.api import ErrorGroup, ExtensionContext, FailedValidationError, TransomError

from . import richtext

FILES = "directus_files"
NUMBER_TYPES = {"integer", "bigInteger", "float", "decimal"}
SKIPPED_SPECIALS = {"user-created", "user-updated", "date-created", "date-updated", "o2m",
                    "m2m", "m2a", "alias", "no-data", "group", "translations", "files"}


@dataclass
class Widget:
    """One form control: the field, how it is edited and what it offers."""

    name: str
    type: str
    interface: str
    label: str
    required: bool = False
    note: str | None = None
    readonly: bool = False
    choices: list[tuple[str, str]] = field(default_factory=list)
    step: str = "1"
    #: m2o: the related collection and the field naming its items, when the caller may
    #: create one from this form (typed into ``<name>__new``)
    related: str | None = None
    new_label: str | None = None


def _interface(f: dict[str, Any], related: str | None) -> str:
    meta = f.get("meta") or {}
    chosen = meta.get("interface") or ""
    options = meta.get("options") or {}
    kind = f["type"]
    if related:
        return "m2o"
    if options.get("choices"):
        return "select"
    if kind == "boolean":
        return "toggle"
    if kind in NUMBER_TYPES:
        return "number"
    if kind in ("dateTime", "timestamp"):
        return "datetime"
    if kind in ("date", "time"):
        return kind
    if kind == "csv" or chosen == "tags" or "cast-csv" in (meta.get("special") or ()):
        return "tags"
    if kind == "json":
        return "json"
    if chosen == "input-rich-text-md":
        return "markdown"
    if chosen == "input-rich-text-html":
        return "wysiwyg"
    if kind == "text" or chosen in ("input-multiline", "input-code"):
        return "textarea"
    return "input"


def widgets(ctx: ExtensionContext, collection: str,
            fields: list[dict[str, Any]]) -> list[Widget]:
    """The editable fields of ``collection`` (the caller's readable ones, in sort order)."""
    out = []
    schema = ctx.cms.schema
    for f in sorted(fields, key=lambda f: ((f.get("meta") or {}).get("sort") or 999, f["field"])):
        meta = f.get("meta") or {}
        col = f.get("schema")
        special = set(meta.get("special") or ())
        if meta.get("hidden") or special & SKIPPED_SPECIALS or col is None:
            continue
        if col.get("is_primary_key") and col.get("has_auto_increment"):
            continue
        rel = schema.relation(collection, f["field"])
        related = rel.related if rel is not None and rel.kind == "m2o" else None
        w = Widget(name=f["field"], type=f["type"], interface=_interface(f, related),
                   label=f["field"].replace("_", " ").capitalize(),
                   required=bool(meta.get("required")) or (col.get("is_nullable") is False
                                                           and col.get("default_value") is None
                                                           and not col.get("is_primary_key")),
                   note=meta.get("note"), readonly=bool(meta.get("readonly")),
                   step="any" if f["type"] in ("float", "decimal") else "1")
        if w.interface == "select":
            for choice in (meta.get("options") or {}).get("choices") or []:
                if isinstance(choice, dict):
                    w.choices.append((str(choice.get("value")),
                                      str(choice.get("text", choice.get("value")))))
                else:
                    w.choices.append((str(choice), str(choice)))
        elif related:
            if related == FILES and uploads_enabled():
                w.interface = "image" if (meta.get("interface") or "") == "file-image" \
                    else "file"
            w.choices = _related_choices(ctx, related)
            if w.choices is None:
                w.interface = "input"
                w.choices = []
            elif w.interface == "m2o":
                w.related = related
                w.new_label = _creatable_label(ctx, related)
        out.append(w)
    return out


def _creatable_label(ctx: ExtensionContext, related: str) -> str | None:
    """The field to type a new related item's name into, when the caller may create items
    of ``related`` and the collection has such a field (else no inline creation)."""
    coll = ctx.cms.schema.get(related)
    label = next((n for n in ("title", "name", "label") if n in coll.fields), None)
    if label is None:
        return None
    fields = ctx.services.fields()
    if fields.admin:
        return label
    access = fields.permissions.access(related, "create")
    return label if access.allowed and access.field_allowed(label) else None


def create_related(ctx: ExtensionContext, ws: list[Widget], form: Any,
                   data: dict[str, Any]) -> None:
    """For each m2o whose list was left empty and whose "create new" box was filled, create
    the related item (as the caller, in the caller's transaction) and point at it."""
    problems: list[TransomError] = []
    for w in ws:
        text = (form.get(f"{w.name}__new") or "").strip()
        if not text or w.related is None or w.new_label is None or data.get(w.name):
            continue
        try:
            data[w.name] = ctx.services.items(w.related).create_one({w.new_label: text})
        except TransomError as exc:
            problems.append(FailedValidationError(
                f"{w.name}__new", "create", f"Could not create the {w.related} item: "
                + "; ".join(e.message for e in getattr(exc, "errors", None) or [exc])))
    if problems:
        raise ErrorGroup(problems)


def uploads_enabled() -> bool:
    """Whether a files plugin answers ``POST /files`` (the upload interface needs it)."""
    urls = current_app.url_map.bind_to_environ(request.environ)
    return bool(urls.test("/files", method="POST"))


def _related_choices(ctx: ExtensionContext, related: str) -> Any:
    """The related items the caller may read (key, label), or None when it may not."""
    coll = ctx.cms.schema.get(related)
    if coll is None or coll.primary_key is None:
        return None
    label = next((n for n in ("title", "name", "label", "email")
                  if n in coll.fields), coll.primary_key)
    try:
        rows = ctx.services.items(related).read_by_query(
            {"fields": list(dict.fromkeys([coll.primary_key, label])), "limit": 200,
             "sort": [coll.primary_key]})
    except TransomError:
        return None
    return [(str(r[coll.primary_key]), f"{r.get(label)}") for r in rows]


def display(w: Widget, value: Any) -> Any:
    """The text an input shows for an API value."""
    if value is None:
        return ""
    if w.interface == "json":
        return json.dumps(value, indent=2)
    if w.interface == "tags":
        return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    if w.interface == "datetime":
        return str(value).replace(" ", "T").rstrip("Z")[:19]
    return value


def parse(ws: list[Widget], form: Any, creating: bool) -> dict[str, Any]:
    """The API payload for a submitted form; bad text raises per-field validation errors."""
    data: dict[str, Any] = {}
    problems: list[TransomError] = []
    for w in ws:
        if w.readonly:
            continue
        if w.interface == "toggle":
            data[w.name] = form.get(w.name) == "on"
            continue
        raw = form.get(w.name)
        if raw is None:
            continue
        text = raw.strip()
        if text == "":
            if creating and not w.required:
                continue
            data[w.name] = None
            continue
        try:
            data[w.name] = _convert(w, text)
        except ValueError as exc:
            problems.append(FailedValidationError(w.name, "type", str(exc)))
    if problems:
        raise ErrorGroup(problems)
    return data


def _convert(w: Widget, text: str) -> Any:
    if w.interface == "number":
        try:
            return int(text) if w.type in ("integer", "bigInteger") else float(text) \
                if w.type == "float" else text
        except ValueError:
            raise ValueError("Enter a number.") from None
    if w.interface == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ValueError("Enter valid JSON.") from None
    if w.interface == "tags":
        return [t.strip() for t in text.split(",") if t.strip()]
    if w.interface == "wysiwyg":
        return richtext.clean_html(text)
    if w.interface in ("m2o", "file", "image") and w.type in ("integer", "bigInteger"):
        try:
            return int(text)
        except ValueError:
            raise ValueError("Choose an item from the list.") from None
    return text
