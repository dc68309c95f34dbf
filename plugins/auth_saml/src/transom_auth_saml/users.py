"""The ``directus_users`` row of a SAML identity.

As Directus does, the identity (the ``IDENTIFIER_KEY`` attribute) is stored lower-cased in
``external_identifier`` and looked up lower-cased (the provider lower-cases it); the finding,
creating and races are :func:`transom_auth_jwt.sso.link_or_create`'s. A linked user is not
updated at login.
"""

from __future__ import annotations

from typing import Any

from transom_auth_jwt import sso

from .settings import SamlSettings
from .sp import Assertion


def profile(settings: SamlSettings, assertion: Assertion) -> dict[str, Any]:
    """The ``directus_users`` fields the attributes give."""
    return sso.user_fields(assertion.first(settings.email_key),
                           assertion.first(settings.given_name_key),
                           assertion.first(settings.family_name_key))


def link_or_create(cms: Any, settings: SamlSettings, identifier: str,
                   fields: dict[str, Any]) -> dict[str, Any] | None:
    """The user linked to ``identifier``, created when registration is open (see
    :func:`transom_auth_jwt.sso.link_or_create`)."""
    return sso.link_or_create(cms, settings.name, identifier, fields,
                              role=settings.default_role_id,
                              register=settings.allow_public_registration)
