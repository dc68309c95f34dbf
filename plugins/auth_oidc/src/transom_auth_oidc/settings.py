"""``AUTH_<NAME>_*`` settings of OpenID Connect and OAuth2 providers (Directus 11 names)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transom_auth_jwt.sso import PROVIDERS_SETTING, csv, flag, login_mode, option, provider_names
from transom_auth_jwt.sso import text_option as _text_option

from transom.api import StartupError

__all__ = ["DRIVERS", "PROVIDERS_SETTING", "OAuthSettings", "option", "provider_names"]

DRIVERS = ("openid", "oauth2")


@dataclass(frozen=True)
class OAuthSettings:
    """One provider's client registration and claim names."""

    name: str
    driver: str
    client_id: str
    client_secret: str | None
    issuer_url: str | None
    authorize_url: str | None
    access_url: str | None
    profile_url: str | None
    scope: str
    identifier_key: str
    email_key: str
    first_name_key: str
    last_name_key: str
    allow_public_registration: bool
    default_role_id: str | None
    redirect_allow_list: tuple[str, ...]
    sync_user_info: bool
    mode: str
    label: str | None
    icon: str | None

    @classmethod
    def read(cls, config: Any, name: str) -> OAuthSettings:
        def get(key: str, default: Any = None) -> Any:
            return _text_option(config, name, key, default)

        driver = str(get("DRIVER", "")).lower()
        openid = driver == "openid"
        required = ["CLIENT_ID"] + (["ISSUER_URL"] if openid else
                                    ["AUTHORIZE_URL", "ACCESS_URL", "PROFILE_URL"])
        missing = [k for k in required if not get(k)]
        if missing:
            raise StartupError(f"{driver} provider {name!r}: set " + ", ".join(
                f"AUTH_{name.upper()}_{k}" for k in missing))
        mode = login_mode(config, name)
        return cls(
            name=name, driver=driver, client_id=get("CLIENT_ID"),
            client_secret=get("CLIENT_SECRET"), issuer_url=get("ISSUER_URL"),
            authorize_url=get("AUTHORIZE_URL"), access_url=get("ACCESS_URL"),
            profile_url=get("PROFILE_URL"),
            scope=get("SCOPE", "openid profile email" if openid else "email"),
            identifier_key=get("IDENTIFIER_KEY", "sub" if openid else "email"),
            email_key=get("EMAIL_KEY", "email"),
            first_name_key=get("FIRST_NAME_KEY", "given_name"),
            last_name_key=get("LAST_NAME_KEY", "family_name"),
            allow_public_registration=flag(config, name, "ALLOW_PUBLIC_REGISTRATION"),
            default_role_id=get("DEFAULT_ROLE_ID"),
            redirect_allow_list=csv(option(config, name, "REDIRECT_ALLOW_LIST")),
            sync_user_info=flag(config, name, "SYNC_USER_INFO"), mode=mode,
            label=get("LABEL"), icon=get("ICON"),
        )
