"""Content languages for item reads and writes.

* ``?lang=<code>`` on item reads folds one language's translation into each item (any
  collection with a Directus-style ``translations`` alias).
* ``translatable: true`` on a field builds the ``<c>_translations`` / ``languages`` storage
  (:mod:`.schema`); writes with ``Content-Language`` (or ``?lang=``) then go to that
  language's row (:mod:`.writes`), and reads with ``Accept-Language`` are served in the best
  language available, in REST, exports and GraphQL.

Without a language parameter or header every answer is what Directus sends. See README.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from flask import Response, g, has_request_context, request

from transom.api import (
    FieldsService,
    Filter,
    InvalidPayloadError,
    InvalidQueryError,
    Query,
    Setting,
    TransomError,
    dumps,
    get_accountability,
    hookimpl,
    render_error,
)

from . import default as default_language
from . import schema as i18n_schema
from .negotiate import parse_accept_language, with_fallbacks
from .nested import fold_nested, narrow_nested
from .translate import (
    TranslationsField,
    find_translations_field,
    flatten_body,
    flatten_item,
    narrow_query,
    pick_translation,
    valid_lang,
    with_translatable_paths,
)
from .writes import split_payload

__all__ = ["TranslationsField", "find_translations_field", "flatten_body", "narrow_query"]

SETTINGS = (
    Setting("I18N_PARAM", "lang", "str", "Query parameter that selects a content language."),
    Setting("I18N_FALLBACK_LANG", "", "str",
            "Language used for items that have no translation in the requested one."),
    Setting("I18N_DEFAULT_LANG", "", "str",
            "Language of the parent columns of translatable fields when the project setting "
            "default_language is empty (then the first stored language, then en-US)."),
)

#: Item read routes (endpoint names of the core items blueprint, and GraphQL's).
_READS = {
    "transom_items.list_items": ("GET", "SEARCH"),
    "transom_items.read_item": ("GET",),
    "transom_graphql.graphql_items": ("GET", "POST"),
}
_WRITES = {
    "transom_items.create_items": ("POST",),
    "transom_items.update_items": ("PATCH",),
    "transom_items.update_item": ("PATCH",),
}
_ITEM_ENDPOINTS = frozenset((*_READS, *_WRITES))
_SCHEMA_PREFIX = "transom_schema."
_G_KEY = "transom_i18n"
_G_WRITE = "transom_i18n_write"
_G_SCHEMA = "transom_i18n_schema"
_G_OWN = "transom_i18n_own"
#: set once ``before_request`` has worked out the request's language (None included)
_G_CHECKED = "transom_i18n_checked"


@dataclass
class LangRequest:
    """The languages a read asked for, best first, and what was served."""

    collection: str | None  # None: every collection the request reads (GraphQL)
    lang: str
    codes: list[str]
    source: str  # "param" or "header"
    served: list[str] = field(default_factory=list)

    def applies(self, schema: Any, collection: str) -> bool:
        if self.collection is not None and self.collection != collection:
            return False
        return self.applies_nested(schema, collection)

    def applies_nested(self, schema: Any, collection: str) -> bool:
        """``applies`` for a collection read through a relation of the one asked for."""
        # a browser's Accept-Language must not reshape collections that never opted in
        return self.source == "param" or bool(i18n_schema.translatable_fields(schema,
                                                                              collection))


@hookimpl
def register_settings() -> Any:
    return list(SETTINGS)


def default_lang(cms: Any) -> str:
    """The default content language (``directus_settings.default_language`` first)."""
    return default_language.install(cms).get()


def _param(cms: Any) -> str:
    return str(cms.config.get("I18N_PARAM") or "lang")


def _checked(value: str, what: str) -> str:
    value = value.strip()
    if not valid_lang(value):
        raise InvalidQueryError(f'"{what}" must be 1 to 16 letters, digits, "-" or "_"')
    return value


def _lang_request(cms: Any, *, strict: bool) -> LangRequest | None:
    """This request's ``LangRequest`` when it is an item read asking for a language.

    ``strict`` raises on a malformed ``lang`` (before the view runs); the response hook
    passes False and simply does nothing, since the 400 has already been answered.
    """
    req = request._get_current_object()  # type: ignore[attr-defined]  # once, not per use
    methods = _READS.get(req.endpoint or "")
    if methods is None or req.method not in methods:
        return None
    param = _param(cms)
    collection = (req.view_args or {}).get("collection")
    if collection is None and not req.endpoint.startswith("transom_graphql."):
        return None
    lang = req.args.get(param) if param.encode() in req.query_string else None
    if lang is None and "Accept-Language" not in req.headers:
        return None  # the common case: nothing asked, nothing more to work out
    fallback = str(cms.config.get("I18N_FALLBACK_LANG") or "")
    if lang is not None:
        if not valid_lang(lang):
            if strict:
                _checked(lang, param)
            return None
        return LangRequest(collection, lang, with_fallbacks([lang], fallback or None), "param")
    header = parse_accept_language(req.headers.get("Accept-Language"))
    if not header:
        return None
    codes = with_fallbacks(header, fallback or default_lang(cms))
    return LangRequest(collection, codes[0], codes, "header")


def _write_lang(cms: Any) -> str | None:
    """``Content-Language`` (or ``?lang=``) of an item write; a malformed one is a 400."""
    req = request._get_current_object()  # type: ignore[attr-defined]  # once, not per use
    methods = _WRITES.get(req.endpoint or "")
    if methods is None or req.method not in methods:
        return None
    param = _param(cms)
    lang = req.args.get(param)
    if lang is not None:
        return _checked(lang, param)
    header = req.headers.get("Content-Language")
    if header:
        first = header.split(",")[0]
        return _checked(first, "Content-Language")
    return None


def use_language(cms: Any, collection: str, code: str | None) -> None:
    """Read ``collection`` in ``code`` for the next reads of this request: GraphQL's
    ``lang`` argument (transom-graphql calls this through the plugin manager before each
    root field). None goes back to the request's own language (``Accept-Language``)."""
    if code is None:
        setattr(g, _G_KEY, g.get(_G_OWN))
        return
    code = _checked(code, "lang") if isinstance(code, str) else _checked("", "lang")
    fallback = str(cms.config.get("I18N_FALLBACK_LANG") or "")
    setattr(g, _G_KEY, LangRequest(collection, code, with_fallbacks([code], fallback or None),
                                   "param"))


