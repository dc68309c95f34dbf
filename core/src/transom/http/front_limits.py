"""Request-line and header limits answered with Directus's JSON envelope.

gunicorn answers an over-long URL or header with its own HTML page. ``transom start`` raises
gunicorn's limits well above ours (see ``cli._Server``) and this WSGI middleware enforces
the documented ones (``MAX_URL_LENGTH``, ``MAX_HEADERS_SIZE``) before Flask parses anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

#: Defaults: the request line limit of gunicorn and nginx, and Node's header limit.
DEFAULT_MAX_URL_LENGTH = 8190
DEFAULT_MAX_HEADERS_SIZE = 16384

_REASONS = {414: "URI Too Long", 431: "Request Header Fields Too Large"}


def _envelope(status: int, code: str, message: str) -> tuple[str, list[tuple[str, str]],
                                                             bytes]:
    body = json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})
    raw = body.encode()
    headers = [("Content-Type", "application/json; charset=utf-8"),
               ("Content-Length", str(len(raw))), ("Connection", "close")]
    return f"{status} {_REASONS[status]}", headers, raw


def _url_length(environ: dict[str, Any]) -> int:
    uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if uri:
        return len(uri)
    query = environ.get("QUERY_STRING", "")
    return len(environ.get("PATH_INFO", "")) + (len(query) + 1 if query else 0)


def _headers_size(environ: dict[str, Any]) -> int:
    size = 0
    for key, value in environ.items():
        if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            size += len(key) - (5 if key.startswith("HTTP_") else 0) + len(str(value)) + 4
    return size


class FrontLimits:
    """Wraps a WSGI app: 414 and 431 in the JSON envelope, everything else passes."""

    def __init__(self, app: Callable[..., Iterable[bytes]], max_url: int,
                 max_headers: int) -> None:
        self.app, self.max_url, self.max_headers = app, max_url, max_headers

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.max_url > 0 and _url_length(environ) > self.max_url:
            status, headers, raw = _envelope(
                414, "URI_TOO_LONG", f"The URL is longer than {self.max_url} characters.")
        elif self.max_headers > 0 and _headers_size(environ) > self.max_headers:
            status, headers, raw = _envelope(
                431, "REQUEST_HEADER_FIELDS_TOO_LARGE",
                f"The request headers are larger than {self.max_headers} bytes.")
        else:
            return self.app(environ, start_response)
        start_response(status, headers)
        return [raw]
