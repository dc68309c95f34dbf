"""Signing and checking Directus JWTs: HS256 with ``SECRET``, issuer ``directus``.

The signing key is ``SECRET`` itself, byte for byte, as Directus uses it, so tokens issued by a
Directus instance sharing the secret are accepted and the other way round; changing the
secret invalidates every token. Only HS256 is accepted: a token announcing ``none`` or any
other algorithm is refused before its signature is even looked at.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import warnings
from typing import Any

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from transom.errors import InvalidTokenError, TokenExpiredError

ALGORITHM = "HS256"
ISSUER = "directus"
RESET_SCOPE = "password-reset"

# Short secrets are the operator's choice (Directus allows them and so do we, with one
# start-up warning of our own); PyJWT would otherwise warn on every single token.
warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)


def new_opaque_token() -> str:
    """A 64-character URL-safe random string (refresh tokens, session ids)."""
    return secrets.token_urlsafe(48)


def sign(claims: dict[str, Any], key: str, ttl_ms: int) -> str:
    """A compact JWT of ``claims`` valid for ``ttl_ms`` from now."""
    now = time.time()
    payload = {**claims, "iat": int(now), "exp": int(now + ttl_ms / 1000.0), "iss": ISSUER}
    return jwt.encode(payload, key, algorithm=ALGORITHM)


def unverified_claims(token: str) -> dict[str, Any] | None:
    """The payload segment of a JWT-shaped token, decoded without checking anything (None
    when it is not base64url JSON); used only to decide whose token it is, never to trust it.
    The signature segment is not even parsed: a Directus token with a mangled signature is
    still ours, and refused as invalid rather than passed on as a static token."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    segment = parts[1]
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        claims = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def is_directus_jwt(token: str) -> bool:
    """Whether the token claims to be one of ours (its payload says ``iss: directus``)."""
    claims = unverified_claims(token)
    return claims is not None and claims.get("iss") == ISSUER


def verify(token: str, key: str, *, check_expiry: bool = True) -> dict[str, Any]:
    """The verified claims of ``token``.

    :raises TokenExpiredError: a genuine token whose time is up (401 ``TOKEN_EXPIRED``).
    :raises InvalidTokenError: anything else wrong: signature, algorithm, issuer, shape.
    """
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iss"], "verify_exp": check_expiry},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpiredError() from exc
    except jwt.PyJWTError as exc:
        raise InvalidTokenError() from exc
    if not isinstance(claims, dict):
        raise InvalidTokenError()
    return claims


def reset_key(secret: str, password_hash: str | None) -> str:
    """The key of password-reset tokens: the secret plus a digest of the user's current
    password hash, so a link stops working as soon as the password changes (used once)."""
    digest = hashlib.sha256((password_hash or "").encode()).hexdigest()
    return f"{secret}:{digest}"