# -- items hooks ---------------------------------------------------------------------------
def _wanted(meta: dict[str, Any], context: Any) -> tuple[LangRequest, TranslationsField] | None:
    if not has_request_context():
        return None
    wanted: LangRequest | None = g.get(_G_KEY)
    collection = meta.get("collection")
    if wanted is None or not collection or not wanted.applies(context.schema, collection):
        return None
    tf = find_translations_field(context.schema, collection)
    if tf is None:
        return None
    if wanted.source == "header" and not _may_read(context, tf.junction):
        # a browser's header must not turn a read the caller may make into a 403: without
        # the right to read the translations, items keep their own (default) values
        return None
    return wanted, tf


def _may_read(context: Any, collection: str) -> bool:
    acc = context.accountability
    if acc is None or getattr(acc, "admin", False):
        return True
    return bool(context.cms.access.permissions(acc).access(collection, "read").allowed)


def _level(wanted: LangRequest, context: Any) -> Any:
    """Whether a related collection of this read is folded: its translations field."""
    def level(collection: str) -> TranslationsField | None:
        if not wanted.applies_nested(context.schema, collection):
            return None
        tf = find_translations_field(context.schema, collection)
        if tf is None or (wanted.source == "header" and not _may_read(context, tf.junction)):
            return None
        return tf
    return level


def _current(meta: dict[str, Any]) -> LangRequest | None:
    if not has_request_context() or not meta.get("collection"):
        return None
    return g.get(_G_KEY)


def _narrow(payload: Any, meta: dict[str, Any], context: Any) -> Any:
    """``items.query`` filter: read only the request's languages, and the translated
    columns the caller asked for, here and in the related items the query reads."""
    if not isinstance(payload, Query) or payload.aggregate or payload.group:
        return payload
    wanted = _current(meta)
    if wanted is None:
        return payload
    if wanted.collection is None or wanted.collection == meta["collection"]:
        schema = context.schema
        payload = narrow_nested(
            schema, meta["collection"], payload, _level(wanted, context),
            lambda c: i18n_schema.translatable_fields(schema, c), wanted.codes)
    found = _wanted(meta, context)
    if found is None:
        return payload
    wanted, tf = found
    narrowed = narrow_query(payload, tf, wanted.codes)
    names = i18n_schema.translatable_fields(context.schema, meta["collection"])
    return with_translatable_paths(narrowed, tf, names) if names else narrowed


