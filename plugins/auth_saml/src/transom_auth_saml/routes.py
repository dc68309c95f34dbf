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

from flask import Blueprint, Response, redirect, request
from transom_auth_jwt import jwt_tokens, sso
from transom_auth_jwt import service as auth
from transom_auth_jwt.sso import public_root

from transom.api import (
    InvalidPayloadError,
    TransomError,
    no_content,
)

from . import relay
from .provider import SamlProvider

log = logging.getLogger("transom.auth.saml")


def _provider(name: str) -> tuple[Any, Any, SamlProvider]:
    return sso.provider_of(name, SamlProvider)


def redirect_allowed(cms: Any, provider: SamlProvider, target: str) -> bool:
    """The shared redirect rule, with this provider's ``REDIRECT_ALLOW_LIST``."""
    return sso.redirect_allowed(cms, provider.settings.redirect_allow_list, target)


def _target(cms: Any, provider: SamlProvider) -> str | None:
    return sso.redirect_target(cms, provider.settings.redirect_allow_list)


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
    payload = {"SAMLResponse": saml_response, "request_id": request_id,
               "root": public_root(cms)}
    return sso.finish_login(cms, state, provider, payload, sso.caller(),
                            provider.settings.mode, target)


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
