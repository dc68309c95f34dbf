"""Finding or creating the ``directus_users`` row of a SAML identity.

As Directus does, the identity (the ``IDENTIFIER_KEY`` attribute) is stored lower-cased in
``external_identifier`` and looked up lower-cased; rows are written through
:class:`UsersService`, so validation and hooks run as for any other write.
"""

from __future__ import annotations

import re
from typing import Any

from transom.api import InvalidCredentialsError, TransomError, UsersService, find_user

from .settings import SamlSettings
from .sp import Assertion

#: what UsersService accepts as an email; a value that is not one is left out, not an error
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def profile(settings: SamlSettings, assertion: Assertion) -> dict[str, Any]:
    """The ``directus_users`` fields the attributes give."""
    email = assertion.first(settings.email_key)
    return {"email": email.lower() if email and EMAIL.match(email) else None,
            "first_name": assertion.first(settings.given_name_key),
            "last_name": assertion.first(settings.family_name_key)}


def link_or_create(cms: Any, settings: SamlSettings, identifier: str,
                   fields: dict[str, Any]) -> dict[str, Any] | None:
    """The user linked to ``identifier``, created when registration is open.

    * linked user: returned;
    * unknown, registration closed: INVALID_CREDENTIALS, as Directus answers;
    * unknown, an account of another provider has the email: that account, so the login
      fails with INVALID_PROVIDER rather than taking it over;
    * else created, active, with ``DEFAULT_ROLE_ID``.
    """
    user = find_user(cms, external_identifier=identifier)
    if user is not None:
        return user
    if not settings.allow_public_registration:
        raise InvalidCredentialsError()
    if fields.get("email"):
        same = find_user(cms, email=fields["email"])
        if same is not None:
            if same.get("provider") == settings.name:
                raise InvalidCredentialsError()  # another identity of ours owns the email
            return same
    try:
        UsersService(cms).create_one({**fields, "provider": settings.name, "status": "active",
                                      "external_identifier": identifier,
                                      "role": settings.default_role_id})
    except TransomError:
        # the same identity's first login on another worker created it first: use that one
        user = find_user(cms, external_identifier=identifier)
        if user is None:
            raise
        return user
    return find_user(cms, external_identifier=identifier)
