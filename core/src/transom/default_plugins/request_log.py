"""Request ids and one access-log line per request.

Every request gets an id: the caller's ``X-Request-Id`` when it sends a usable one (a proxy
or a client tracing a call), a new random one otherwise. It is echoed in the response's
``X-Request-Id`` header and stamped on every log line written while serving the request.
When the response is ready, one ``transom.access`` line records method, path (never the
query string, which may hold ``access_token``), status, duration, user and IP.

This module also owns the front of the request pipeline (:func:`add_front_hook`): the hooks
that must run before authentication and before any route, in a fixed order whatever order
pluggy calls ``init_app`` in.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, g, request

from .. import hookimpl
from ..config import Setting
from ..http.context import client_ip

log = logging.getLogger("transom.access")

REQUEST_ID_HEADER = "X-Request-Id"
_UNSAFE = re.compile(r"[^A-Za-z0-9._:@/+=-]")
MAX_REQUEST_ID = 128

#: Ranks of the front hooks: request id first, CORS preflights next, then the limiters.
RANK_REQUEST_LOG = 10
RANK_CORS = 20
RANK_RATE_LIMIT = 30
_RANK_ATTR = "_transom_front_rank"

#: Paths logged at debug rather than info: load balancers poll them every few seconds.
QUIET_PATHS = frozenset({"/server/ping"})


def add_front_hook(app: Flask, cms: Any, fn: Callable[[], Any], rank: int) -> None:
    """Put ``fn`` among the app's first ``before_request`` functions, ordered by ``rank``.

    Flask runs app-level ``before_request`` functions in list order, before any
    blueprint's, and stops at the first one that returns a response. pluggy calls
    ``init_app`` implementations last-registered first, so appending would order these
    hooks by accident; instead each is inserted before the first function that is not a
    front hook (or has a higher rank). Authentication is lazy (the first
    ``get_accountability()`` call, inside a view), so everything inserted here runs before
    it and before the route. The kernel is bound to the request here too, so that an error
    raised by a front hook (a 429) still reaches the ``handle_exception`` hooks.
    """

    def front_hook() -> Any:
        request.environ.setdefault("transom.cms", cms)
        return fn()

    front_hook.__name__ = f"front_{getattr(fn, '__name__', 'hook')}"
    setattr(front_hook, _RANK_ATTR, rank)
    funcs = app.before_request_funcs.setdefault(None, [])
    pos = 0
    for i, existing in enumerate(funcs):
        other = getattr(existing, _RANK_ATTR, None)
        if other is None or other > rank:
            break
        pos = i + 1
    funcs.insert(pos, front_hook)


def sanitize_request_id(value: str | None) -> str | None:
    """Keep a caller's id only if something printable and bounded is left of it."""
    if not value:
        return None
    cleaned = _UNSAFE.sub("", value)[:MAX_REQUEST_ID]
    return cleaned or None


def new_request_id() -> str:
    return uuid.uuid4().hex


@hookimpl
def register_settings() -> Any:
    return Setting("LOG_HTTP_IGNORE_PATHS", "", "csv",
                   "Request paths left out of the access log.")


@hookimpl
def init_app(cms: Any, app: Flask) -> None:
    ignored = frozenset(cms.config.get("LOG_HTTP_IGNORE_PATHS") or ())

    def start_request() -> None:
        env = request.environ
        env["transom.request_start"] = time.perf_counter()
        env["transom.request_id"] = (
            sanitize_request_id(request.headers.get(REQUEST_ID_HEADER)) or new_request_id()
        )

    add_front_hook(app, cms, start_request, RANK_REQUEST_LOG)

    @app.after_request
    def finish_request(resp: Any) -> Any:
        env = request.environ
        rid = env.get("transom.request_id")
        if rid is None:  # a response made before the front hooks ran
            rid = env["transom.request_id"] = new_request_id()
        resp.headers[REQUEST_ID_HEADER] = rid
        path = request.path
        if path in ignored:
            return resp
        level = logging.DEBUG if path in QUIET_PATHS else logging.INFO
        if not log.isEnabledFor(level):
            return resp
        started = env.get("transom.request_start")
        duration = (time.perf_counter() - started) * 1000 if started is not None else None
        acc = g.get("_transom_accountability")  # only if resolved: logging never authenticates
        try:
            ip = client_ip()
        except Exception:  # noqa: BLE001 - a log line must not fail a response
            ip = request.remote_addr
        log.log(level, "%s %s %s", request.method, path, resp.status_code, extra={
            "request_id": rid,
            "method": request.method,
            "path": path,
            "status": resp.status_code,
            "duration_ms": round(duration, 3) if duration is not None else None,
            "user_id": getattr(acc, "user", None),
            "ip": ip,
        })
        return resp
