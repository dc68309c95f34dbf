"""Finding, creating and updating the ``directus_users`` row of an SSO identity.

Users are linked by ``external_identifier`` (the claim ``IDENTIFIER_KEY`` names) and written
through :class:`UsersService`, so validation and hooks run as for any other write.
"""

from __future__ import annotations

import re
from typing import Any

from transom.api import InvalidCredentialsError, TransomError, UsersService, find_user

from .settings import OAuthSettings

#: what UsersService accepts as an email; a claim that is not one is left out, not an error
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and str(value) != "" else None


def profile(settings: OAuthSettings, claims: dict[str, Any]) -> dict[str, Any]:
    """The ``directus_users`` fields the claims give."""
    email = _text(claims.get(settings.email_key))
    return {"email": email.lower() if email and EMAIL.match(email) else None,
            "first_name": _text(claims.get(settings.first_name_key)),
            "last_name": _text(claims.get(settings.last_name_key))}


def link_or_create(cms: Any, settings: OAuthSettings, identifier: str,
                   fields: dict[str, Any]) -> dict[str, Any] | None:
    """The user linked to ``identifier``, created when registration is open.

    * linked user: returned (its email and names refreshed with ``SYNC_USER_INFO``);
    * unknown, registration closed: INVALID_CREDENTIALS, as Directus answers;
    * unknown, an account of another provider has the email: that account, so the login
      fails with INVALID_PROVIDER rather than taking it over;
    * else created, active, with ``DEFAULT_ROLE_ID``.
    """
    service = UsersService(cms)
    user = find_user(cms, external_identifier=identifier)
    if user is not None:
        if settings.sync_user_info and user.get("provider") == settings.name:
            changes = {k: v for k, v in fields.items() if v is not None}
            if changes:
                service.update_one(user["id"], changes)
                user = find_user(cms, user_id=user["id"])
        return user
    if not settings.allow_public_registration:
        raise InvalidCredentialsError()
    if fields.get("email"):
        same = find_user(cms, email=fields["email"])
        if same is not None:
            if same.get("external_identifier") == identifier:
                return same  # created by a concurrent first login of the same identity
            if same.get("provider") == settings.name:
                raise InvalidCredentialsError()  # another identity of ours owns the email
            return same
    try:
        service.create_one({**fields, "provider": settings.name, "status": "active",
                            "external_identifier": identifier, "role": settings.default_role_id})
    except TransomError:
        # the same identity's first login on another worker created it first: use that one
        user = find_user(cms, external_identifier=identifier)
        if user is None:
            raise
        return user
    return find_user(cms, external_identifier=identifier)
