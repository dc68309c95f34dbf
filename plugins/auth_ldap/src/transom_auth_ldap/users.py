"""The ``directus_users`` row of an LDAP identity.

Users are linked by ``external_identifier`` (the entry's DN, as Directus stores it); the
finding, creating and races are :func:`transom_auth_jwt.sso.link_or_create`'s. What is this
driver's: a proven entry is always registered (the directory is the allow list), the role may
follow the directory's groups, and an email owned by another entry names nobody (the login
policy then refuses it as an unknown identity).
"""

from __future__ import annotations

from typing import Any

from transom_auth_jwt import sso


def link_or_create(cms: Any, provider: str, dn: str, profile: dict[str, Any],
                   role: str | None, sync_role: bool) -> dict[str, Any] | None:
    """The user linked to ``dn``; created (active, ``provider``) when there is none.

    ``sync_role``: group mapping is configured, so the role follows the directory on every
    login. A local account with the same email is returned as it is: the login then fails
    with ``INVALID_PROVIDER`` instead of taking that account over."""
    def refresh(user: dict[str, Any]) -> dict[str, Any]:
        return {"role": role} if user.get("role") != role else {}

    fields = {"email": profile.get("email") or None, "first_name": profile.get("first_name"),
              "last_name": profile.get("last_name")}
    return sso.link_or_create(cms, provider, dn, fields, role=role,
                              refresh=refresh if sync_role else None, refuse_taken=False)
