"""Two-factor authentication (TOTP, RFC 6238) on ``directus_users.tfa_secret``, via pyotp.

Directus stores a base32 secret and expects 6-digit SHA-1 codes on 30-second steps (every
authenticator app's defaults). One step either side is accepted for clock drift. Setting up
takes two calls, as in Directus: ``generate`` proves the password and hands out a fresh
secret (nothing stored yet), ``enable`` stores it once a code made from it is shown.
"""

from __future__ import annotations

from typing import Any

import pyotp
import sqlalchemy as sa

from transom.api import (
    DEFAULT_PROVIDER,
    ForbiddenError,
    InvalidCredentialsError,
    InvalidPayloadError,
    find_user,
    verify_password,
)

from .state import AuthState

DRIFT_STEPS = 1
ALREADY_SET = "TFA Secret is already set for this user"


class _TOTP(pyotp.TOTP):
    """pyotp's TOTP, accepting the 80-bit secrets (16 base32 characters) Directus (otplib)
    generates; pyotp's own default minimum is 112 bits. New secrets here are 160 bits."""

    min_secret_length_bits = 80


def verify_code(secret: str | None, code: Any) -> bool:
    """Whether ``code`` is the current code of ``secret`` (one step of drift allowed)."""
    if not secret or not isinstance(code, str):
        return False
    code = code.strip()
    if len(code) != 6 or not code.isdigit():
        return False
    try:
        return _TOTP(secret).verify(code, valid_window=DRIFT_STEPS)
    except (ValueError, TypeError):  # not base32, or too short to be a secret
        return False


def _project_name(cms: Any) -> str:
    if cms.schema.get("directus_settings") is None:
        return "Directus"
    with cms.connect() as conn:
        name = conn.execute(sa.text(
            "SELECT project_name FROM directus_settings ORDER BY id")).scalar()
    return str(name) if name else "Directus"


def _user(cms: Any, user_id: str) -> dict[str, Any]:
    user = find_user(cms, user_id=user_id)
    if user is None or user["status"] != "active":
        raise InvalidCredentialsError()
    return user


def generate(cms: Any, user_id: str, password: Any) -> dict[str, str]:
    """``{secret, otpauth_url}`` for a user who proved their password; stores nothing.

    A single sign-on user has no password here to prove: as in Directus 11 (since
    directus/directus#25695) their current session is the proof, and ``enable`` still
    needs a code made from the new secret."""
    user = _user(cms, user_id)
    if user.get("provider") in (None, DEFAULT_PROVIDER):
        if not isinstance(password, str) or not password:
            raise InvalidPayloadError('"password" is required')
        if not verify_password(user.get("password"), password):
            raise InvalidCredentialsError()
    if user.get("tfa_secret"):
        raise InvalidPayloadError(ALREADY_SET)
    if not user.get("email"):
        raise InvalidPayloadError("User must have a valid email to enable TFA")
    secret = pyotp.random_base32()
    url = pyotp.TOTP(secret).provisioning_uri(name=str(user["email"]),
                                              issuer_name=_project_name(cms))
    return {"secret": secret, "otpauth_url": url}


def _store(cms: Any, state: AuthState, user_id: str, secret: str | None) -> None:
    u = state.users
    with cms.begin() as conn:
        conn.execute(u.update().where(u.c.id == user_id).values(tfa_secret=secret))
    cms.access_changed()


def enable(cms: Any, state: AuthState, user_id: str, secret: Any, otp: Any) -> None:
    """Store ``secret`` once ``otp`` shows the user's authenticator holds it."""
    user = _user(cms, user_id)
    if not isinstance(secret, str) or not secret:
        raise InvalidPayloadError('"secret" is required')
    if not isinstance(otp, str) or not otp:
        raise InvalidPayloadError('"otp" is required')
    if user.get("tfa_secret"):
        raise InvalidPayloadError(ALREADY_SET)
    if not verify_code(secret, otp):
        raise InvalidPayloadError('"otp" is invalid')
    _store(cms, state, user["id"], secret.strip().upper())


def disable(cms: Any, state: AuthState, user_id: str, otp: Any) -> None:
    """Remove the secret; the user proves they still hold it with a current code."""
    user = _user(cms, user_id)
    if not isinstance(otp, str) or not otp:
        raise InvalidPayloadError('"otp" is required')
    if not verify_code(user.get("tfa_secret"), otp):
        raise InvalidPayloadError('"otp" is invalid')
    _store(cms, state, user["id"], None)


def disable_for(cms: Any, state: AuthState, accountability: Any, user_id: str) -> None:
    """``POST /users/:pk/tfa/disable``: an admin removes anyone's secret."""
    if accountability is None or not accountability.admin:
        raise ForbiddenError()
    user = find_user(cms, user_id=user_id)
    if user is None:
        raise ForbiddenError()
    _store(cms, state, user["id"], None)
