"""flask-smorest at the edge: one :class:`Api` per app, a Blueprint whose argument parser
answers in Directus's envelope, and the static part of the OpenAPI document.

* :class:`Blueprint` is a ``flask_smorest.Blueprint``. ``@bp.arguments(Schema, location=...)``
  validates with marshmallow; a validation error is a 400 ``INVALID_PAYLOAD`` (body) or
  ``INVALID_QUERY`` (query string), never flask-smorest's 422 body.
* :func:`describe` documents a view (summary, query/body schemas) *without* wrapping it:
  zero cost per request, for the hot read path that keeps its own parser.
* :func:`document` documents a route of any plain Flask Blueprint (a third-party plugin's)
  by its rule; plain routes nobody documented still get a minimal path entry from
  ``app.url_map``, so the document covers every route.
* :func:`static_document` builds the app's document once: the smorest blueprints' views,
  then every other rule. ``/server/specs/oas`` merges it with the per-caller item paths.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import flask_smorest
import orjson
from flask import Flask
from marshmallow import Schema, ValidationError
from webargs.flaskparser import FlaskParser

from .. import __version__
from ..errors import InvalidPayloadError, InvalidQueryError
from .schemas import DataEnvelope, ErrorEnvelope

OPENAPI_VERSION = "3.0.3"
_SKIPPED_METHODS = {"HEAD", "OPTIONS", "SEARCH"}
_BODY_LOCATIONS = ("json", "form", "json_or_form", "files")


def _first_message(messages: Any, path: str = "") -> tuple[str, str]:
    """The first ``(field path, message)`` of marshmallow's nested error dict."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            sub = path if key == "_schema" else (f"{path}.{key}" if path else str(key))
            return _first_message(value, sub)
    if isinstance(messages, list | tuple) and messages:
        return _first_message(messages[0], path)
    return path, str(messages)


def validation_message(messages: Any) -> str:
    """A Joi-like sentence (Directus validates with Joi): ``"email" is required``."""
    field, message = _first_message(messages)
    message = {"Missing data for required field.": "is required",
               "Invalid input type.": "must be of type object",
               "Unknown field.": "is not allowed",
               "Field may not be null.": "must not be null"}.get(message, message)
    if not field:
        return f'"value" {message}' if message[:1].islower() else message
    return f'"{field}" {message}'


class DirectusParser(FlaskParser):
    """webargs' Flask parser with Transom's edges: bodies are read with orjson whatever the
    Content-Type (as :func:`transom.http.responses.request_json`), and errors are Directus's."""

    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req: Any) -> Any:
        data = req.get_data(cache=True)
        if not data or not data.strip():
            return {}
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InvalidPayloadError(f"Invalid JSON body: {exc.msg}") from exc

    def load_json(self, req: Any, schema: Schema) -> Any:
        return self._raw_load_json(req)

    def handle_error(self, error: ValidationError, req: Any, schema: Schema, *,
                     error_status_code: int | None, error_headers: Any) -> Any:
        messages = error.messages
        location = "json"
        if isinstance(messages, dict) and len(messages) == 1:
            (only,) = messages
            if only in self.__location_map__ or only == "query":
                location, messages = only, messages[only]
        if location in ("query", "querystring", "headers", "cookies", "view_args"):
            raise InvalidQueryError(validation_message(messages))
        raise InvalidPayloadError(validation_message(messages))


PARSER = DirectusParser()


class Blueprint(flask_smorest.Blueprint):
    """A flask-smorest Blueprint whose arguments fail the Directus way (400, envelope).

    Register it like any Blueprint from ``register_blueprints``; its views are documented in
    ``/server/specs/oas`` with their schemas."""

    ARGUMENTS_PARSER = PARSER

    def arguments(self, schema: Any, *, location: str = "json", **kwargs: Any) -> Any:
        kwargs.setdefault("error_status_code", 400)
        return super().arguments(schema, location=location, **kwargs)


def describe(*, summary: str | None = None, query: Any = None, body: Any = None,
             **doc: Any) -> Any:
    """Document a view without wrapping it (no per-request cost): what ``@bp.arguments``
    would document, for a view that parses its request itself."""

    def decorator(func: Any) -> Any:
        apidoc = func.__dict__.setdefault("_apidoc", {})
        params = apidoc.setdefault("arguments", {}).setdefault("parameters", [])
        if query is not None:
            params.append({"in": "query", "required": False, "schema": query})
        if body is not None:
            params.append({"in": "json", "required": False, "schema": body})
        manual = dict(doc)
        if summary:
            manual["summary"] = summary
        if manual:
            apidoc.setdefault("manual_doc", {}).update(manual)
        return func

    return decorator


# -- plain Blueprints (third-party plugins) ------------------------------------------------------
#: Flask rule -> method (lower case) -> {"summary", "query", "body", "responses", ...}
_DOCUMENTED: dict[str, dict[str, dict[str, Any]]] = {}


