"""The one error handler: every failure becomes Directus's ``{errors: [...]}`` envelope."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, request
from gunicorn.http.errors import ParseException as ServerParseError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
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


#: Seconds a client is told to wait (``Retry-After``) when a backing service is down.
RETRY_AFTER_SECONDS = 5

# Driver messages (lower case) that mean "the database is unreachable, full, read-only or
# busy": a fault of the deployment, not of the request, so 503 and not 500.
_OUTAGE_MARKERS: tuple[tuple[str, str], ...] = (
    ("database is locked", "Database is busy"),
    ("database table is locked", "Database is busy"),
    ("database or disk is full", "Database disk is full"),
    ("disk i/o error", "Database disk error"),
    ("readonly database", "Database is read-only"),
    ("read-only", "Database is read-only"),
    ("unable to open database file", "Database file cannot be opened"),
    ("connection refused", "Database is unreachable"),
    ("could not connect", "Database is unreachable"),
    ("connection failed", "Database is unreachable"),
    ("server closed the connection", "Database connection lost"),
    ("terminating connection", "Database connection lost"),
    ("the database system is", "Database is starting or shutting down"),
    ("connection is closed", "Database connection lost"),
    ("connection already closed", "Database connection lost"),
    ("consuming input failed", "Database connection lost"),
    ("lost connection", "Database connection lost"),
    ("server has gone away", "Database connection lost"),
    ("can't connect", "Database is unreachable"),
    ("too many connections", "Database is busy"),
    ("lock wait timeout", "Database is busy"),
)


def outage_of(exc: BaseException) -> ServiceUnavailableError | None:
    """The 503 for a storage fault (down, full, read-only, locked), else ``None``."""
    if isinstance(exc, PoolTimeoutError):
        return ServiceUnavailableError("database", "Database connection pool is exhausted")
    if not isinstance(exc, DBAPIError):
        return None
    text = str(exc.orig if exc.orig is not None else exc).lower()
    for marker, reason in _OUTAGE_MARKERS:
        if marker in text:
            return ServiceUnavailableError("database", reason)
    if isinstance(exc, OperationalError) and exc.connection_invalidated:
        return ServiceUnavailableError("database", "Database connection lost")
    return None


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
    if isinstance(exc, ServerParseError):  # the body the server was reading is malformed
        return InvalidPayloadError(f"Malformed request body: {exc}"[:500])
    outage = outage_of(exc)
    if outage is not None:
        return outage
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
    if isinstance(err, ServiceUnavailableError):
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    resp = json_response(error_body(err), status=err.status, headers=headers)
    resp.headers.pop("Cache-Control", None)
    return resp


def install_error_handlers(app: Flask) -> None:
    app.register_error_handler(Exception, render_error)
