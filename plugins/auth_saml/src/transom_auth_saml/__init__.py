"""SAML 2.0 single sign-on for Transom (Directus 11's ``saml`` auth driver), with pysaml2.

Each name in ``AUTH_PROVIDERS`` whose ``AUTH_<NAME>_DRIVER`` is ``saml`` becomes a provider,
listed by ``GET /auth``; ``GET /auth/login/<name>?redirect=...`` sends the browser to the IdP
and ``POST /auth/login/<name>/acs`` receives its signed response. Sessions and tokens are the
auth plugin's (transom-auth-jwt). See README.md and docs/sso.md.
"""

from __future__ import annotations

from typing import Any

from transom.api import hookimpl

from .provider import SamlProvider
from .replay import extend_schema, register_migrations  # noqa: F401 - hooks of the table
from .routes import blueprint
from .settings import DRIVER, PROVIDERS_SETTING, SamlSettings, option, provider_names

__all__ = ["SamlProvider", "SamlSettings"]


def _names(cms: Any) -> list[str]:
    return [name for name in provider_names(cms.config)
            if str(option(cms.config, name, "DRIVER", "")).lower() == DRIVER]


@hookimpl
def register_settings() -> Any:
    return [PROVIDERS_SETTING]


@hookimpl
def register_blueprints(cms: Any) -> Any:
    names = _names(cms)
    return blueprint(names) if names else None


@hookimpl
def register_auth_providers(cms: Any) -> Any:
    return [SamlProvider(SamlSettings.read(cms.config, name)) for name in _names(cms)]
