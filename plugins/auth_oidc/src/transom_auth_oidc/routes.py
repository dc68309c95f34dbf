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
from transom_auth_jwt import get_state
from transom_auth_jwt import service as auth

from transom.api import (
    InvalidCredentialsError,
    InvalidPayloadError,
    RouteNotFoundError,
    TransomError,
    client_ip,
    current_cms,
    json_response,
)

from . import state_cookie
from .provider import OAuthProvider

log = logging.getLogger("transom.auth.oidc")

bp = Blueprint("transom_auth_oidc", __name__)


def _provider(name: str) -> tuple[Any, Any, OAuthProvider]:
    cms = current_cms()
    state = get_state(cms)
    provider = state.providers.get(name)
    if not isinstance(provider, OAuthProvider):
        raise RouteNotFoundError(request.path)
    return cms, state, provider


def _public_root(cms: Any) -> str:
    public = str(cms.config.get("PUBLIC_URL") or "/")
    if public.startswith(("http://", "https://")):
        return public.rstrip("/")
    return request.url_root.rstrip("/") + "/" + public.strip("/") if public.strip("/") \
        else request.url_root.rstrip("/")


def callback_url(cms: Any, name: str) -> str:
    return f"{_public_root(cms)}/auth/login/{name}/callback"


def _origin(url: str) -> tuple[str, str, str] | None:
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme.lower(), parts.netloc.lower(), parts.path or "/"


def redirect_allowed(cms: Any, provider: OAuthProvider, target: str) -> bool:
    """Directus's rule: a path on this server, the public URL's host, or a URL of the
    provider's ``REDIRECT_ALLOW_LIST`` (same scheme, host, port and path)."""
    if target.startswith("/") and not target.startswith(("//", "/\\")) and \
            not any(c in target for c in "\r\n\t\\"):
        return True
    wanted = _origin(target)
    if wanted is None:
        return False
    public = _origin(_public_root(cms))
    if public is not None and public[:2] == wanted[:2]:
        return True
    return any(_origin(a) == wanted for a in provider.settings.redirect_allow_list)


def _cookie_kwargs(cms: Any) -> dict[str, Any]:
    secure = _public_root(cms).startswith("https://")
    return {"httponly": True, "samesite": "Lax", "secure": secure, "path": "/"}


@bp.get("/auth/login/<name>")
def start(name: str) -> Response:
    cms, state, provider = _provider(name)
    target = request.args.get("redirect") or None
    if target is not None and not redirect_allowed(cms, provider, target):
        raise InvalidPayloadError(f'URL "{target}" can\'t be used to redirect after login')
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
    caller = auth.Caller(ip=client_ip(), user_agent=request.headers.get("User-Agent"),
                         origin=request.headers.get("Origin"))
    payload = {"code": request.args["code"], "code_verifier": str(data["verifier"]),
               "nonce": str(data["nonce"]), "redirect_uri": callback_url(cms, provider.name)}
    if isinstance(data.get("otp"), str):
        payload["otp"] = data["otp"]  # checked by the login policy for users with TFA
    user, emit = auth.authenticate(cms, state, provider, payload, caller)
    mode = provider.settings.mode if target else "json"
    issued = auth.issue_session(cms, state, user, mode, caller, provider.name)
    emit("success")
    if not target:
        return json_response({"data": {"access_token": issued.access_token,
                                       "refresh_token": issued.refresh_token,
                                       "expires": issued.expires_ms}})
    resp = redirect(target, code=302)
    if mode == "session":
        c = state.settings.session_cookie
        resp.set_cookie(c.name, issued.access_token, **c.set_kwargs())
    else:
        c = state.settings.refresh_cookie
        resp.set_cookie(c.name, issued.refresh_token, **c.set_kwargs())
    return resp
