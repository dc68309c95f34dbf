"""Writes of translatable fields: split one item payload into the parent's columns and the
write language's junction row.

Runs as the ``items.create`` / ``items.update`` filter, so the junction row is written by
the same mutation as a nested ``translations`` change (same transaction, same permission
checks on ``<c>_translations``).

* In the default language (or with no language): the parent's columns *and* the default
  row, which mirrors them.
* In another language, on update: only that language's row; the parent keeps its values.
* In another language, on create: that language's row, and the parent's columns too (the
  only values the new item has; they are what a read in a language without a row shows).
"""

from __future__ import annotations

from typing import Any

from transom.api import ItemsService

from .schema import ALIAS, LANG_FIELD, LANGUAGES, junction_name, parent_fk, translatable_fields


def split_payload(cms: Any, collection: str, payload: dict[str, Any], lang: str,
                  default: str, key: Any, context: Any) -> dict[str, Any]:
    """The payload to write in place of ``payload`` (see the module docstring)."""
    fields = [f for f in translatable_fields(context.schema, collection) if f in payload]
    if not fields:
        return payload
    if ALIAS in payload:
        return payload  # the client manages the rows itself, as Directus front ends do
    ensure_language(cms, lang, context)
    values = {f: payload[f] for f in fields}
    out = dict(payload)
    if key is not None and lang != default:
        for f in fields:
            out.pop(f)
    row_id = None
    if key is not None:
        rows = ItemsService(cms, junction_name(collection), context.accountability,
                            connection=context.connection, emit_events=False)
        found = rows.read_by_query({
            "filter": {"_and": [{parent_fk(collection): {"_eq": key}},
                                {LANG_FIELD: {"_eq": lang}}]},
            "fields": ["id"], "limit": 1})
        row_id = found[0]["id"] if found else None
    if row_id is None:
        out[ALIAS] = {"create": [{LANG_FIELD: lang, **values}]}
    else:
        out[ALIAS] = {"update": [{"id": row_id, **values}]}
    return out


def ensure_language(cms: Any, lang: str, context: Any) -> None:
    """A first write in a language adds it to ``languages`` (with the caller's rights)."""
    languages = ItemsService(cms, LANGUAGES, context.accountability,
                             connection=context.connection, emit_events=False)
    if not languages.read_by_query({"filter": {"code": {"_eq": lang}}, "fields": ["code"],
                                    "limit": 1}):
        row: dict[str, Any] = {"code": lang}
        if "name" in context.schema.get(LANGUAGES).fields:
            row["name"] = lang
        languages.create_one(row)
