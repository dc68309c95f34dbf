"""Who is on the other end of a socket, found through the kernel's own auth, never a copy.

* an ``access_token`` (a Directus JWT or a static token) is resolved by the same
  ``accountability_from_request`` hooks as an HTTP request carrying it;
* ``email`` + ``password`` and ``refresh_token`` go through the auth plugin's own
  ``/auth/login`` and ``/auth/refresh`` views (an in-process call, so attempt limits,
  suspension, ``auth.login`` events and session rotation are the ones of REST), and the
  access token they return is then resolved as above.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import orjson
from flask import request

from transom.api import Accountability, TransomError

from .protocol import SocketError


@dataclass
class Identity:
    """A resolved caller: the accountability, the token that proves it (kept to resolve it
    again after an access change) and when that token expires (epoch seconds, or None)."""

    accountability: Accountability
    access_token: str | None = None
    expires_at: float | None = None
    refresh_token: str | None = None


def token_expiry(token: str) -> float | None:
    """The ``exp`` of a JWT (already verified by the auth hooks); None for static tokens."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        exp = orjson.loads(base64.urlsafe_b64decode(padded)).get("exp")
    except (ValueError, TypeError, AttributeError):
        return None
    return float(exp) if isinstance(exp, (int, float)) else None


def resolve_token(cms: Any, app: Any, token: str, ip: str | None,
                  user_agent: str | None = None) -> Identity:
    """The caller a token names, as an HTTP request with ``Authorization: Bearer`` gets
    (in a request context of its own: the hooks read the request, also from the
    dispatcher thread)."""
    headers = {"Authorization": f"Bearer {token}"}
    if user_agent:
        headers["User-Agent"] = user_agent
    try:
        with app.test_request_context("/", headers=headers,
                                      environ_base={"REMOTE_ADDR": ip or "127.0.0.1"}):
            acc = cms.hook.accountability_from_request(
                cms=cms, request=request._get_current_object())  # type: ignore[attr-defined]
    except TransomError as exc:
        if exc.code == "TOKEN_EXPIRED":
            raise SocketError("TOKEN_EXPIRED", "Token expired.") from exc
        raise SocketError("AUTH_FAILED", exc.message) from exc
    if acc is None:
        raise SocketError("AUTH_FAILED", "Invalid user credentials.")
    acc = acc.with_request(ip, user_agent, None)
    expires = token_expiry(token)
    if expires is not None and expires <= time.time():
        raise SocketError("TOKEN_EXPIRED", "Token expired.")
    return Identity(acc, token, expires)


def public(cms: Any, ip: str | None, user_agent: str | None = None) -> Identity:
    return Identity(cms.access.public(ip).with_request(ip, user_agent, None))


def _through_view(app: Any, path: str, body: dict[str, Any], ip: str | None,
                  user_agent: str | None) -> dict[str, Any]:
    """Call one of the auth plugin's views in-process; its ``data`` or a socket error."""
    client = app.test_client()
    headers = {"User-Agent": user_agent} if user_agent else {}
    resp = client.post(path, json={**body, "mode": "json"}, headers=headers,
                       environ_base={"REMOTE_ADDR": ip or "127.0.0.1"})
    try:
        answer = orjson.loads(resp.get_data() or b"{}")
    except ValueError:
        answer = {}
    data = answer.get("data") if isinstance(answer, dict) else None
    if resp.status_code != 200 or not isinstance(data, dict) or not data.get("access_token"):
        errors = answer.get("errors") if isinstance(answer, dict) else None
        message = "Authentication failed."
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            message = str(errors[0].get("message") or message)
        raise SocketError("AUTH_FAILED", message)
    return data


def authenticate(cms: Any, app: Any, message: dict[str, Any], ip: str | None,
                 user_agent: str | None) -> Identity:
    """An ``auth`` message: ``access_token``, ``refresh_token`` or ``email`` + ``password``."""
    token = message.get("access_token")
    if isinstance(token, str) and token:
        return resolve_token(cms, app, token, ip, user_agent)
    refresh = message.get("refresh_token")
    if isinstance(refresh, str) and refresh:
        data = _through_view(app, "/auth/refresh", {"refresh_token": refresh}, ip, user_agent)
    else:
        email, password = message.get("email"), message.get("password")
        if not (isinstance(email, str) and isinstance(password, str)):
            raise SocketError("INVALID_PAYLOAD", "An auth message needs access_token, "
                              "refresh_token, or email and password.")
        data = _through_view(app, "/auth/login", {"email": email, "password": password}, ip,
                             user_agent)
    identity = resolve_token(cms, app, str(data["access_token"]), ip, user_agent)
    rotated = data.get("refresh_token")
    identity.refresh_token = str(rotated) if rotated else None
    return identity
