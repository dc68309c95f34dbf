"""SAML 2.0 single sign-on for Transom (Directus 11's ``saml`` auth driver), with pysaml2.

Each name in ``AUTH_PROVIDERS`` whose ``AUTH_<NAME>_DRIVER`` is ``saml`` becomes a provider,
listed by ``GET /auth``; ``GET /auth/login/<name>?redirect=...`` sends the browser to the IdP
and ``POST /auth/login/<name>/acs`` receives its signed response. Sessions and tokens are the
auth plugin's (transom-auth-jwt). See README.md and docs/sso.md.
"""

from __future__ import annotations

from typing import Any

from transom.api import hookimpl

from .replay import extend_schema, register_migrations  # noqa: F401 - hooks of the table
from .settings import DRIVER, PROVIDERS_SETTING, SamlSettings, option, provider_names

__all__ = ["SamlProvider", "SamlSettings"]

# ``provider`` and ``routes`` import pysaml2, which builds its XML schema validators at
# import (~2.6 s): they are imported only by an app that configures a saml provider, so a
# deployment without SAML starts without them.


def __getattr__(name: str) -> Any:
    """``SamlProvider`` on first use (module attribute hook, PEP 562)."""
    if name == "SamlProvider":
        from .provider import SamlProvider
        return SamlProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _names(cms: Any) -> list[str]:
    return [name for name in provider_names(cms.config)
            if str(option(cms.config, name, "DRIVER", "")).lower() == DRIVER]


@hookimpl
def register_settings() -> Any:
    return [PROVIDERS_SETTING]


@hookimpl
def register_blueprints(cms: Any) -> Any:
    names = _names(cms)
    if not names:
        return None
    from .routes import blueprint
    return blueprint(names)


@hookimpl
def register_auth_providers(cms: Any) -> Any:
    names = _names(cms)
    if not names:
        return []
    from .provider import SamlProvider
    return [SamlProvider(SamlSettings.read(cms.config, name)) for name in names]
