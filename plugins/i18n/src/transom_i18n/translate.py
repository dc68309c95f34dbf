"""The pure part of ``?lang=``: find a collection's translations field, narrow a Query to some
languages, and fold the chosen translation into each item.

Nothing here touches Flask, so the same functions serve the request hooks and the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from transom.api import Query, SchemaSnapshot

#: What a language code may look like (``de-DE``, ``pt_BR``, ``zh-Hant-TW``); anything else is
#: refused before it reaches a filter.
LANG_RE = re.compile(r"^[A-Za-z0-9_-]{1,16}$")

#: The column Directus's translations scaffolding gives the junction's language key.
DEFAULT_LANG_FIELD = "languages_code"


@dataclass(frozen=True)
class TranslationsField:
    """Where a collection keeps its translations, as far as reading them goes."""

    field: str  # the alias on the parent (``translations``)
    junction: str  # ``<c>_translations``
    parent_fk: str | None  # the junction's column pointing at the parent (``<c>_id``)
    lang_field: str  # the junction's column holding the language code
    junction_pk: str | None

    @property
    def dropped(self) -> frozenset[str]:
        """Junction bookkeeping that would only confuse a flattened item."""
        return frozenset(n for n in (self.junction_pk, self.parent_fk, self.lang_field) if n)


def valid_lang(value: str) -> bool:
    return bool(LANG_RE.match(value))


def find_translations_field(schema: SchemaSnapshot, collection: str) -> TranslationsField | None:
    """The collection's translations alias, or None.

    An alias whose ``special`` says ``translations`` wins; otherwise any o2m/m2m alias whose
    junction has a language column will do, so hand-made schemas work too.
    """
    coll = schema.get(collection)
    if coll is None:
        return None
    fallback: TranslationsField | None = None
    for fld in coll.fields.values():
        if not fld.is_alias:
            continue
        info = schema.relation(collection, fld.field)
        if info is None or info.kind not in ("o2m", "m2m") or info.related is None:
            continue
        junction = schema.get(info.related)
        if junction is None:
            continue
        lang_field = DEFAULT_LANG_FIELD
        if info.kind == "m2m" and info.junction_field and DEFAULT_LANG_FIELD not in junction.fields:
            lang_field = info.junction_field
        if lang_field not in junction.fields:
            continue
        found = TranslationsField(fld.field, info.related, info.foreign_field, lang_field,
                                  junction.primary_key)
        if "translations" in fld.special:
            return found
        if fallback is None:
            fallback = found
    return fallback


def narrow_query(query: Query, tf: TranslationsField, codes: list[str]) -> Query:
    """A copy of ``query`` whose nested translations read only ``codes`` and are fetched
    whole enough to be merged (``translations.*`` where the caller asked for the field)."""
    lang_filter: dict[str, Any] = (
        {tf.lang_field: {"_eq": codes[0]}} if len(codes) == 1
        else {tf.lang_field: {"_in": list(codes)}}
    )
    deep = dict(query.deep or {})
    sub = deep.get(tf.field) or Query()
    merged = {"_and": [sub.filter, lang_filter]} if sub.filter else lang_filter
    deep[tf.field] = sub.copy(filter=merged)
    return query.copy(deep=deep, fields=_with_translation_fields(query.fields, tf))


def _with_translation_fields(fields: list[str] | None, tf: TranslationsField) -> list[str] | None:
    everything = f"{tf.field}.*"
    if fields is None:
        return ["*", everything]
    if "*" in fields or tf.field in fields:
        out = [f for f in fields if f != tf.field]
        return out if everything in out else [*out, everything]
    nested = [f for f in fields if f.startswith(tf.field + ".")]
    if nested and everything not in nested:
        code_path = f"{tf.field}.{tf.lang_field}"
        return fields if code_path in fields else [*fields, code_path]
    return fields


def with_translatable_paths(query: Query, tf: TranslationsField, names: list[str]) -> Query:
    """``query`` also reading the translated copies of the translatable ``names`` it asks
    for (``fields=title`` reads ``translations.title`` too, to fold it in)."""
    fields = query.fields
    if fields is None or "*" in fields:
        return query  # narrow_query already asked for translations.*
    wanted = [n for n in names if n in fields]
    extra = [f"{tf.field}.{n}" for n in wanted]
    if not extra:
        return query
    extra.append(f"{tf.field}.{tf.lang_field}")
    return query.copy(fields=[*fields, *(e for e in extra if e not in fields)])


def _code_of(row: dict[str, Any], lang_field: str) -> Any:
    value = row.get(lang_field)
    if isinstance(value, dict):  # ``translations.languages_code.*`` expanded the m2o
        return value.get("code")
    return value


def pick_translation(rows: list[dict[str, Any]], lang_field: str,
                     codes: list[str]) -> dict[str, Any] | None:
    """The row for the first of ``codes`` that has one (the requested language, then the
    fallback)."""
    if any(lang_field not in row for row in rows):
        # Without the code we can only trust the deep filter, which held one language.
        return rows[0] if rows and len(codes) == 1 else None
    for code in codes:
        for row in rows:
            if _code_of(row, lang_field) == code:
                return row
    return None


def flatten_item(item: Any, tf: TranslationsField, pk: str | None,
                 codes: list[str]) -> Any:
    """``item`` with its translations list replaced by the chosen translation's fields.

    Translated values win over the parent's, except the parent's primary key. An item whose
    translations are not rows (ids only) is left alone: there is nothing to merge.
    """
    if not isinstance(item, dict) or tf.field not in item:
        return item
    rows = item[tf.field]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        return item
    chosen = pick_translation(rows, tf.lang_field, codes)
    out = {k: v for k, v in item.items() if k != tf.field}
    if chosen is not None:
        for key, value in chosen.items():
            if key in tf.dropped or key == pk:
                continue
            out[key] = value
    return out


def flatten_body(body: Any, tf: TranslationsField, pk: str | None, codes: list[str],
                 lang: str) -> Any:
    """A whole ``{data, meta?}`` answer flattened; ``meta.lang`` only where meta was sent."""
    if not isinstance(body, dict) or "data" not in body:
        return body
    data = body["data"]
    if isinstance(data, list):
        data = [flatten_item(it, tf, pk, codes) for it in data]
    else:
        data = flatten_item(data, tf, pk, codes)
    out = {**body, "data": data}
    if isinstance(out.get("meta"), dict):
        out["meta"] = {**out["meta"], "lang": lang}
    return out
