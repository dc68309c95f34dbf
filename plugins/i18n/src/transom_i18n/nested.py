"""Translations of related items: ``fields=*,author.*`` with ``Accept-Language: es`` folds
the author's translation too, for m2o, o2m and m2m paths, as deep as the query goes.

The items service runs the ``items.query``/``items.read`` filters for the collection read
only, so the nested levels are handled here: :func:`narrow_nested` asks each related level
for its translations (one language, through ``deep``) and :func:`fold_nested` merges them
into the related items. Pure functions over the schema snapshot and plain data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from transom.api import Query, SchemaSnapshot

from .translate import (
    TranslationsField,
    find_translations_field,
    flatten_item,
    narrow_query,
    pick_translation,
    with_translatable_paths,
)

#: relation kinds whose related side is one collection (m2a/a2o are left as they are)
_FOLLOWED = ("m2o", "o2m", "m2m")

#: ``level(collection) -> TranslationsField | None``: whether a level is folded
Level = Callable[[str], "TranslationsField | None"]


def _related(schema: SchemaSnapshot, collection: str, name: str) -> str | None:
    info = schema.relation(collection, name)
    if info is None or info.kind not in _FOLLOWED:
        return None
    return info.related


def _relational_heads(schema: SchemaSnapshot, collection: str,
                      fields: list[str]) -> dict[str, list[str]]:
    """``{relational field: the paths below it}`` for the dotted paths of ``fields``."""
    heads: dict[str, list[str]] = {}
    for path in fields:
        head, dot, rest = path.partition(".")
        if dot and rest and _related(schema, collection, head):
            heads.setdefault(head, []).append(rest)
    return heads


def narrow_nested(schema: SchemaSnapshot, collection: str, query: Query, level: Level,
                  names: Callable[[str], list[str]], codes: list[str],
                  depth: int = 0) -> Query:
    """``query`` whose related levels read their translations in ``codes`` as well.

    The top level itself is left to the caller (it may not be translated at all).
    """
    if depth > 10 or not query.fields:
        return query
    heads = _relational_heads(schema, collection, query.fields)
    if not heads:
        return query
    fields = list(query.fields)
    deep = dict(query.deep or {})
    for head, paths in heads.items():
        related = _related(schema, collection, head)
        assert related is not None
        sub_deep = deep.get(head) or Query()
        sub = sub_deep.copy(fields=paths)
        sub = narrow_nested(schema, related, sub, level, names, codes, depth + 1)
        tf = level(related)
        if tf is not None:
            sub = narrow_query(sub, tf, codes)
            own = names(related)
            if own:
                sub = with_translatable_paths(sub, tf, own)
        added = [f"{head}.{p}" for p in sub.fields or [] if f"{head}.{p}" not in fields]
        fields.extend(added)
        deep[head] = sub.copy(fields=sub_deep.fields)
    return query.copy(fields=fields, deep=deep)


def fold_nested(schema: SchemaSnapshot, collection: str, item: Any, level: Level,
                codes: list[str], served: list[str], depth: int = 0) -> Any:
    """``item`` with the translations of its related items (already read) folded in."""
    if depth > 10 or not isinstance(item, dict):
        return item
    out = dict(item)
    for name, value in item.items():
        related = _related(schema, collection, name)
        if related is None or not isinstance(value, (dict, list)):
            continue
        if isinstance(value, list):
            out[name] = [_fold_one(schema, related, v, level, codes, served, depth)
                         for v in value]
        else:
            out[name] = _fold_one(schema, related, value, level, codes, served, depth)
    return out


def _fold_one(schema: SchemaSnapshot, collection: str, value: Any, level: Level,
              codes: list[str], served: list[str], depth: int) -> Any:
    if not isinstance(value, dict):
        return value
    value = fold_nested(schema, collection, value, level, codes, served, depth + 1)
    tf = level(collection)
    if tf is None:
        return value
    rows = value.get(tf.field)
    if isinstance(rows, list) and all(isinstance(r, dict) for r in rows):
        chosen = pick_translation(rows, tf.lang_field, codes)
        if chosen is not None:
            code = chosen.get(tf.lang_field)
            served.append(code.get("code") if isinstance(code, dict) else code)
    coll = schema.get(collection)
    return flatten_item(value, tf, coll.primary_key if coll is not None else None, codes)


__all__ = ["find_translations_field", "fold_nested", "narrow_nested"]
