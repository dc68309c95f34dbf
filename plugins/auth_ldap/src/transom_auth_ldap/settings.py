"""``AUTH_<NAME>_*`` settings of LDAP providers, read as Directus 11 names them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transom_auth_jwt.sso import PROVIDERS_SETTING, option, provider_names
from transom_auth_jwt.sso import text_option as _text_option

from transom.api import StartupError

__all__ = ["PROVIDERS_SETTING", "SCOPES", "LdapSettings", "option", "provider_names"]

SCOPES = ("base", "one", "sub")


@dataclass(frozen=True)
class LdapSettings:
    """One LDAP provider's directory coordinates and attribute names."""

    name: str
    client_url: str
    bind_dn: str | None
    bind_password: str | None
    user_dn: str
    user_attribute: str
    user_scope: str
    mail_attribute: str
    first_name_attribute: str
    last_name_attribute: str
    group_dn: str | None
    group_attribute: str
    group_scope: str
    default_role_id: str | None
    label: str | None
    icon: str | None

    @classmethod
    def read(cls, config: Any, name: str) -> LdapSettings:
        def get(key: str, default: Any = None) -> Any:
            return _text_option(config, name, key, default)

        missing = [k for k in ("CLIENT_URL", "USER_DN") if not get(k)]
        if missing:
            raise StartupError(f"LDAP provider {name!r}: set " + ", ".join(
                f"AUTH_{name.upper()}_{k}" for k in missing))
        out = cls(
            name=name, client_url=get("CLIENT_URL"), bind_dn=get("BIND_DN"),
            bind_password=get("BIND_PASSWORD"), user_dn=get("USER_DN"),
            user_attribute=get("USER_ATTRIBUTE", "cn"),
            user_scope=get("USER_SCOPE", "one").lower(),
            mail_attribute=get("MAIL_ATTRIBUTE", "mail"),
            first_name_attribute=get("FIRST_NAME_ATTRIBUTE", "givenName"),
            last_name_attribute=get("LAST_NAME_ATTRIBUTE", "sn"),
            group_dn=get("GROUP_DN"), group_attribute=get("GROUP_ATTRIBUTE", "member"),
            group_scope=get("GROUP_SCOPE", "one").lower(),
            default_role_id=get("DEFAULT_ROLE_ID"), label=get("LABEL"), icon=get("ICON"),
        )
        for key, scope in (("USER_SCOPE", out.user_scope), ("GROUP_SCOPE", out.group_scope)):
            if scope not in SCOPES:
                raise StartupError(f"AUTH_{name.upper()}_{key}={scope!r}: choose one of "
                                   + ", ".join(SCOPES))
        return out
