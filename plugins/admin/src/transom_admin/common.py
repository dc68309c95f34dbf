"""What every admin page shares: the blueprint, the signed-in guard, CSRF and rendering."""

from __future__ import annotations

import functools
import hmac
import json
import re
import secrets
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

import jinja2
from flask import Blueprint, Response, abort, g, redirect, render_template, request

from transom.api import (
    Accountability,
    CollectionsService,
    ExtensionContext,
    ForbiddenError,
    TransomError,
    current_cms,
    get_accountability,
)

bp = Blueprint("transom_admin", __name__, static_folder="static",
               static_url_path="/admin/static")
# Templates come from the installed package; their names start with "admin/" so that no
# other plugin's "base.html" can shadow ours.
bp.jinja_loader = jinja2.PackageLoader("transom_admin", "templates")
#: HTML pages, not API: left out of the OpenAPI document (and of its fuzzing)
bp.transom_openapi = False  # type: ignore[attr-defined]

CSRF_COOKIE = "transom_admin_csrf"
#: the only colour text put into the page's style (a setting is user input)
COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
CSRF_FIELD = "csrf_token"
F = TypeVar("F", bound=Callable[..., Any])


# -- CSRF: a random token per browser session, in an HttpOnly cookie and in every form ----------
def csrf_token() -> str:
    """The session's token (made on first use; the cookie is set after the request)."""
    token = request.cookies.get(CSRF_COOKIE) or g.get("_admin_new_csrf")
    if not token:
        token = g._admin_new_csrf = secrets.token_urlsafe(32)
    return token


@bp.after_app_request
def _set_csrf_cookie(resp: Response) -> Response:
    token = g.get("_admin_new_csrf")
    if token and request.path.startswith("/admin"):
        resp.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="Lax", path="/admin",
                        secure=request.is_secure)
    return resp


@bp.before_request
def _check_csrf() -> None:
    """Refuse a form POST whose token does not match the session's (cross-site forms)."""
    if request.method != "POST":
        return
    sent = request.form.get(CSRF_FIELD, "")
    known = request.cookies.get(CSRF_COOKIE, "")
    if not known or not hmac.compare_digest(sent.encode(), known.encode()):
        abort(Response(render_template("admin/error.html", status=403, title="Forbidden",
                                       message="The form expired or did not come from this "
                                               "site. Reload the page and try again."),
                       status=403))


# -- who is calling -------------------------------------------------------------------------
def context() -> ExtensionContext:
    """The caller's context: services bound to the request's own accountability."""
    return ExtensionContext(current_cms(), get_accountability())


def signed_in(view: F) -> F:
    """Send anonymous callers to the login page; callers without app access get a 403."""
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        acc = get_accountability()
        if acc.user is None:
            return redirect("/admin/login?" + urlencode({"next": request.full_path.rstrip("?")}))
        if not (acc.admin or acc.app):
            raise ForbiddenError("Your account has no access to the admin app.")
        return view(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


def navigation(acc: Accountability) -> list[dict[str, Any]]:
    """The collections the caller may read, without system, hidden and folder ones."""
    out = []
    for c in CollectionsService(current_cms(), acc).read_all():
        meta = c.get("meta") or {}
        if c["collection"].startswith("directus_") or meta.get("hidden") or c.get("schema") is None:
            continue
        out.append({"collection": c["collection"], "note": meta.get("note")})
    return sorted(out, key=lambda c: c["collection"])


def page(template: str, status: int = 200, **values: Any) -> tuple[str, int]:
    """Render a signed-in page: the layout needs the caller and the navigation."""
    acc = get_accountability()
    values.setdefault("nav", navigation(acc) if acc.user else [])
    return render_template(template, acc=acc, **values), status


def project_color() -> str | None:
    """The project's colour (settings ``project_color``), once per request, for the layout's
    ``--accent`` custom property; anything but ``#rrggbb`` is left out of the page."""
    if "_admin_color" not in g:
        try:
            value = ExtensionContext(current_cms()).settings().get("project_color")
        except TransomError:
            value = None
        g._admin_color = value if isinstance(value, str) and COLOR.fullmatch(value) else None
    return g._admin_color


@bp.app_template_filter("on_color")
def on_color(color: str) -> str:
    """Black or white, whichever reads better on ``color`` (WCAG relative luminance), so a
    light project colour keeps button text legible."""
    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    lum = (0.2126 * channel(color[1:3]) + 0.7152 * channel(color[3:5])
           + 0.0722 * channel(color[5:7]))
    return "#000000" if (lum + 0.05) / 0.05 > 1.05 / (lum + 0.05) else "#ffffff"


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "csrf_field": CSRF_FIELD, "project_color": project_color}


@bp.app_template_filter("cell")
def cell(value: Any) -> str:
    """A value as the text of a list cell: lists joined, objects as JSON, null empty."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)


@bp.errorhandler(TransomError)
def _error_page(exc: TransomError) -> Any:
    """Typed errors of the services as an HTML page with the same status code."""
    status = getattr(exc, "status", 500)
    if status == 401:
        return redirect("/admin/login")
    title = {400: "Bad request", 403: "Forbidden", 404: "Not found"}.get(status, "Error")
    acc = g.get("_transom_accountability")
    return render_template("admin/error.html", status=status, title=title,
                           message=exc.message, acc=acc, nav=[]), status


def errors_by_field(exc: TransomError) -> tuple[dict[str, str], list[str]]:
    """Split an API error into messages per field and general messages."""
    fields: dict[str, str] = {}
    general: list[str] = []
    for err in getattr(exc, "errors", None) or [exc]:
        name = (getattr(err, "extensions", None) or {}).get("field")
        if name:
            fields.setdefault(str(name), err.message)
        else:
            general.append(err.message)
    return fields, general