def _flatten(payload: Any, meta: dict[str, Any], context: Any) -> Any:
    """``items.read`` filter: each item with its best translation folded in, and its
    related items' too."""
    wanted = _current(meta)
    if wanted is None or not isinstance(payload, list):
        return payload
    if wanted.collection is None or wanted.collection == meta["collection"]:
        level = _level(wanted, context)
        payload = [fold_nested(context.schema, meta["collection"], item, level,
                               wanted.codes, wanted.served) for item in payload]
    found = _wanted(meta, context)
    if found is None:
        return payload
    wanted, tf = found
    coll = context.schema.get(meta["collection"])
    pk = coll.primary_key if coll is not None else None
    out = []
    for item in payload:
        rows = item.get(tf.field) if isinstance(item, dict) else None
        if isinstance(rows, list) and all(isinstance(r, dict) for r in rows):
            chosen = pick_translation(rows, tf.lang_field, wanted.codes)
            if chosen is not None:
                code = chosen.get(tf.lang_field)
                wanted.served.append(code.get("code") if isinstance(code, dict) else code)
        out.append(flatten_item(item, tf, pk, wanted.codes))
    return out


def _split(payload: Any, meta: dict[str, Any], context: Any) -> Any:
    """``items.create`` / ``items.update`` filter: translatable values to their row."""
    collection = meta.get("collection")
    if not isinstance(payload, dict) or not collection \
            or not i18n_schema.translatable_fields(context.schema, collection):
        return payload
    cms = context.cms
    lang = g.get(_G_WRITE) if has_request_context() else None
    default = default_lang(cms)
    key = (meta.get("keys") or [None])[0]
    return split_payload(cms, collection, payload, lang or default, default, key, context)


@hookimpl
def register_filters(cms: Any) -> Any:
    return [Filter("items.query", _narrow), Filter("items.read", _flatten),
            Filter("items.create", _split), Filter("items.update", _split)]


# -- schema routes -------------------------------------------------------------------------
def _field_flags(fields: Any) -> dict[str, bool]:
    flags: dict[str, bool] = {}
    for f in fields if isinstance(fields, list) else []:
        flag = i18n_schema.flag_of(f)
        if flag is not None and isinstance(f.get("field"), str):
            flags[f["field"]] = flag
    return flags


def _collection_fields(body: dict[str, Any]) -> Any:
    inner = body.get("schema") if isinstance(body.get("schema"), dict) else {}
    return body.get("fields") if body.get("fields") is not None else inner.get("fields")


def schema_plan(rule: str, method: str, args: dict[str, Any], body: Any
                ) -> list[tuple[str, Any, dict[str, bool]]]:
    """What a schema request asks of i18n: ``(collection, fields to upsert, flags)``.

    ``fields to upsert`` is only set for ``PATCH /collections``, whose ``schema.fields``
    the core ignores (a Directus PATCH changes meta only): they are created or updated here.
    """
    plan: list[tuple[str, Any, dict[str, bool]]] = []
    if rule.startswith("/collections"):
        bodies = body if isinstance(body, list) else [body]
        for one in bodies:
            if not isinstance(one, dict):
                continue
            name = args.get("name") or one.get("collection")
            fields = _collection_fields(one)
            flags = _field_flags(fields)
            upsert = fields if method == "PATCH" and isinstance(fields, list) else None
            if isinstance(name, str) and (flags or upsert):
                plan.append((name, upsert, flags))
    elif rule.startswith("/fields/"):
        collection = args.get("collection")
        items = body if isinstance(body, list) else [body]
        if "field" in args and isinstance(body, dict):
            items = [{**body, "field": args["field"]}]
        flags = _field_flags(items)
        if collection and flags:
            plan.append((collection, None, flags))
    return plan


def _upsert_fields(cms: Any, acc: Any, collection: str, fields: list[Any]) -> None:
    svc = FieldsService(cms, acc)
    for f in fields:
        if not isinstance(f, dict):
            raise InvalidPayloadError("Each of schema.fields must be a field object")
        clean = i18n_schema.without_flag(f)
        coll = cms.schema.get(collection)
        if coll is not None and clean.get("field") in coll.fields:
            svc.update_field(collection, clean)
        else:
            svc.create_field(collection, clean)


def _apply_schema(cms: Any) -> None:
    plan = g.get(_G_SCHEMA)
    acc = get_accountability()
    for collection, upsert, flags in plan:
        if upsert:
            _upsert_fields(cms, acc, collection, upsert)
        if flags:
            i18n_schema.mark(cms, acc, collection, flags, default_lang(cms))


