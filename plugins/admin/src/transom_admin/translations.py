"""A language tab per translation, for collections with a ``translations`` field.

The translations of an item are the rows of its ``<c>_translations`` junction (one per
language, as plugins/i18n and Directus store them). A tab shows one language's row; saving
creates or updates that row through the items service as the caller, so the junction's
permissions and validation apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transom.api import ExtensionContext, InvalidPayloadError, TransomError


@dataclass
class Translations:
    """The tabs of one item: the languages, the chosen one and its values."""

    field: str
    languages: list[tuple[str, str]]
    current: str | None
    columns: list[str]
    values: dict[str, Any] = field(default_factory=dict)
    row: Any = None


def relation(ctx: ExtensionContext, collection: str,
             fields: list[dict[str, Any]]) -> Any:
    """The ``translations`` relation of ``collection`` (None when it has none)."""
    for f in fields:
        if "translations" in ((f.get("meta") or {}).get("special") or ()):
            rel = ctx.cms.schema.relation(collection, f["field"])
            if rel is not None and rel.kind == "m2m" and rel.far_collection:
                return rel
    return None


def _columns(ctx: ExtensionContext, rel: Any) -> list[str]:
    junction = ctx.cms.schema.get(rel.related)
    skip = {junction.primary_key, rel.foreign_field, rel.junction_field}
    return [n for n, f in junction.fields.items() if n not in skip and not f.is_alias]


def tabs(ctx: ExtensionContext, collection: str, key: Any, fields: list[dict[str, Any]],
         chosen: str | None) -> Translations | None:
    """The item's translation tabs the caller may read (None without translations)."""
    rel = relation(ctx, collection, fields)
    if rel is None:
        return None
    try:
        langs = ctx.services.items(rel.far_collection).read_by_query(
            {"sort": ["code"], "limit": -1})
        rows = ctx.services.items(rel.related).read_by_query(
            {"limit": -1, "filter": {rel.foreign_field: {"_eq": key}}})
    except TransomError:
        return None
    pk = ctx.cms.schema.get(rel.far_collection).primary_key
    languages = [(str(r[pk]), str(r.get("name") or r[pk])) for r in langs]
    codes = [c for c, _ in languages]
    current = chosen if chosen in codes else (codes[0] if codes else None)
    out = Translations(rel.field, languages, current, _columns(ctx, rel))
    for r in rows:
        if str(r.get(rel.junction_field)) == current:
            out.values = {c: r.get(c) for c in out.columns}
            out.row = r[ctx.cms.schema.get(rel.related).primary_key]
    return out


def save(ctx: ExtensionContext, collection: str, key: Any, fields: list[dict[str, Any]],
         code: str, form: Any) -> None:
    """Create or update the ``code`` translation of item ``key`` from the form."""
    rel = relation(ctx, collection, fields)
    if rel is None:
        raise InvalidPayloadError(f'"{collection}" has no translations')
    ctx.services.items(rel.far_collection).read_one(code)  # a known language
    own_pk = ctx.cms.schema.get(collection).primary_key
    own = ctx.services.items(collection).read_one(key, {"fields": [own_pk]})[own_pk]
    data = {c: (form.get(c) or None) for c in _columns(ctx, rel) if c in form}
    junction = ctx.services.items(rel.related)
    jpk = ctx.cms.schema.get(rel.related).primary_key
    found = junction.read_by_query({"fields": [jpk], "limit": 1, "filter": {"_and": [
        {rel.foreign_field: {"_eq": own}}, {rel.junction_field: {"_eq": code}}]}})
    if found:
        junction.update_one(found[0][jpk], data)
    else:
        junction.create_one({**data, rel.foreign_field: own, rel.junction_field: code})
