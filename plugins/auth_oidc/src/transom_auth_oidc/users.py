"""The ``directus_users`` row of an OpenID Connect or OAuth2 identity.

Users are linked by ``external_identifier`` (the claim ``IDENTIFIER_KEY`` names); the finding,
creating and races are :func:`transom_auth_jwt.sso.link_or_create`'s. What is this driver's:
the claims read, and ``SYNC_USER_INFO`` (a linked user's email and names refreshed at login).
"""

from __future__ import annotations

from typing import Any

from transom_auth_jwt import sso

from .settings import OAuthSettings


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and str(value) != "" else None


def profile(settings: OAuthSettings, claims: dict[str, Any]) -> dict[str, Any]:
    """The ``directus_users`` fields the claims give."""
    return sso.user_fields(_text(claims.get(settings.email_key)),
                           _text(claims.get(settings.first_name_key)),
                           _text(claims.get(settings.last_name_key)))


def link_or_create(cms: Any, settings: OAuthSettings, identifier: str,
                   fields: dict[str, Any]) -> dict[str, Any] | None:
    """The user linked to ``identifier``, created when registration is open (see
    :func:`transom_auth_jwt.sso.link_or_create`)."""
    def refresh(user: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in fields.items() if v is not None}

    return sso.link_or_create(
        cms, settings.name, identifier, fields, role=settings.default_role_id,
        register=settings.allow_public_registration,
        refresh=refresh if settings.sync_user_info else None)