def _report_flags(cms: Any, body: Any) -> Any:
    """``GET/POST/PATCH /fields`` answers with ``translatable: true`` on flagged fields (and
    their meta re-read after the change)."""
    data = body.get("data") if isinstance(body, dict) else None
    many = isinstance(data, list)
    out = []
    for f in data if many else [data]:
        if isinstance(f, dict) and isinstance(f.get("collection"), str):
            coll = cms.schema.get(f["collection"])
            cur = coll.fields.get(f.get("field")) if coll is not None else None
            if cur is not None and i18n_schema.is_translatable(cur):
                options = (cur.meta or {}).get("options")
                f = {**f, "meta": {**(f.get("meta") or {}), "options": options},
                     "translatable": True}
        out.append(f)
    return {**body, "data": out if many else out[0]}


@hookimpl
def init_app(cms: Any, app: Any) -> None:
    default_language.install(cms)  # subscribed to ``settings`` before the first request

    @app.before_request
    def _i18n_before() -> None:
        req = request._get_current_object()  # type: ignore[attr-defined]  # not the proxy
        endpoint = req.endpoint or ""
        if endpoint.startswith(_SCHEMA_PREFIX) and req.method in ("POST", "PATCH"):
            rule = req.url_rule.rule if req.url_rule is not None else ""
            plan = schema_plan(rule, req.method, req.view_args or {},
                               req.get_json(silent=True))
            if plan:
                setattr(g, _G_SCHEMA, plan)
            return
        wanted = _lang_request(cms, strict=True)
        setattr(g, _G_CHECKED, True)
        lang = _write_lang(cms) if endpoint in _WRITES else None
        collection = (req.view_args or {}).get("collection")
        if lang is not None and collection \
                and i18n_schema.translatable_fields(cms.schema, collection):
            setattr(g, _G_WRITE, lang)
            # the item read back in the answer is shown in the language written
            wanted = LangRequest(collection, lang, [lang], "param")
        if wanted is not None:
            setattr(g, _G_KEY, wanted)
            setattr(g, _G_OWN, wanted)

    @app.after_request
    def _i18n_after(resp: Response) -> Response:
        endpoint = request.endpoint or ""
        if endpoint.startswith(_SCHEMA_PREFIX):
            return _after_schema(resp)
        if endpoint not in _ITEM_ENDPOINTS:
            return resp  # nothing of this plugin's: not an item or GraphQL read or write
        return _after_items(resp)

    def _after_schema(resp: Response) -> Response:
        if resp.status_code != 200:
            return resp
        if g.get(_G_SCHEMA):
            try:
                _apply_schema(cms)
            except TransomError as exc:
                return render_error(exc)
        if request.path.startswith("/fields") and resp.is_json:
            body = orjson.loads(resp.get_data())
            resp.set_data(dumps(_report_flags(cms, body)))
        return resp

    def _after_items(resp: Response) -> Response:
        collection = (request.view_args or {}).get("collection")
        if collection and request.endpoint in _ITEM_ENDPOINTS \
                and i18n_schema.translatable_fields(cms.schema, collection):
            resp.vary.add("Accept-Language")
        if resp.status_code != 200 or resp.direct_passthrough:
            return resp
        # Worked out again rather than read from ``g`` alone: a cache hit answered from an
        # earlier ``before_request`` skips ours, and its body may still need flattening.
        wanted: LangRequest | None = g.get(_G_KEY)
        if wanted is None and not g.get(_G_CHECKED):
            wanted = _lang_request(cms, strict=False)
        if wanted is None:
            return resp
        served = _served(wanted, cms)
        if served:
            resp.headers["Content-Language"] = served
        if not resp.is_json or collection is None:
            return resp
        schema = cms.schema
        tf = find_translations_field(schema, collection)
        coll = schema.get(collection)
        if tf is None or coll is None or not wanted.applies(schema, collection):
            return resp
        try:
            body = orjson.loads(resp.get_data())
        except orjson.JSONDecodeError:
            return resp
        resp.set_data(dumps(flatten_body(body, tf, coll.primary_key, wanted.codes,
                                         wanted.lang)))
        return resp


def _served(wanted: LangRequest, cms: Any) -> str | None:
    """The language the answer is in: the best of the codes a row was found for; the
    default language when items fell back to their own columns."""
    if wanted.served:
        rank = {c: i for i, c in enumerate(wanted.codes)}
        return min(wanted.served, key=lambda c: rank.get(c, len(rank)))
    if wanted.collection is not None and not i18n_schema.translatable_fields(
            cms.schema, wanted.collection):
        return None
    return default_lang(cms)
