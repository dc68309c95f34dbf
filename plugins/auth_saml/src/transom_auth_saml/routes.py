"""The SAML routes of each ``saml`` provider ``<name>``, Directus's paths:

* ``GET /auth/login/<name>?redirect=<url>``: 302 to the IdP with an ``AuthnRequest``;
* ``POST /auth/login/<name>/acs``: the assertion consumer service (HTTP-POST binding);
* ``GET /auth/login/<name>/metadata``: the SP metadata (``text/xml``);
* ``POST /auth/login/<name>/logout``: ends the Transom session.

The rules are written with the provider names spelled out (static rules win over the
``/auth/login/<provider>`` rules of other plugins), in a blueprint made per app.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, redirect, request
from transom_auth_jwt import get_state, jwt_tokens
from transom_auth_jwt import service as auth

from transom.api import (
    InvalidPayloadError,
    RouteNotFoundError,
    TransomError,
    client_ip,
    current_cms,
    json_response,
    no_content,
)

from . import relay
from .provider import SamlProvider

log = logging.getLogger("transom.auth.saml")


def _provider(name: str) -> tuple[Any, Any, SamlProvider]:
    cms = current_cms()
    state = get_state(cms)
    provider = state.providers.get(name)
    if not isinstance(provider, SamlProvider):
        raise RouteNotFoundError(request.path)
    return cms, state, provider


def public_root(cms: Any) -> str:
    """``PUBLIC_URL`` without its trailing slash; a relative one is put on the request's
    own root."""
    public = str(cms.config.get("PUBLIC_URL") or "/")
    if public.startswith(("http://", "https://")):
        return public.rstrip("/")
    root = request.url_root.rstrip("/")
    return root + "/" + public.strip("/") if public.strip("/") else root


def _origin(url: str) -> tuple[str, str, str] | None:
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme.lower(), parts.netloc.lower(), parts.path or "/"


def redirect_allowed(cms: Any, provider: SamlProvider, target: str) -> bool:
    """Directus's rule: a path on this server, the public URL's host, or a URL of the
    provider's ``REDIRECT_ALLOW_LIST`` (same scheme, host, port and path)."""
    if target.startswith("/") and not target.startswith(("//", "/\\")) and \
            not any(c in target for c in "\r\n\t\\"):
        return True
    wanted = _origin(target)
    if wanted is None:
        return False
    public = _origin(public_root(cms))
    if public is not None and public[:2] == wanted[:2]:
        return True
    return any(_origin(a) == wanted for a in provider.settings.redirect_allow_list)


def _target(cms: Any, provider: SamlProvider) -> str | None:
    target = request.args.get("redirect") or None
    if target is not None and not redirect_allowed(cms, provider, target):
        raise InvalidPayloadError(f'URL "{target}" can\'t be used to redirect after login')
    return target


def start(name: str) -> Response:
    """302 to the IdP; the request ID and redirect ride in the signed RelayState."""
    cms, state, provider = _provider(name)
    target = _target(cms, provider)
    request_id = "id-" + secrets.token_hex(16)  # an NCName, as SAML IDs must be
    relay_state = relay.seal(state.secret, name, request_id, target)
    return redirect(provider.sp.login_url(public_root(cms), request_id, relay_state),
                    code=302)


def metadata(name: str) -> Response:
    cms, _, provider = _provider(name)
    return Response(provider.sp.metadata(public_root(cms)), mimetype="text/xml")


def _with_reason(target: str, code: str) -> str:
    return f"{target.split('?')[0].split('#')[0]}?reason={code}"


def acs(name: str) -> Response:
    """Check the posted response; then the tokens (JSON), or a 302 to the redirect with the
    session (or refresh) cookie. A refusal goes back to the redirect as ``?reason=CODE``."""
    cms, state, provider = _provider(name)
    try:
        request_id, target = relay.unseal(state.secret, request.form.get("RelayState"), name)
    except TransomError:
        log.warning("SAML response for %s without a valid RelayState", name)
        raise
    if target is not None and not redirect_allowed(cms, provider, target):
        target = None  # the allow list changed since the login started: answer JSON
    try:
        return _finish(cms, state, provider, request_id, target)
    except TransomError as exc:
        if not target:
            raise
        return redirect(_with_reason(target, exc.code), code=302)


def _finish(cms: Any, state: Any, provider: SamlProvider, request_id: str,
            target: str | None) -> Response:
    saml_response = request.form.get("SAMLResponse")
    if not saml_response:
        raise InvalidPayloadError('"SAMLResponse" is required')
    caller = auth.Caller(ip=client_ip(), user_agent=request.headers.get("User-Agent"),
                         origin=request.headers.get("Origin"))
    payload = {"SAMLResponse": saml_response, "request_id": request_id,
               "root": public_root(cms)}
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


def logout(name: str) -> Response:
    """End the browser's session (session cookie, else refresh cookie) and clear both
    cookies; 302 to an allowed ``?redirect=``, else 204."""
    cms, state, provider = _provider(name)
    target = _target(cms, provider)
    token: str | None = None
    session_cookie = request.cookies.get(state.settings.session_cookie.name)
    if session_cookie:
        try:
            session = jwt_tokens.decode(session_cookie, allow_expired=True).get("session")
            token = str(session) if session else None
        except TransomError:
            token = None  # an unreadable cookie ends nothing; it is still cleared
    token = token or request.cookies.get(state.settings.refresh_cookie.name) or None
    if token:
        auth.end_session(cms, state, token)
    resp = redirect(target, code=302) if target else no_content()
    for cookie in (state.settings.refresh_cookie, state.settings.session_cookie):
        if cookie.name in request.cookies:
            resp.delete_cookie(cookie.name, **cookie.clear_kwargs())
    return resp


def blueprint(names: list[str]) -> Blueprint:
    """The routes of these providers, for one app."""
    bp = Blueprint("transom_auth_saml", __name__)
    for name in names:
        base = f"/auth/login/{name}"
        bp.add_url_rule(base, f"start_{name}", start, methods=["GET"],
                        defaults={"name": name})
        bp.add_url_rule(f"{base}/metadata", f"metadata_{name}", metadata, methods=["GET"],
                        defaults={"name": name})
        bp.add_url_rule(f"{base}/acs", f"acs_{name}", acs, methods=["POST"],
                        defaults={"name": name})
        bp.add_url_rule(f"{base}/logout", f"logout_{name}", logout, methods=["POST"],
                        defaults={"name": name})
    return bp
