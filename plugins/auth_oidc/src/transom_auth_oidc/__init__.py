"""OpenID Connect and OAuth2 single sign-on for Transom (Directus 11's ``openid`` and
``oauth2`` auth drivers).

Each name in ``AUTH_PROVIDERS`` whose ``AUTH_<NAME>_DRIVER`` is ``openid`` or ``oauth2``
becomes a provider, listed by ``GET /auth``; ``GET /auth/login/<name>?redirect=...`` starts
the browser flow and ``GET /auth/login/<name>/callback`` finishes it. Sessions and tokens are
the auth plugin's (transom-auth-jwt). See docs/sso.md.
"""

from __future__ import annotations

from typing import Any

from transom.api import hookimpl

from .provider import OAuthProvider
from .routes import bp
from .settings import DRIVERS, PROVIDERS_SETTING, OAuthSettings, option, provider_names

__all__ = ["OAuthProvider", "OAuthSettings"]


@hookimpl
def register_settings() -> Any:
    return [PROVIDERS_SETTING]


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp


@hookimpl
def register_auth_providers(cms: Any) -> Any:
    return [OAuthProvider(OAuthSettings.read(cms.config, name))
            for name in provider_names(cms.config)
            if str(option(cms.config, name, "DRIVER", "")).lower() in DRIVERS]
