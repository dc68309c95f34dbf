"""``GET /auth/login/<provider>`` starts a browser login, ``.../callback`` finishes it.

The start answers a redirect to the identity provider with fresh ``state``, ``nonce`` and PKCE
challenge, and keeps them (with the caller's ``redirect`` and, for a user with two-factor
authentication, the ``otp`` query parameter, as Directus 11 carries it) in a signed cookie:
no worker memory is involved, so the callback may land anywhere. The callback checks the
cookie and the state, runs the auth plugin's login (the provider exchanges the code), then
either sets the session (or refresh) cookie and redirects, or answers the tokens as JSON.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, redirect, request
from transom_auth_jwt import sso

from transom.api import (
    InvalidCredentialsError,
    InvalidPayloadError,
    TransomError,
)

from . import state_cookie
from .provider import OAuthProvider

log = logging.getLogger("transom.auth.oidc")

bp = Blueprint("transom_auth_oidc", __name__)


def _provider(name: str) -> tuple[Any, Any, OAuthProvider]:
    return sso.provider_of(name, OAuthProvider)


def callback_url(cms: Any, name: str) -> str:
    return f"{sso.public_root(cms)}/auth/login/{name}/callback"


def _cookie_kwargs(cms: Any) -> dict[str, Any]:
    secure = sso.public_root(cms).startswith("https://")
    return {"httponly": True, "samesite": "Lax", "secure": secure, "path": "/"}


@bp.get("/auth/login/<name>")
def start(name: str) -> Response:
    cms, state, provider = _provider(name)
    target = sso.redirect_target(cms, provider.settings.redirect_allow_list)
    otp = request.args.get("otp") or None  # Directus: a TFA user's code rides the flow
    if otp is not None and (len(otp) > 16 or not otp.strip().isdigit()):
        raise InvalidPayloadError('"otp" must be a one-time password')
    data = {"provider": name, "state": secrets.token_urlsafe(24),
            "nonce": secrets.token_urlsafe(24), "verifier": secrets.token_urlsafe(48),
            "redirect": target, "otp": otp}
    url = provider.idp.authorization_url(callback_url(cms, name), data["state"],
                                         data["nonce"], data["verifier"])
    resp = redirect(url, code=302)
    resp.set_cookie(state_cookie.cookie_name(provider.driver, name),
                    state_cookie.seal(state.secret, data), max_age=state_cookie.TTL_S,
                    **_cookie_kwargs(cms))
    return resp


def _with_reason(target: str, code: str) -> str:
    parts = urlsplit(target)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode({"reason": code}),
                       parts.fragment))


@bp.get("/auth/login/<name>/callback")
def callback(name: str) -> Response:
    cms, state, provider = _provider(name)
    cookie = state_cookie.cookie_name(provider.driver, name)
    try:
        data = state_cookie.unseal(state.secret, request.cookies.get(cookie), name)
    except TransomError:
        log.warning("SSO callback for %s without a valid state cookie", name)
        raise
    target = data.get("redirect")
    try:
        resp = _finish(cms, state, provider, data, target)
    except TransomError as exc:
        if not target:
            raise
        resp = redirect(_with_reason(target, exc.code), code=302)
    resp.delete_cookie(cookie, **{k: v for k, v in _cookie_kwargs(cms).items()
                                  if k in ("path", "secure", "httponly", "samesite")})
    return resp


def _finish(cms: Any, state: Any, provider: OAuthProvider, data: dict[str, Any],
            target: str | None) -> Response:
    returned = request.args.get("state")
    if not isinstance(returned, str) or not hmac.compare_digest(returned, str(data["state"])):
        raise InvalidCredentialsError()
    if request.args.get("error") or not request.args.get("code"):
        raise InvalidCredentialsError()  # the user or the provider said no
    payload = {"code": request.args["code"], "code_verifier": str(data["verifier"]),
               "nonce": str(data["nonce"]), "redirect_uri": callback_url(cms, provider.name)}
    if isinstance(data.get("otp"), str):
        payload["otp"] = data["otp"]  # checked by the login policy for users with TFA
    return sso.finish_login(cms, state, provider, payload, sso.caller(),
                            provider.settings.mode, target)
