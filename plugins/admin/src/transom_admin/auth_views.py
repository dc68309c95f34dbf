"""First run, sign-in, sign-out and password reset pages.

Signing in, out and resetting a password are done by the browser against the real
``/auth/*`` endpoints (``static/admin.js`` posts the form as JSON with ``mode: "session"``),
so the session cookie is made by the auth plugin, exactly as for any other client.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request

from transom.api import TransomError, current_cms, get_accountability

from . import setup, sso
from .common import bp, errors_by_field


def _safe_next(value: str | None) -> str:
    """Only same-site paths under /admin: never an open redirect."""
    if value and value.startswith("/admin") and not value.startswith("//"):
        return value
    return "/admin/content"


@bp.get("/")
def root() -> Any:
    return redirect("/admin")


@bp.get("/admin")
@bp.get("/admin/")
def home() -> Any:
    if not setup.admin_exists(current_cms()):
        return redirect("/admin/setup")
    if get_accountability().user is None:
        return redirect("/admin/login")
    return redirect("/admin/content")


@bp.route("/admin/setup", methods=["GET", "POST"])
def setup_page() -> Any:
    cms = current_cms()
    if setup.admin_exists(cms):
        return redirect("/admin/login")
    values = {"email": "", "project_name": "Transom"}
    errors: dict[str, str] = {}
    general: list[str] = []
    if request.method == "POST":
        values = {"email": request.form.get("email", ""),
                  "project_name": request.form.get("project_name", "")}
        try:
            setup.create_first_admin(cms, values["email"], request.form.get("password", ""),
                                     values["project_name"])
        except TransomError as exc:
            errors, general = errors_by_field(exc)
        else:
            return redirect("/admin/login?created=1")
    status = 400 if errors or general else 200
    return render_template("admin/setup.html", values=values, errors=errors,
                           general=general, acc=None, nav=[]), status


@bp.get("/admin/login")
def login_page() -> Any:
    target = _safe_next(request.args.get("next"))
    if get_accountability().user is not None:
        return redirect(target)
    links, forms = sso.buttons()
    return render_template("admin/login.html", next=target, sso_links=links, sso_forms=forms,
                           created=bool(request.args.get("created")), acc=None, nav=[])


@bp.get("/admin/reset-password")
def reset_page() -> Any:
    token = request.args.get("token", "")
    return render_template("admin/reset.html", token=token, acc=None, nav=[])
