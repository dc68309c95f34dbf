"""The local provider: email and password checked against ``directus_users.password``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transom.api import (
    DEFAULT_PROVIDER,
    AuthProvider,
    InvalidCredentialsError,
    InvalidPayloadError,
    find_user,
    verify_password,
)

MODES = ("cookie", "json", "session")


def require_string(payload: Mapping[str, Any], key: str, required: bool = True) -> None:
    """Joi's wording for a string field: required, a string, not empty."""
    if key not in payload or payload[key] is None:
        if required:
            raise InvalidPayloadError(f'"{key}" is required')
        return
    value = payload[key]
    if not isinstance(value, str):
        raise InvalidPayloadError(f'"{key}" must be a string')
    if value == "":
        raise InvalidPayloadError(f'"{key}" is not allowed to be empty')


def validate_common(payload: Mapping[str, Any]) -> None:
    """``mode`` and ``otp``, accepted by every provider's login."""
    if payload.get("mode") is not None:
        require_string(payload, "mode")
        if payload["mode"] not in MODES:
            raise InvalidPayloadError('"mode" must be one of [cookie, json, session]')
    require_string(payload, "otp", required=False)


def looks_like_email(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return bool(at and local and domain) and not any(c.isspace() for c in value)


class LocalProvider(AuthProvider):
    """Directus's ``default`` provider (driver ``local``)."""

    name = DEFAULT_PROVIDER
    driver = "local"

    def validate(self, payload: Mapping[str, Any]) -> None:
        # Same order and messages as Directus's login schema: email, password, mode, otp.
        require_string(payload, "email")
        if not looks_like_email(payload["email"]):
            raise InvalidPayloadError('"email" must be a valid email')
        require_string(payload, "password")
        validate_common(payload)

    def identify(self, cms: Any, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        return find_user(cms, email=str(payload["email"]))

    def verify(self, cms: Any, user: dict[str, Any] | None,
               payload: Mapping[str, Any]) -> None:
        # verify_password checks against a dummy hash when there is no user, so an unknown
        # email costs the same as a wrong password.
        stored = user.get("password") if user is not None else None
        if not verify_password(stored, str(payload["password"])) or user is None:
            raise InvalidCredentialsError()
