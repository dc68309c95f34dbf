"""LDAP login for Transom: Directus 11's ``ldap`` auth driver.

Each name in ``AUTH_PROVIDERS`` whose ``AUTH_<NAME>_DRIVER`` is ``ldap`` becomes a provider;
``POST /auth/login/<name>`` with ``{identifier, password}`` then answers tokens like the local
login (the auth plugin keeps the login policy: modes, stalls, limits, sessions).
"""

from __future__ import annotations

from typing import Any

from transom.api import hookimpl

from .settings import PROVIDERS_SETTING, LdapSettings, option, provider_names

__all__ = ["LdapProvider", "LdapSettings"]

# ``provider`` imports ldap3: only an app that configures an ldap provider imports it.


def __getattr__(name: str) -> Any:
    """``LdapProvider`` on first use (module attribute hook, PEP 562)."""
    if name == "LdapProvider":
        from .provider import LdapProvider
        return LdapProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@hookimpl
def register_settings() -> Any:
    return [PROVIDERS_SETTING]


@hookimpl
def register_auth_providers(cms: Any) -> Any:
    names = [name for name in provider_names(cms.config)
             if str(option(cms.config, name, "DRIVER", "")).lower() == "ldap"]
    if not names:
        return []
    from .provider import LdapProvider
    return [LdapProvider(LdapSettings.read(cms.config, name)) for name in names]
