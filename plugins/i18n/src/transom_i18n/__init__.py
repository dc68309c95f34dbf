"""``?lang=<code>`` for item reads: one language's translation folded into each item.

Directus has no such parameter (clients deep-filter ``translations`` and merge by hand); this
is an opt-in layer over the compatible API. Without the parameter nothing changes. Two hooks
share the work: an ``items.query`` filter narrows the nested translations read to the
language (and its fallback) inside the same SQL, and an ``after_request`` hook flattens the
JSON answer. See README.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from flask import Response, g, has_request_context, request

from transom.api import Filter, InvalidQueryError, Query, Setting, dumps, hookimpl

from .translate import (
    TranslationsField,
    find_translations_field,
    flatten_body,
    narrow_query,
    valid_lang,
)

__all__ = ["TranslationsField", "find_translations_field", "flatten_body", "narrow_query"]

SETTINGS = (
    Setting("I18N_PARAM", "lang", "str", "Query parameter that selects a content language."),
    Setting("I18N_FALLBACK_LANG", "", "str",
            "Language used for items that have no translation in the requested one."),
)

#: Item read routes the parameter applies to (endpoint names of the core items blueprint).
_ENDPOINTS = {
    "transom_items.list_items": ("GET", "SEARCH"),
    "transom_items.read_item": ("GET",),
}
_G_KEY = "transom_i18n"


@dataclass(frozen=True)
class LangRequest:
    """The language a read asked for, and the codes to fetch, best first."""

    collection: str
    lang: str
    codes: list[str]


@hookimpl
def register_settings() -> Any:
    return list(SETTINGS)


def _lang_request(cms: Any, *, strict: bool) -> LangRequest | None:
    """This request's ``LangRequest`` when it is an item read carrying the parameter.

    ``strict`` raises on a malformed code (before the view runs); the response hook passes
    False and simply does nothing, since the 400 has already been answered.
    """
    param = str(cms.config.get("I18N_PARAM") or "lang")
    if param.encode() not in request.query_string:
        return None  # the common case, decided without parsing anything
    methods = _ENDPOINTS.get(request.endpoint or "")
    if methods is None or request.method not in methods:
        return None
    lang = request.args.get(param)
    if lang is None:
        return None
    if not valid_lang(lang):
        if strict:
            raise InvalidQueryError(f'"{param}" must be 1 to 16 letters, digits, "-" or "_"')
        return None
    collection = (request.view_args or {}).get("collection")
    if not collection:
        return None
    fallback = str(cms.config.get("I18N_FALLBACK_LANG") or "")
    codes = [lang] if not fallback or fallback == lang else [lang, fallback]
    return LangRequest(collection, lang, codes)


def _narrow(payload: Any, meta: dict[str, Any], context: Any) -> Any:
    """``items.query`` filter: limit the nested translations to the request's languages."""
    if not has_request_context() or not isinstance(payload, Query):
        return payload
    wanted: LangRequest | None = g.get(_G_KEY)
    if wanted is None or meta.get("collection") != wanted.collection:
        return payload
    tf = find_translations_field(context.schema, wanted.collection)
    if tf is None:
        return payload
    return narrow_query(payload, tf, wanted.codes)


@hookimpl
def register_filters(cms: Any) -> Any:
    return [Filter("items.query", _narrow)]


@hookimpl
def init_app(cms: Any, app: Any) -> None:
    @app.before_request
    def _i18n_validate() -> None:
        wanted = _lang_request(cms, strict=True)
        if wanted is not None:
            setattr(g, _G_KEY, wanted)

    @app.after_request
    def _i18n_flatten(resp: Response) -> Response:
        # Worked out again rather than read from ``g``: a cache hit answered from an earlier
        # ``before_request`` skips ours, and its body may still need flattening.
        if resp.status_code != 200 or not resp.is_json or resp.direct_passthrough:
            return resp
        wanted = _lang_request(cms, strict=False)
        if wanted is None:
            return resp
        schema = cms.schema
        tf = find_translations_field(schema, wanted.collection)
        coll = schema.get(wanted.collection)
        if tf is None or coll is None:
            return resp
        try:
            body = orjson.loads(resp.get_data())
        except orjson.JSONDecodeError:
            return resp
        resp.set_data(dumps(flatten_body(body, tf, coll.primary_key, wanted.codes,
                                         wanted.lang)))
        return resp
