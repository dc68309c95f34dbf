"""Routes of invites, registration, two-factor setup and share links (Directus 11 paths)."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request

from transom.api import (
    InvalidCredentialsError,
    TransomError,
    current_cms,
    get_accountability,
    json_response,
    no_content,
)

from . import onboarding, shares, tfa
from .routes import _body, _caller, _token_response
from .state import get_state

bp = Blueprint("transom_auth_jwt_onboarding", __name__)


def _me() -> str:
    acc = get_accountability()
    if acc is None or acc.user is None:
        raise InvalidCredentialsError()
    return str(acc.user)


# -- invites ------------------------------------------------------------------------------------
@bp.post("/users/invite")
def users_invite() -> Response:
    """Invite users by email (creates them with status "invited")."""
    cms = current_cms()
    onboarding.invite(cms, get_state(cms), get_accountability(), _body())
    return no_content()


@bp.post("/users/invite/accept")
def users_invite_accept() -> Response:
    """Accept an invitation: set the password, become active."""
    cms = current_cms()
    body = _body()
    onboarding.accept_invite(cms, get_state(cms), body.get("token"), body.get("password"))
    return no_content()


# -- public registration ------------------------------------------------------------------------
@bp.post("/users/register")
def users_register() -> Response:
    """Register from the public form (when the project allows it)."""
    cms = current_cms()
    onboarding.register(cms, get_state(cms), _body())
    return no_content()


@bp.get("/users/register/verify-email")
def users_register_verify() -> Response:
    """Follow a verification link: activate the account, then go to the login page.

    Directus answers with a redirect whatever happens (the link is opened in a browser);
    ``Accept: application/json`` gets the outcome as JSON instead (204, or the error)."""
    cms = current_cms()
    wants_json = request.accept_mimetypes.best == "application/json"
    login_page = f"{str(cms.config.get('PUBLIC_URL', '/')).rstrip('/')}/admin/login"
    try:
        onboarding.verify_registration(cms, get_state(cms), request.args.get("token"))
    except TransomError:
        if wants_json:
            raise
        return redirect(login_page, code=302)
    if wants_json:
        return no_content()
    return redirect(login_page, code=302)


# -- two-factor authentication ------------------------------------------------------------------
@bp.post("/users/me/tfa/generate")
def tfa_generate() -> Response:
    """A new TOTP secret and its otpauth:// URL (the password proves who asks)."""
    user = _me()
    data = tfa.generate(current_cms(), user, _body().get("password"))
    return json_response({"data": data})


@bp.post("/users/me/tfa/enable")
def tfa_enable() -> Response:
    """Store the secret once a code made from it is shown."""
    user = _me()
    cms = current_cms()
    body = _body()
    tfa.enable(cms, get_state(cms), user, body.get("secret"), body.get("otp"))
    return no_content()


@bp.post("/users/me/tfa/disable")
def tfa_disable() -> Response:
    """Remove the secret (a current code proves the caller holds it)."""
    user = _me()
    cms = current_cms()
    tfa.disable(cms, get_state(cms), user, _body().get("otp"))
    return no_content()


@bp.post("/users/<pk>/tfa/disable")
def tfa_disable_for(pk: str) -> Response:
    """An admin removes a user's secret."""
    cms = current_cms()
    tfa.disable_for(cms, get_state(cms), get_accountability(), pk)
    return no_content()


# -- shares -------------------------------------------------------------------------------------
@bp.post("/shares/auth")
def shares_auth() -> Response:
    """Log in to a share: tokens that read only the shared item."""
    cms = current_cms()
    state = get_state(cms)
    body = _body()
    mode = shares.validate_login(body)
    issued = shares.login(cms, state, body, mode, _caller())
    return _token_response(state, issued, mode)


@bp.get("/shares/info/<pk>")
def shares_info(pk: str) -> Response:
    """Public facts of a share (is there a password, its window, uses)."""
    return json_response({"data": shares.info(current_cms(), pk)})


@bp.post("/shares/invite")
def shares_invite() -> Response:
    """Mail a link to a share to some addresses."""
    shares.invite(current_cms(), get_accountability(), _body())
    return no_content()
