"""``UsersService``: :class:`ItemsService` on ``directus_users`` with the checks Directus's
users service adds (a valid email, the project's password policy) and a few helpers.

Passwords are hashed by the ``hash`` special of ``directus_users.password`` on every write, so
a plain password is what callers pass; stored hashes never leave the service (reads show
``**********``), and :meth:`UsersService.verify_password` checks one without exposing it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..auth.passwords import verify_password
from ..errors import ErrorGroup, FailedValidationError, ForbiddenError, TransomError
from .items import ItemsService

if TYPE_CHECKING:
    from ..accountability import Accountability
    from ..kernel import Transom
    from ..query import Query

USERS = "directus_users"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _policy_pattern(policy: str) -> re.Pattern[str] | None:
    """``auth_password_policy`` is a JavaScript regex literal (``/^.{8,}$/``) or a bare one."""
    text = policy.strip()
    flags = 0
    match = re.fullmatch(r"/(.*)/([a-z]*)", text, re.S)
    if match:
        text = match.group(1)
        flags = re.I if "i" in match.group(2) else 0
    try:
        return re.compile(text, flags)
    except re.error:
        return None


class UsersService(ItemsService):
    """Read and write users as one caller (``None``: as the system, without checks)."""

    def __init__(self, cms: Transom, accountability: Accountability | None = None,
                 connection: sa.Connection | None = None, emit_events: bool = True) -> None:
        super().__init__(cms, USERS, accountability, connection, emit_events)

    # -- checks -------------------------------------------------------------------------
    def password_policy(self) -> re.Pattern[str] | None:
        """The project's password policy (``directus_settings.auth_password_policy``)."""
        settings = self.schema.get("directus_settings")
        if settings is None or settings.table is None or \
                "auth_password_policy" not in settings.fields:
            return None
        with self._read_conn() as conn:
            policy = conn.execute(sa.select(settings.table.c.auth_password_policy)
                                  .limit(1)).scalar()
        return _policy_pattern(policy) if isinstance(policy, str) and policy.strip() else None

    def check_payload(self, payload: Any) -> None:
        """Raise FAILED_VALIDATION for a malformed email or a password the policy refuses."""
        if not isinstance(payload, dict):
            return
        errors: list[TransomError] = []
        email = payload.get("email")
        if email is not None and (not isinstance(email, str) or not _EMAIL.match(email)):
            errors.append(FailedValidationError(
                "email", "email", 'Validation failed for field "email". Value has to be a '
                "valid email address."))
        password = payload.get("password")
        if isinstance(password, str) and password != "**********":
            pattern = self.password_policy()
            if pattern is not None and not pattern.search(password):
                errors.append(FailedValidationError(
                    "password", "pattern", "Provided password doesn't match password policy."))
        if errors:
            raise ErrorGroup(errors) if len(errors) > 1 else errors[0]

    # -- writes (checked) ---------------------------------------------------------------
    def create_many(self, items: list[dict[str, Any]]) -> list[Any]:
        for item in items if isinstance(items, list) else []:
            self.check_payload(item)
        return super().create_many(items)

    def update_many(self, keys: list[Any], data: dict[str, Any]) -> list[Any]:
        self.check_payload(data)
        return super().update_many(keys, data)

    def update_batch(self, items: list[dict[str, Any]]) -> list[Any]:
        for item in items if isinstance(items, list) else []:
            self.check_payload(item)
        return super().update_batch(items)

    # -- helpers ------------------------------------------------------------------------
    def create_user(self, email: str, password: str | None = None, role: str | None = None,
                    **fields: Any) -> Any:
        """Create an active user; return its id."""
        data: dict[str, Any] = {"status": "active", **fields, "email": email}
        if password is not None:
            data["password"] = password
        if role is not None:
            data["role"] = role
        return self.create_one(data)

    def _id_by_email(self, email: str) -> Any:
        coll = self.coll()
        assert coll.table is not None
        with self._read_conn() as conn:
            return conn.execute(sa.select(coll.table.c.id).where(
                sa.func.lower(coll.table.c.email) == email.lower()).limit(1)).scalar()

    def read_by_email(self, email: str, query: Query | dict[str, Any] | None = None
                      ) -> dict[str, Any] | None:
        """The user with this email (case-insensitive, as logins match), or None when there
        is none or the caller may not read it."""
        user_id = self._id_by_email(email)
        if user_id is None:
            return None
        try:
            return self.read_one(user_id, query)
        except ForbiddenError:
            return None

    def set_password(self, key: Any, password: str) -> None:
        """Replace a user's password (hashed on write, checked against the policy)."""
        self.update_one(key, {"password": password})

    def verify_password(self, email: str, password: str) -> Any:
        """The id of the active user with this email and password, else None (no error
        says which part was wrong)."""
        coll = self.coll()
        assert coll.table is not None
        t = coll.table
        with self._read_conn() as conn:
            row = conn.execute(sa.select(t.c.id, t.c.password, t.c.status).where(
                sa.func.lower(t.c.email) == email.lower()).limit(1)).first()
        stored = row.password if row is not None else None
        if not verify_password(stored, password) or row is None or row.status != "active":
            return None
        return row.id
