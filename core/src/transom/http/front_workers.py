"""gunicorn workers whose own error answers carry Directus's JSON envelope.

gunicorn answers a request it cannot parse (a malformed request line, method, HTTP version,
header or chunk) with a small HTML page before any WSGI code runs, so ``FrontLimits`` never
sees it. These worker classes keep gunicorn's behaviour (status, logging, closing the
connection) and change only the body: ``{"errors": [{"message", "extensions": {"code"}}]}``.
``transom start`` names them as its ``worker_class``.
"""

from __future__ import annotations

import json
from typing import Any

from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker

#: gunicorn's parse errors -> (status, reason, Directus-style code). The first match wins,
#: so subclasses come before their bases. Anything else it reports is a client error: 400.
_CLIENT_ERRORS: tuple[tuple[type[BaseException], int, str, str], ...] = (
    (http_errors.LimitRequestLine, 414, "URI Too Long", "URI_TOO_LONG"),
    (http_errors.LimitRequestHeaders, 431, "Request Header Fields Too Large",
     "REQUEST_HEADER_FIELDS_TOO_LARGE"),
    (http_errors.ConfigurationProblem, 500, "Internal Server Error", "INTERNAL_SERVER_ERROR"),
    (http_errors.ForbiddenProxyRequest, 403, "Forbidden", "FORBIDDEN"),
    (http_errors.UnsupportedTransferCoding, 501, "Not Implemented", "NOT_IMPLEMENTED"),
    (http_errors.ExpectationFailed, 417, "Expectation Failed", "EXPECTATION_FAILED"),
    (http_errors.ParseException, 400, "Bad Request", "INVALID_REQUEST"),
)


def error_answer(exc: BaseException) -> tuple[int, str, str, str]:
    """``(status, reason, code, message)`` for an error gunicorn met while reading a request
    (or 500 when the error is not the client's)."""
    for kind, status, reason, code in _CLIENT_ERRORS:
        if isinstance(exc, kind):
            detail = str(exc) or reason
            return status, reason, code, f"Malformed HTTP request: {detail}"[:500]
    return 500, "Internal Server Error", "INTERNAL_SERVER_ERROR", "An unexpected error occurred."


def envelope_bytes(status: int, reason: str, code: str, message: str) -> bytes:
    """A complete HTTP/1.1 response: the JSON envelope, then the connection is closed."""
    body = json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]},
                      ensure_ascii=True).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\n"
            "Connection: close\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
    return head + body


class _EnvelopeErrors:
    """Mixin: gunicorn's ``handle_error`` with the JSON body instead of its HTML one."""

    log: Any

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        status, reason, code, message = error_answer(exc)
        if status >= 500:
            self.log.exception("Error handling request")
        else:
            ip = (addr or ("", -1))[0]
            self.log.warning("Invalid request from ip=%s: %s", ip, exc)
        try:
            client.sendall(envelope_bytes(status, reason, code, message))
        except OSError:
            self.log.debug("Failed to send the error answer.")


class EnvelopeSyncWorker(_EnvelopeErrors, SyncWorker):
    """gunicorn's ``sync`` worker, answering its own errors in the envelope."""


class EnvelopeThreadWorker(_EnvelopeErrors, ThreadWorker):
    """gunicorn's ``gthread`` worker, answering its own errors in the envelope."""
