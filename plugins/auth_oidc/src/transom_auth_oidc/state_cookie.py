"""The login's state, carried by the browser in a signed cookie between the start of the flow
and its callback, so that any worker (or instance) can finish a login another one started.

The value is ``base64url(json).base64url(hmac)``, keyed by ``SECRET``; it holds the provider,
the ``state`` and ``nonce`` sent to the identity provider, the PKCE verifier, the redirect and
an expiry. Nothing in it is secret from its own browser, and nothing can be changed by it.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from transom_auth_jwt.sso import seal_json, unseal_json

from transom.api import InvalidCredentialsError

#: how long a started login may take (Directus gives the flow five minutes too)
TTL_S = 300


def cookie_name(driver: str, provider: str) -> str:
    return f"{driver}.{provider}"


def _key(secret: str) -> bytes:
    return hashlib.sha256(b"transom-sso-state\x00" + secret.encode()).digest()


def seal(secret: str, data: dict[str, Any]) -> str:
    return seal_json(_key(secret), {**data, "exp": int(time.time()) + TTL_S})


def unseal(secret: str, value: str | None, provider: str) -> dict[str, Any]:
    """The data of a cookie made by :func:`seal` for ``provider``; INVALID_CREDENTIALS when
    it is missing, altered, expired or made for another provider."""
    try:
        data = unseal_json(_key(secret), value)
        if not isinstance(data, dict) or data.get("provider") != provider \
                or int(data.get("exp", 0)) < time.time():
            raise ValueError("expired or foreign")
    except (ValueError, TypeError, json.JSONDecodeError):
        raise InvalidCredentialsError() from None
    return data
