"""JWT authentication for Transom: login, refresh, logout, password reset.

Wire-compatible with Directus 11's ``/auth`` routes and tokens (HS256 JWTs signed with
``SECRET``, issuer ``directus``; refresh tokens as ``directus_sessions`` rows). See README.md
for routes, settings and security notes.
"""

from __future__ import annotations

from typing import Any

from flask import g

from transom.api import client_ip, hookimpl

from . import jwt_tokens, onboarding, shares, social, sso  # noqa: F401 - sso: for the SSO plugins
from .limits import extend_schema, register_migrations  # noqa: F401 - hooks of the counters
from .local import LocalProvider
from .onboarding_routes import bp as onboarding_bp
from .resolve import CLAIMS_KEY, CLEAR_SESSION_FLAG, accountability_for_request, request_claims
from .routes import bp
from .service import InvalidProviderError
from .settings import SETTINGS
from .state import get_state

__all__ = ["CLAIMS_KEY", "InvalidProviderError", "LocalProvider", "get_state", "request_claims"]


@hookimpl
def register_settings() -> Any:
    return [*SETTINGS, *onboarding.SETTINGS]


@hookimpl
def register_filters(cms: Any) -> Any:
    return social.FILTERS


@hookimpl
def register_listeners(cms: Any) -> Any:
    return social.LISTENERS


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return [bp, onboarding_bp]


@hookimpl
def register_auth_providers(cms: Any) -> Any:
    return LocalProvider()


@hookimpl
def init_app(cms: Any, app: Any) -> None:
    state = get_state(cms)  # fail at start-up, not on the first login, if misconfigured
    jwt_tokens.install(app, state.secret)  # flask-jwt-extended checks every token
    cookie = state.settings.session_cookie

    @app.after_request
    def _clear_dead_session_cookie(resp: Any) -> Any:
        if g.get(CLEAR_SESSION_FLAG):
            resp.delete_cookie(cookie.name, **cookie.clear_kwargs())
        return resp


@hookimpl(tryfirst=True)
def accountability_from_request(cms: Any, request: Any) -> Any:
    # Before core's static tokens (trylast): JWTs are recognised here, the rest passes on.
    acc = accountability_for_request(cms, request)
    claims = request_claims(request) if acc is None else None
    if claims is not None:  # a verified Directus JWT with no user: a share's
        return shares.accountability_for_claims(cms, get_state(cms), claims, client_ip())
    return acc
