"""The ``RelayState`` of a login: which request it answers and where the browser goes next.

The IdP posts the response to the ACS from its own site, a cross-site POST that carries no
``SameSite=Lax`` cookie, so the login's state travels in ``RelayState`` instead, which the
IdP must return untouched. It is ``base64url(json).base64url(hmac)`` keyed by ``SECRET``:
the provider, the ``AuthnRequest`` ID (the response's ``InResponseTo`` must be it), the
``redirect`` and an expiry. Any worker or instance sharing the ``SECRET`` can check it.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from transom_auth_jwt.sso import seal_json, unseal_json

from transom.api import InvalidCredentialsError

#: how long a started login may take at the IdP
TTL_S = 600
#: bytes of the MAC kept: SAML asks a RelayState of at most 80 bytes
MAC_SIZE = 24


def _key(secret: str) -> bytes:
    return hashlib.sha256(b"transom-saml-relay\x00" + secret.encode()).digest()


def seal(secret: str, provider: str, request_id: str, target: str | None,
         ttl_s: int = TTL_S) -> str:
    data = {"p": provider, "i": request_id, "r": target, "e": int(time.time()) + ttl_s}
    return seal_json(_key(secret), data, mac_size=MAC_SIZE)


def unseal(secret: str, value: Any, provider: str) -> tuple[str, str | None]:
    """(request ID, redirect) of a RelayState made by :func:`seal` for ``provider``;
    INVALID_CREDENTIALS when it is missing, altered, expired or made for another provider."""
    try:
        data = unseal_json(_key(secret), value, mac_size=MAC_SIZE)
        if not isinstance(data, dict) or data.get("p") != provider \
                or int(data.get("e", 0)) < time.time() or not isinstance(data.get("i"), str):
            raise ValueError("expired or foreign")
        target = data.get("r")
        if target is not None and not isinstance(target, str):
            raise ValueError("bad redirect")
    except (ValueError, TypeError, json.JSONDecodeError):
        raise InvalidCredentialsError() from None
    return data["i"], target
