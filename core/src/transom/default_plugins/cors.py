"""Cross-origin requests with Directus's ``CORS_*`` settings, through flask-cors.

Directus mounts the ``cors`` middleware before the body parser, the rate limiters and
authentication, and it ends every ``OPTIONS`` request there with ``204``. The same happens
here: the ``cors_preflight`` request step (after ``request_id``, see
:mod:`transom.http.pipeline`) answers ``OPTIONS`` before the limiter counts it or anyone
authenticates, and flask-cors's ``after_request`` adds the headers to it and to every other answer
(errors included, since Flask runs ``after_request`` for handled errors).

``CORS_ORIGIN``: ``false`` sends no CORS headers, ``true`` reflects the caller's origin,
``*`` sends a wildcard (without credentials, which browsers refuse next to ``*``), and a
single origin or a comma-separated list allows exactly those. An entry written
``regex:<pattern>`` is matched as a regular expression.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, Response, request
from flask_cors import CORS

from .. import hookimpl
from ..config import Setting
from ..http.pipeline import STEP_CORS_PREFLIGHT, STEP_REQUEST_ID, RequestStep

SETTINGS = [
    Setting("CORS_ENABLED", False, "bool", "Answer cross-origin requests."),
    Setting("CORS_ORIGIN", "false", "str",
            "Allowed origins: false, true (reflect the request's), * or a CSV list."),
    Setting("CORS_METHODS", "GET,POST,PATCH,DELETE", "csv", "Methods allowed cross-origin."),
    Setting("CORS_ALLOWED_HEADERS", "Content-Type,Authorization", "csv",
            "Request headers allowed cross-origin."),
    Setting("CORS_EXPOSED_HEADERS", "Content-Range", "csv",
            "Response headers scripts may read."),
    Setting("CORS_CREDENTIALS", True, "bool", "Allow cookies and credentials."),
    Setting("CORS_MAX_AGE", 18000, "int", "Seconds a browser may cache a preflight."),
]

_BOOLS = {"true": True, "1": True, "yes": True, "on": True,
          "false": False, "0": False, "no": False, "off": False, "": False}


def parse_origin(value: Any) -> bool | str | list[str | re.Pattern[str]]:
    """``CORS_ORIGIN`` as Directus reads it: a boolean, ``*``, or a list of origins."""
    if isinstance(value, bool):
        return value
    if isinstance(value, list | tuple):
        items = [str(v).strip() for v in value]
    else:
        text = str(value).strip()
        if text.lower() in _BOOLS:
            return _BOOLS[text.lower()]
        if text == "*":
            return "*"
        items = [part.strip() for part in text.split(",")]
    origins: list[str | re.Pattern[str]] = []
    for item in items:
        if not item:
            continue
        if item.startswith("regex:"):
            origins.append(re.compile(item[len("regex:"):], re.IGNORECASE))
        else:
            # flask-cors reads strings with regex characters as patterns; an origin is
            # always a literal, so it is escaped into an exact, case-insensitive match.
            origins.append(re.compile(re.escape(item.rstrip("/")) + r"\Z", re.IGNORECASE)
                           if re.search(r"[*\\\]?$^\[()]", item) else item.rstrip("/"))
    return origins or False


def cors_options(config: Any) -> dict[str, Any] | None:
    """flask-cors keyword arguments for the settings; None when CORS is off."""
    if not config.get("CORS_ENABLED"):
        return None
    origin = parse_origin(config.get("CORS_ORIGIN", False))
    if origin is False:
        return None
    credentials = bool(config.get("CORS_CREDENTIALS"))
    options: dict[str, Any] = {
        "methods": list(config.get("CORS_METHODS") or []),
        "allow_headers": list(config.get("CORS_ALLOWED_HEADERS") or []),
        "expose_headers": list(config.get("CORS_EXPOSED_HEADERS") or []) or None,
        "supports_credentials": credentials,
        "max_age": config.get("CORS_MAX_AGE"),
        # core sends "Vary: Origin, Cache-Control" on every answer, as Directus does
        "vary_header": False,
        "intercept_exceptions": False,
        "resources": {r"/*": {}},
    }
    if origin is True:
        options.update(origins="*", send_wildcard=False, always_send=False)
    elif origin == "*":
        options.update(origins="*", send_wildcard=True, supports_credentials=False)
    else:
        assert isinstance(origin, list)
        options.update(origins=origin, always_send=len(origin) == 1)
    return options


@hookimpl
def register_settings() -> Any:
    return SETTINGS


@hookimpl
def init_app(cms: Any, app: Flask) -> None:
    options = cors_options(cms.config)
    if options is None:
        return
    CORS(app, **options)
    cms.state("transom_cors", lambda: options)  # what CORS answers with, for inspection


def answer_preflight() -> Response | None:
    # Directus's cors middleware ends every OPTIONS request, found route or not.
    if request.method != "OPTIONS":
        return None
    return Response(status=204)


@hookimpl
def register_request_steps(cms: Any) -> RequestStep | None:
    if cors_options(cms.config) is None:
        return None
    return RequestStep(STEP_CORS_PREFLIGHT, before=answer_preflight,
                       runs_after=(STEP_REQUEST_ID,))
