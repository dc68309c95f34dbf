"""``AUTH_<NAME>_*`` settings of SAML providers, with Directus 11's names.

Directus hands every ``AUTH_<NAME>_SP_*`` and ``AUTH_<NAME>_IDP_*`` variable to samlify; the
two that matter, and the only ones read here, are ``SP_metadata`` and ``IDP_metadata`` (XML).
Any other ``SP_*``/``IDP_*`` variable (a private key for signed requests or encrypted
assertions, say) stops the start-up rather than being silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transom.api import Setting, StartupError

PROVIDERS_SETTING = Setting(
    "AUTH_PROVIDERS", None, "csv",
    "Login providers besides the local one (their AUTH_<NAME>_* settings configure them).")

DRIVER = "saml"
TRUE = ("true", "1", "yes", "on")
#: the claim URIs Directus reads by default (the WS-Federation names most IdPs send)
CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
#: a pseudo attribute: the assertion's ``<Subject><NameID>`` (a Transom addition)
NAME_ID = "nameID"
SUPPORTED_XML = {"SP_metadata", "IDP_metadata"}


def provider_names(config: Any) -> list[str]:
    """The names in ``AUTH_PROVIDERS`` (a list once declared, a string before)."""
    raw = config.get("AUTH_PROVIDERS") or []
    if isinstance(raw, str):
        raw = raw.split(",")
    return [str(n).strip() for n in raw if str(n).strip()]


def option(config: Any, name: str, key: str, default: Any = None) -> Any:
    """``AUTH_<NAME>_<KEY>``, or ``default`` when unset or empty."""
    value = config.get(f"AUTH_{name.upper()}_{key}")
    return default if value is None or value == "" else value


def _csv(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(str(i).strip() for i in items if str(i).strip())


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
            value = option(config, name, key, default)
            return str(value) if value is not None else None

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
        mode = str(get("MODE", "session")).lower()
        if mode not in ("session", "cookie"):
            raise StartupError(f"{prefix}MODE={mode!r}: choose session or cookie")
        return cls(
            name=name, sp_metadata=get("SP_metadata"), idp_metadata=idp,
            identifier_key=get("IDENTIFIER_KEY", CLAIMS + "nameidentifier"),
            email_key=get("EMAIL_KEY", CLAIMS + "emailaddress"),
            given_name_key=get("GIVEN_NAME_KEY", CLAIMS + "givenname"),
            family_name_key=get("FAMILY_NAME_KEY", CLAIMS + "surname"),
            allow_public_registration=str(option(config, name, "ALLOW_PUBLIC_REGISTRATION",
                                                 "false")).strip().lower() in TRUE,
            default_role_id=get("DEFAULT_ROLE_ID"),
            redirect_allow_list=_csv(option(config, name, "REDIRECT_ALLOW_LIST")),
            mode=mode, label=get("LABEL"), icon=get("ICON"),
        )
