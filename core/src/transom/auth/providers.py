"""Login providers: the part of a login that proves who someone is.

An auth plugin (transom-auth-jwt) owns everything around a login: payload modes, stalling,
attempt limits, suspension, sessions and tokens. A provider only answers two questions, so
that the local password check, LDAP or OAuth can be swapped without touching that policy:

* :meth:`AuthProvider.identify`: which ``directus_users`` row does this payload name?
* :meth:`AuthProvider.verify`: does the payload prove it is that user?

Providers are contributed through the ``register_auth_providers`` hook and looked up by
:attr:`AuthProvider.name`, which is also the value of ``directus_users.provider`` for the
users they own (``default`` for local passwords, as in Directus).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import InvalidCredentialsError
from ..schema.types import UuidString

if TYPE_CHECKING:
    from ..kernel import Transom

#: Columns of ``directus_users`` that a login needs; nothing more is read.
USER_AUTH_COLUMNS: tuple[str, ...] = (
    "id", "email", "password", "status", "role", "provider", "tfa_secret",
    "external_identifier",
)

#: The name of the local password provider, as Directus calls it.
DEFAULT_PROVIDER = "default"


def find_user(
    cms: Transom,
    *,
    user_id: str | None = None,
    email: str | None = None,
    external_identifier: str | None = None,
) -> dict[str, Any] | None:
    """The login columns of one user, found by id, email (case-insensitive, as Directus
    compares them) or external identifier; None when nobody matches.

    A NUL character matches nobody (PostgreSQL refuses it in any text parameter, and no
    stored value can hold one), so a login with one fails like any unknown email."""
    if any("\x00" in v for v in (user_id, email, external_identifier) if isinstance(v, str)):
        return None
    users = sa.table("directus_users", *(
        sa.column(c, UuidString()) if c in ("id", "role") else sa.column(c)
        for c in USER_AUTH_COLUMNS))
    stmt = sa.select(*users.c)
    if user_id is not None:
        try:  # a malformed id would be a database error on native uuid columns
            user_id = str(uuid.UUID(str(user_id)))
        except ValueError:
            return None
        stmt = stmt.where(users.c.id == user_id)
    elif email is not None:
        stmt = stmt.where(sa.func.lower(users.c.email) == email.strip().lower())
    elif external_identifier is not None:
        stmt = stmt.where(users.c.external_identifier == external_identifier)
    else:
        return None
    with cms.connect() as conn:
        row = conn.execute(stmt.limit(1)).first()
    if row is None:
        return None
    user = dict(row._mapping)
    user["id"] = str(user["id"])
    user["role"] = str(user["role"]) if user["role"] is not None else None
    return user


class AuthProvider:
    """Base class of login providers.

    Subclasses set :attr:`name` and :attr:`driver` and implement :meth:`identify` and
    :meth:`verify`; :meth:`validate` checks the payload's shape first. A provider never
    decides about suspension, stalling or tokens: the auth plugin does, identically for all.
    """

    #: the key in ``/auth/login/<name>`` and in ``directus_users.provider``
    name: str = DEFAULT_PROVIDER
    #: what kind of provider it is (``local``, ``ldap``, ``oauth2``, ``openid``, ``saml``)
    driver: str = "local"
    #: optional display hints, listed by ``GET /auth``
    label: str | None = None
    icon: str | None = None

    def validate(self, payload: Mapping[str, Any]) -> None:
        """Raise :class:`transom.errors.InvalidPayloadError` if the payload is malformed."""

    def identify(self, cms: Transom, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        """The user (columns of :data:`USER_AUTH_COLUMNS`) the payload names, or None."""
        raise NotImplementedError

    def verify(self, cms: Transom, user: dict[str, Any] | None,
               payload: Mapping[str, Any]) -> None:
        """Raise :class:`transom.errors.InvalidCredentialsError` unless the payload proves it
        is ``user``. Called with ``user=None`` for unknown identities: spend the same time as
        for a real check, then raise, so timing does not reveal who exists."""
        raise NotImplementedError

    def login(self, cms: Transom, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Identify and verify in one call (for callers without a login policy of their own,
        such as a WebSocket handshake); returns the user or raises InvalidCredentials."""
        self.validate(payload)
        user = self.identify(cms, payload)
        self.verify(cms, user, payload)
        if user is None:  # a provider whose verify forgot to refuse unknown identities
            raise InvalidCredentialsError()
        return user

    def logout(self, cms: Transom, user: dict[str, Any]) -> None:
        """Called when one of the user's sessions ends (an IdP may want to know)."""

    def describe(self) -> dict[str, Any]:
        """The entry of ``GET /auth``."""
        out: dict[str, Any] = {"name": self.name, "driver": self.driver}
        if self.icon is not None:
            out["icon"] = self.icon
        if self.label is not None:
            out["label"] = self.label
        return out
