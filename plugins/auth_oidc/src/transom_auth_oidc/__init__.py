"""OpenID Connect and OAuth2 single sign-on for Transom (Directus 11's ``openid`` and
``oauth2`` auth drivers).

Each name in ``AUTH_PROVIDERS`` whose ``AUTH_<NAME>_DRIVER`` is ``openid`` or ``oauth2``
becomes a provider, listed by ``GET /auth``; ``GET /auth/login/<name>?redirect=...`` starts
the browser flow and ``GET /auth/login/<name>/callback`` finishes it. Sessions and tokens are
the auth plugin's (transom-auth-jwt). See docs/sso.md.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from transom.api import RouteNotFoundError, hookimpl

from .settings import DRIVERS, PROVIDERS_SETTING, OAuthSettings, option, provider_names

__all__ = ["OAuthProvider", "OAuthSettings"]

# ``provider`` and ``routes`` import authlib, joserfc and requests (~0.3 s): they are
# imported only by an app that configures an openid/oauth2 provider.


def __getattr__(name: str) -> Any:
    """``OAuthProvider`` on first use (module attribute hook, PEP 562)."""
    if name == "OAuthProvider":
        from .provider import OAuthProvider
        return OAuthProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _names(cms: Any) -> list[str]:
    return [name for name in provider_names(cms.config)
            if str(option(cms.config, name, "DRIVER", "")).lower() in DRIVERS]


@hookimpl
def register_settings() -> Any:
    return [PROVIDERS_SETTING]


@hookimpl
def register_blueprints(cms: Any) -> Any:
    if not _names(cms):
        return _unknown_providers()
    from .routes import bp
    return bp


def _unknown_providers() -> Blueprint:
    """Without a configured provider, the browser routes still answer 404 ROUTE_NOT_FOUND
    for any name (as ``routes`` does for a name that is not an oauth provider), rather than
    the 405 of the ``POST /auth/login/<provider>`` rule of transom-auth-jwt."""
    bp = Blueprint("transom_auth_oidc_none", __name__)

    def not_found(name: str) -> Any:
        raise RouteNotFoundError(request.path)

    bp.add_url_rule("/auth/login/<name>", "start", not_found, methods=["GET"])
    bp.add_url_rule("/auth/login/<name>/callback", "callback", not_found, methods=["GET"])
    return bp


@hookimpl
def register_auth_providers(cms: Any) -> Any:
    names = _names(cms)
    if not names:
        return []
    from .provider import OAuthProvider
    return [OAuthProvider(OAuthSettings.read(cms.config, name)) for name in names]
