"""The one error handler: every failure becomes Directus's ``{errors: [...]}`` envelope."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge

from ..errors import (
    ContentTooLargeError,
    InvalidPayloadError,
    InvalidQueryError,
    MethodNotAllowedError,
    RequestsExceededError,
    RouteNotFoundError,
    ServiceUnavailableError,
    TransomError,
    error_body,
)
from .openapi import request_location_of, validation_message
from .responses import json_response

log = logging.getLogger("transom.http")


def to_transom_error(exc: BaseException) -> TransomError:
    """Map any exception to a typed error; unknown ones become a bare 500."""
    if isinstance(exc, TransomError):
        return exc
    if isinstance(exc, NotFound):
        return RouteNotFoundError(request.path)
    if isinstance(exc, MethodNotAllowed):
        return MethodNotAllowedError(request.method, list(exc.valid_methods or []), request.path)
    if isinstance(exc, RequestEntityTooLarge):
        return ContentTooLargeError()
    if isinstance(exc, OperationalError) and exc.connection_invalidated:
        return ServiceUnavailableError("database", "Database connection lost")
    if isinstance(exc, HTTPException) and exc.code == 422 and hasattr(exc, "data"):
        # a stock flask-smorest/webargs Blueprint (a plugin's): Directus answers 400
        messages = (exc.data or {}).get("messages") or {}
        location = request_location_of(exc)
        if isinstance(messages, dict) and len(messages) == 1:
            messages = next(iter(messages.values()))
        cls = InvalidQueryError if location == "query" else InvalidPayloadError
        return cls(validation_message(messages))
    if isinstance(exc, HTTPException):
        err = TransomError(exc.description or exc.name)
        err.status = exc.code or 500
        err.code = (exc.name or "ERROR").upper().replace(" ", "_")
        return err
    return TransomError()


def render_error(exc: BaseException) -> Any:
    cms = current_app.extensions.get("transom")
    if cms is not None:
        custom = cms.hook.handle_exception(cms=cms, request=request, exception=exc)
        if custom is not None:
            return custom
    err = to_transom_error(exc)
    if err.status >= 500 and not isinstance(exc, TransomError):
        # Never leak a stack trace or SQL to the client; the log keeps it.
        level = logging.ERROR if not isinstance(exc, DBAPIError) else logging.WARNING
        log.log(level, "unexpected error on %s %s", request.method, request.path, exc_info=exc)
    headers = {}
    if isinstance(err, MethodNotAllowedError) and err.allowed:
        headers["Allow"] = ", ".join(err.allowed)
    if isinstance(err, RequestsExceededError) and err.retry_after is not None:
        headers["Retry-After"] = str(err.retry_after)
    resp = json_response(error_body(err), status=err.status, headers=headers)
    resp.headers.pop("Cache-Control", None)
    return resp


def install_error_handlers(app: Flask) -> None:
    app.register_error_handler(Exception, render_error)
