"""LDAP login for Transom: Directus 11's ``ldap`` auth driver.

Each name in ``AUTH_PROVIDERS`` whose ``AUTH_<NAME>_DRIVER`` is ``ldap`` becomes a provider;
``POST /auth/login/<name>`` with ``{identifier, password}`` then answers tokens like the local
login (the auth plugin keeps the login policy: modes, stalls, limits, sessions).
"""

from __future__ import annotations

from typing import Any

from transom.api import hookimpl

from .provider import LdapProvider
from .settings import PROVIDERS_SETTING, LdapSettings, option, provider_names

__all__ = ["LdapProvider", "LdapSettings"]


@hookimpl
def register_settings() -> Any:
    return [PROVIDERS_SETTING]


@hookimpl
def register_auth_providers(cms: Any) -> Any:
    return [LdapProvider(LdapSettings.read(cms.config, name))
            for name in provider_names(cms.config)
            if str(option(cms.config, name, "DRIVER", "")).lower() == "ldap"]
