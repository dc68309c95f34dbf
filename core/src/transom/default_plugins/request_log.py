"""Request ids and one access-log line per request.

Every request gets an id: the caller's ``X-Request-Id`` when it sends a usable one (a proxy
or a client tracing a call), a new random one otherwise. It is echoed in the response's
``X-Request-Id`` header and stamped on every log line written while serving the request.
When the response is ready, one ``transom.access`` line records method, path (never the
query string, which may hold ``access_token``), status, duration, user and IP.

Both are the ``request_id`` step of the request pipeline (``register_request_steps``, see
:mod:`transom.http.pipeline`): the first step, so its ``after`` is the last to see the response.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

from flask import g, request

from .. import hookimpl
from ..config import Setting
from ..http.context import client_ip
from ..http.pipeline import STEP_REQUEST_ID, RequestStep

log = logging.getLogger("transom.access")

REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID_ENVIRON = "HTTP_X_REQUEST_ID"  # read from the WSGI environ: no Headers lookup
_UNSAFE = re.compile(r"[^A-Za-z0-9._:@/+=-]")
MAX_REQUEST_ID = 128

#: Paths logged at debug rather than info: load balancers poll them every few seconds.
QUIET_PATHS = frozenset({"/server/ping"})


def sanitize_request_id(value: str | None) -> str | None:
    """Keep a caller's id only if something printable and bounded is left of it."""
    if not value:
        return None
    cleaned = _UNSAFE.sub("", value)[:MAX_REQUEST_ID]
    return cleaned or None


def new_request_id() -> str:
    """32 random hex digits (the form of ``uuid4().hex``, at a third of its cost)."""
    return os.urandom(16).hex()


@hookimpl
def register_settings() -> Any:
    return Setting("LOG_HTTP_IGNORE_PATHS", "", "csv",
                   "Request paths left out of the access log.")


@hookimpl
def register_request_steps(cms: Any) -> RequestStep:
    ignored = frozenset(cms.config.get("LOG_HTTP_IGNORE_PATHS") or ())

    def start_request() -> None:
        env = request.environ
        env["transom.request_start"] = time.perf_counter()
        sent = env.get(_REQUEST_ID_ENVIRON)
        env["transom.request_id"] = (sanitize_request_id(sent) if sent else None) \
            or new_request_id()

    def finish_request(resp: Any) -> Any:
        env = request.environ
        rid = env.get("transom.request_id")
        if rid is None:  # a response made before the front hooks ran
            rid = env["transom.request_id"] = new_request_id()
        resp.headers[REQUEST_ID_HEADER] = rid
        if not log.isEnabledFor(logging.INFO):
            return resp  # nor DEBUG: the access log is off (LOG_LEVEL warn and above)
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

    return RequestStep(STEP_REQUEST_ID, before=start_request, after=finish_request)
