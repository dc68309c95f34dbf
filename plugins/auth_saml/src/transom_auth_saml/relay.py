"""The ``RelayState`` of a login: which request it answers and where the browser goes next.

The IdP posts the response to the ACS from its own site, a cross-site POST that carries no
``SameSite=Lax`` cookie, so the login's state travels in ``RelayState`` instead, which the
IdP must return untouched. It is ``base64url(json).base64url(hmac)`` keyed by ``SECRET``:
the provider, the ``AuthnRequest`` ID (the response's ``InResponseTo`` must be it), the
``redirect`` and an expiry. Any worker or instance sharing the ``SECRET`` can check it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from transom.api import InvalidCredentialsError

#: how long a started login may take at the IdP
TTL_S = 600


def _key(secret: str) -> bytes:
    return hashlib.sha256(b"transom-saml-relay\x00" + secret.encode()).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, body: str) -> str:
    return _b64(hmac.new(_key(secret), body.encode(), hashlib.sha256).digest()[:24])


def seal(secret: str, provider: str, request_id: str, target: str | None,
         ttl_s: int = TTL_S) -> str:
    data = {"p": provider, "i": request_id, "r": target, "e": int(time.time()) + ttl_s}
    body = _b64(json.dumps(data, separators=(",", ":")).encode())
    return f"{body}.{_sign(secret, body)}"


def unseal(secret: str, value: Any, provider: str) -> tuple[str, str | None]:
    """(request ID, redirect) of a RelayState made by :func:`seal` for ``provider``;
    INVALID_CREDENTIALS when it is missing, altered, expired or made for another provider."""
    try:
        if not isinstance(value, str):
            raise ValueError("no RelayState")
        body, sig = value.split(".")
        if not hmac.compare_digest(sig, _sign(secret, body)):
            raise ValueError("bad signature")
        data = json.loads(_unb64(body))
        if not isinstance(data, dict) or data.get("p") != provider \
                or int(data.get("e", 0)) < time.time() or not isinstance(data.get("i"), str):
            raise ValueError("expired or foreign")
        target = data.get("r")
        if target is not None and not isinstance(target, str):
            raise ValueError("bad redirect")
    except (ValueError, TypeError, json.JSONDecodeError):
        raise InvalidCredentialsError() from None
    return data["i"], target
