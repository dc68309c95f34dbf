"""The sign-in providers of ``GET /auth``, for the buttons of the login page.

The list is asked of the ``/auth`` route itself (in process), so the page shows exactly the
providers any API client sees, whichever plugin registered them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import current_app, request

from transom.api import current_cms

#: Drivers that sign in by sending the browser to the provider (the rest take a form).
REDIRECT_DRIVERS = {"openid", "oauth2", "saml"}


def providers() -> list[dict[str, Any]]:
    """``GET /auth``'s ``data``, or nothing when no auth plugin answers that path."""
    urls = current_app.url_map.bind_to_environ(request.environ)
    if not urls.test("/auth", method="GET"):
        return []
    endpoint, args = urls.match("/auth", method="GET")
    resp = current_app.make_response(current_app.view_functions[endpoint](**args))
    body = resp.get_json(silent=True) or {}
    return [p for p in body.get("data") or [] if isinstance(p, dict) and p.get("name")]


def buttons() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(links for redirect providers, forms for the others such as LDAP)."""
    public = str(current_cms().config.get("PUBLIC_URL") or "/").rstrip("/")
    back = urlencode({"redirect": f"{public}/admin"})
    links, others = [], []
    for p in providers():
        name = str(p["name"])
        entry = {"name": name, "label": str(p.get("label") or name.capitalize()),
                 "href": f"/auth/login/{name}?{back}"}
        (links if p.get("driver") in REDIRECT_DRIVERS else others).append(entry)
    return links, others