def document(rule: str, method: str = "get", *, summary: str | None = None,
             query: Any = None, body: Any = None, **operation: Any) -> None:
    """Document a route of a plain Flask Blueprint by its rule (``"/auth/login"``).

    ``query`` and ``body`` are marshmallow schemas (classes or instances); other keywords are
    OpenAPI operation fields copied as they are (``description``, ``responses``, ``tags``)."""
    entry: dict[str, Any] = dict(operation)
    if summary:
        entry["summary"] = summary
    if query is not None:
        entry["query"] = query
    if body is not None:
        entry["body"] = body
    _DOCUMENTED.setdefault(rule, {})[method.lower()] = entry


class TransomApi(flask_smorest.Api):
    """The app's Api: the spec engine only. Transom answers errors itself
    (:mod:`transom.http.errors`) and serves its document at ``/server/specs/oas``."""

    ERROR_SCHEMA = ErrorEnvelope

    def _register_doc_blueprint(self) -> None:
        pass

    def _register_error_handlers(self) -> None:
        pass


def get_api(app: Flask, title: str = "Transom", version: str = "0") -> TransomApi:
    """The app's one :class:`TransomApi`, created on first use."""
    api = app.extensions.get("transom_api")
    if api is None:
        api = TransomApi(spec_kwargs={"title": title, "version": version,
                                      "openapi_version": OPENAPI_VERSION})
        api.init_app(app)
        app.extensions["transom_api"] = api
    return api


def _view_doc(view: Any) -> str | None:
    doc = (getattr(view, "__doc__", None) or "").strip()
    return doc.splitlines()[0].strip() if doc else None


def _plain_operation(api: TransomApi, view: Any, tag: str, extra: dict[str, Any]) -> dict:
    extra = dict(extra)
    op: dict[str, Any] = {"tags": [tag], "responses": {
        "default": {"$ref": f"#/components/responses/{api.DEFAULT_ERROR_RESPONSE_NAME}"}}}
    summary = extra.pop("summary", None) or _view_doc(view)
    if summary:
        op["summary"] = summary
    query, body = extra.pop("query", None), extra.pop("body", None)
    if query is not None:
        op["parameters"] = [{"in": "query", "schema": query}]
    if body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": body}}}
    op.update(extra)
    return op


def _default_success(doc: dict[str, Any]) -> None:
    """Operations that documented no 2xx answer: Directus's ``{data}`` (DELETE: 204)."""
    ok = {"description": "OK: Directus's {data, meta} envelope",
          "content": {"application/json": {"schema": {
              "$ref": "#/components/schemas/DataEnvelope"}}}}
    for item in doc.get("paths", {}).values():
        for method, op in item.items():
            if method == "parameters" or not isinstance(op, dict):
                continue
            responses = op.setdefault("responses", {})
            if any(str(code).startswith("2") for code in responses):
                continue
            if method == "delete":
                responses["204"] = {"description": "Done, no content"}
            else:
                responses["200"] = deepcopy(ok)


def static_document(app: Flask) -> dict[str, Any]:
    """The document of every route of ``app`` (built once; callers copy before changing)."""
    cached = app.extensions.get("transom_openapi_static")
    if cached is not None:
        return cached
    cms = app.extensions["transom"]

    api = get_api(app, cms.config.get("PROJECT_NAME", "Transom"), __version__)
    spec = api.spec
    spec.components.schema("DataEnvelope", schema=DataEnvelope)
    documented: set[str] = set()
    for name, bp in app.blueprints.items():
        if isinstance(bp, flask_smorest.Blueprint):
            bp.register_views_in_doc(api, app, spec, name=name, parameters=None)
            if bp.description:
                spec.tag({"name": name, "description": bp.description})
            documented.update(f"{name}.{endpoint}" for endpoint in bp._docs)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static" or rule.endpoint in documented:
            continue
        owner = app.blueprints.get(rule.endpoint.rsplit(".", 1)[0]) if "." in rule.endpoint \
            else None
        if owner is not None and getattr(owner, "transom_openapi", True) is False:
            continue  # pages, not API (a blueprint's opt-out, e.g. the admin app's HTML)
        methods = sorted((rule.methods or set()) - _SKIPPED_METHODS)
        if not methods:
            continue
        view = app.view_functions.get(rule.endpoint)
        tag = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else "app"
        known = _DOCUMENTED.get(rule.rule, {})
        ops = {m.lower(): _plain_operation(api, view, tag, known.get(m.lower(), {}))
               for m in methods}
        spec.path(rule=rule, operations=ops, parameters=[])
    doc = spec.to_dict()
    _default_success(doc)
    doc.setdefault("info", {})["description"] = (
        "Directus 11 compatible API of this Transom instance. Collections' item routes are "
        "listed per collection for the caller's permissions.")
    app.extensions["transom_openapi_static"] = doc
    return doc


def copy_static_document(app: Flask) -> dict[str, Any]:
    return deepcopy(static_document(app))


def request_location_of(exc: Any) -> str:
    """``query`` or ``json``: where a stock flask-smorest 422 came from (``exc.data``)."""
    messages = (getattr(exc, "data", None) or {}).get("messages") or {}
    if isinstance(messages, dict) and any(k in messages for k in ("query", "querystring")):
        return "query"
    return "json"


__all__ = ["PARSER", "Blueprint", "DirectusParser", "TransomApi", "copy_static_document",
           "describe", "document", "get_api", "static_document", "validation_message"]
