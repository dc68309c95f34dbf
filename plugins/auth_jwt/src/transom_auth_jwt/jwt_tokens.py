"""Directus JWTs: HS256 with ``SECRET``, issuer ``directus``, checked by flask-jwt-extended.

The signing key is ``SECRET`` itself, byte for byte, as Directus uses it, so tokens issued by a
Directus instance sharing the secret are accepted and the other way round; changing the
secret invalidates every token.

flask-jwt-extended does the checking: :func:`install` gives each app a ``JWTManager``
configured for Directus's tokens (HS256 only, issuer ``directus``, no leeway), and
:func:`decode` is its ``decode_token`` with its errors turned into Directus's codes. A token
announcing ``none`` or any other algorithm, signed with another key or tampered with is
refused by it (PyJWT underneath) before any claim is trusted.

Signing stays a direct PyJWT call (:func:`sign`): ``create_access_token`` always adds
``jti``, ``type`` and ``fresh`` claims (its maintainers keep them mandatory), and the tokens
must carry exactly Directus's claims.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import warnings
from contextvars import ContextVar
from typing import Any

import jwt
from flask import Flask, current_app
from flask_jwt_extended import JWTManager, decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.warnings import InsecureKeyLengthWarning

from transom.api import InvalidCredentialsError, InvalidTokenError, TokenExpiredError

ALGORITHM = "HS256"
ISSUER = "directus"
RESET_SCOPE = "password-reset"

# What flask-jwt-extended's decode_token adds to payloads that lack them; Directus tokens
# never carry them, so they are taken out again and the claims are the token's own.
_LIBRARY_DEFAULTS = ("type", "fresh", "jti")

# Short secrets are the operator's choice (Directus allows them and so do we, with one
# start-up warning of our own); PyJWT would otherwise warn on every single token.
warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)

# The key of one decode_token call when it is not SECRET (password-reset links). Chosen by
# the caller, never by the token's contents: a reset token must not pass as an access token.
_decode_key: ContextVar[str | None] = ContextVar("transom_auth_jwt_decode_key", default=None)


def install(app: Flask, secret: str) -> JWTManager:
    """Give ``app`` its flask-jwt-extended manager, configured for Directus's tokens."""
    app.config.update(
        JWT_SECRET_KEY=secret,
        JWT_ALGORITHM=ALGORITHM,
        JWT_DECODE_ALGORITHMS=[ALGORITHM],
        JWT_DECODE_ISSUER=ISSUER,
        JWT_DECODE_LEEWAY=0,
        # The one claim flask-jwt-extended insists on (its "identity"). Directus's user id is
        # absent from share tokens; ``exp`` is in every Directus token, so naming it makes
        # the library refuse a token without an expiry, even when expiry is not checked.
        JWT_IDENTITY_CLAIM="exp",
    )
    manager = JWTManager(app)

    @manager.decode_key_loader
    def _key(_header: dict[str, Any], _claims: dict[str, Any]) -> str:
        return _decode_key.get() or current_app.config["JWT_SECRET_KEY"]

    # Should a token error of the library's ever reach Flask, it still gets Directus's
    # envelope and codes, like every other error of the app.
    from transom.api import render_error

    manager.invalid_token_loader(lambda _reason: render_error(InvalidTokenError()))
    manager.expired_token_loader(lambda _h, _d: render_error(TokenExpiredError()))
    manager.unauthorized_loader(lambda _reason: render_error(InvalidCredentialsError()))
    return manager


def decode(token: str, *, key: str | None = None, allow_expired: bool = False) -> dict[str, Any]:
    """The verified claims of ``token`` (flask-jwt-extended's ``decode_token``, within the
    app's context), signed with ``SECRET`` unless ``key`` is given.

    :raises TokenExpiredError: a genuine token whose time is up (401 ``TOKEN_EXPIRED``).
    :raises InvalidTokenError: anything else wrong: signature, algorithm, issuer, shape.
    """
    reset = _decode_key.set(key) if key is not None else None
    try:
        claims = decode_token(token, allow_expired=allow_expired)
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpiredError() from exc
    except (jwt.InvalidTokenError, JWTExtendedException) as exc:
        raise InvalidTokenError() from exc
    finally:
        if reset is not None:
            _decode_key.reset(reset)
    if not isinstance(claims, dict):
        raise InvalidTokenError()
    for name in _LIBRARY_DEFAULTS:
        claims.pop(name, None)
    return claims


def sign(claims: dict[str, Any], key: str, ttl_ms: int) -> str:
    """A compact JWT of ``claims`` valid for ``ttl_ms`` from now: Directus's claims, then
    ``iat``, ``exp`` and ``iss``, nothing else."""
    now = time.time()
    payload = {**claims, "iat": int(now), "exp": int(now + ttl_ms / 1000.0), "iss": ISSUER}
    return jwt.encode(payload, key, algorithm=ALGORITHM)


def new_opaque_token() -> str:
    """A 64-character URL-safe random string (refresh tokens, session ids)."""
    return secrets.token_urlsafe(48)


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


def reset_key(secret: str, password_hash: str | None) -> str:
    """The key of password-reset tokens: the secret plus a digest of the user's current
    password hash, so a link stops working as soon as the password changes (used once)."""
    digest = hashlib.sha256((password_hash or "").encode()).hexdigest()
    return f"{secret}:{digest}"
