"""Finding and creating the ``directus_users`` row of an LDAP identity.

Users are linked by ``external_identifier`` (the entry's DN, as Directus stores it) and
created through :class:`UsersService`, so hooks and validation run as for any other write.
"""

from __future__ import annotations

from typing import Any

from transom.api import TransomError, UsersService, find_user


def link_or_create(cms: Any, provider: str, dn: str, profile: dict[str, Any],
                   role: str | None, sync_role: bool) -> dict[str, Any] | None:
    """The user linked to ``dn``; created (active, ``provider``) when there is none.

    ``sync_role``: group mapping is configured, so the role follows the directory on every
    login. A local account with the same email is returned as it is: the login then fails
    with ``INVALID_PROVIDER`` instead of taking that account over."""
    user = find_user(cms, external_identifier=dn)
    service = UsersService(cms)
    if user is not None:
        if sync_role and user.get("provider") == provider and user.get("role") != role:
            service.update_one(user["id"], {"role": role})
            cms.access_changed()
            user = find_user(cms, user_id=user["id"])
        return user
    email = profile.get("email")
    if email:
        same_email = find_user(cms, email=email)
        if same_email is not None:
            if same_email.get("external_identifier") == dn:
                return same_email  # created by a concurrent first login of the same entry
            return same_email if same_email.get("provider") != provider else None
    try:
        service.create_one({
            "provider": provider, "external_identifier": dn, "status": "active",
            "email": email or None, "first_name": profile.get("first_name"),
            "last_name": profile.get("last_name"), "role": role,
        })
    except TransomError:
        # the same identity's first login on another worker created it first: use that one
        user = find_user(cms, external_identifier=dn)
        if user is None:
            raise
        return user
    return find_user(cms, external_identifier=dn)
