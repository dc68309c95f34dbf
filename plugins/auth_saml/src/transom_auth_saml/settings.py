"""``AUTH_<NAME>_*`` settings of SAML providers, with Directus 11's names.

Directus hands every ``AUTH_<NAME>_SP_*`` and ``AUTH_<NAME>_IDP_*`` variable to samlify; the
two that matter, and the only ones read here, are ``SP_metadata`` and ``IDP_metadata`` (XML).
Any other ``SP_*``/``IDP_*`` variable (a private key for signed requests or encrypted
assertions, say) stops the start-up rather than being silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transom_auth_jwt.sso import PROVIDERS_SETTING, csv, flag, login_mode, option, provider_names
from transom_auth_jwt.sso import text_option as _text_option

from transom.api import StartupError

__all__ = ["DRIVER", "PROVIDERS_SETTING", "SamlSettings", "option", "provider_names"]

DRIVER = "saml"
#: the claim URIs Directus reads by default (the WS-Federation names most IdPs send)
CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
#: a pseudo attribute: the assertion's ``<Subject><NameID>`` (a Transom addition)
NAME_ID = "nameID"
SUPPORTED_XML = {"SP_metadata", "IDP_metadata"}


@dataclass(frozen=True)
class SamlSettings:
    """One SAML provider: the two metadata documents and the attribute names."""

    name: str
    sp_metadata: str | None
    idp_metadata: str
    identifier_key: str
    email_key: str
    given_name_key: str
    family_name_key: str
    allow_public_registration: bool
    default_role_id: str | None
    redirect_allow_list: tuple[str, ...]
    mode: str
    label: str | None
    icon: str | None

    @classmethod
    def read(cls, config: Any, name: str) -> SamlSettings:
        prefix = f"AUTH_{name.upper()}_"

        def get(key: str, default: Any = None) -> Any:
            return _text_option(config, name, key, default)

        unknown = sorted(k for k in config.with_prefix(prefix)
                         if k.startswith(("SP_", "IDP_")) and k not in SUPPORTED_XML)
        if unknown:
            raise StartupError(f"SAML provider {name!r}: " + ", ".join(
                prefix + k for k in unknown) + " not supported (only SP_metadata and "
                "IDP_metadata are read; requests are not signed and assertions must not be "
                "encrypted)")
        idp = get("IDP_metadata")
        if not idp:
            raise StartupError(f"SAML provider {name!r}: set {prefix}IDP_metadata "
                               "(the identity provider's metadata XML)")
        mode = login_mode(config, name)
        return cls(
            name=name, sp_metadata=get("SP_metadata"), idp_metadata=idp,
            identifier_key=get("IDENTIFIER_KEY", CLAIMS + "nameidentifier"),
            email_key=get("EMAIL_KEY", CLAIMS + "emailaddress"),
            given_name_key=get("GIVEN_NAME_KEY", CLAIMS + "givenname"),
            family_name_key=get("FAMILY_NAME_KEY", CLAIMS + "surname"),
            allow_public_registration=flag(config, name, "ALLOW_PUBLIC_REGISTRATION"),
            default_role_id=get("DEFAULT_ROLE_ID"),
            redirect_allow_list=csv(option(config, name, "REDIRECT_ALLOW_LIST")),
            mode=mode, label=get("LABEL"), icon=get("ICON"),
        )
