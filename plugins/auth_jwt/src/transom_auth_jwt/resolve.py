"""Who a Directus JWT belongs to, checked on every request.

Only tokens that decode as JWTs issued by ``directus`` are ours; anything else (a static token,
even one shaped like a JWT) is left to the next resolver. Ours must then be HS256-signed with
``SECRET`` (else 403 ``INVALID_TOKEN``) and unexpired (else 401 ``TOKEN_EXPIRED``); the user
is read again from the database so that a suspension or a new role applies at once; a session
token (``session`` claim) works only while its ``directus_sessions`` row does.

The verified claims go with the caller: ``accountability.extra["jwt_claims"]`` for a user's
token, and :func:`request_claims` (the request's WSGI environ) for any verified token, share
tokens included, which are left to a shares plugin.

Verifying the signature is most of what a request with a JWT costs, and a client sends the
same token until it expires: the claims of a verified token are kept in a small LRU (keyed
by the key it was verified with and the token), and a hit is still refused once ``exp`` has
passed. Only the verification is skipped: the user's row and the session row are read on
every request as before, so a suspension, a role change or a logout applies at once.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any

from flask import current_app, g, request

from transom.api import (
    Accountability,
    ForbiddenError,
    InvalidCredentialsError,
    InvalidTokenError,
    UserSuspendedError,
    client_ip,
    extract_token,
    looks_like_jwt,
)

from . import jwt_tokens, service
from .state import AuthState, get_state

CLEAR_SESSION_FLAG = "_auth_jwt_clear_session_cookie"
#: Where the verified claims are kept: ``Accountability.extra`` and the WSGI environ.
CLAIMS_KEY = "jwt_claims"
_ENVIRON_KEY = "transom_auth_jwt.claims"


#: how many verified tokens are remembered (per process)
CLAIMS_CACHE_SIZE = 512


class _VerifiedTokens:
    """A bounded LRU of verified tokens: ``(key, token) -> (exp, claims as JSON)``.

    The claims are kept as JSON so that each hit hands out a new dict, as a decode does."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, str], tuple[int, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, token: str) -> dict[str, Any] | None:
        """The claims of a token verified with ``key`` that has not expired, else None."""
        entry = self._entries.get((key, token))
        if entry is None:
            return None
        # PyJWT's own test, without leeway (the app's JWT_DECODE_LEEWAY is 0)
        if entry[0] <= time.time():
            with self._lock:
                self._entries.pop((key, token), None)
            return None
        with self._lock:
            if (key, token) in self._entries:
                self._entries.move_to_end((key, token))
        return json.loads(entry[1])

    def put(self, key: str, token: str, claims: dict[str, Any]) -> None:
        entry = (int(claims["exp"]), json.dumps(claims))
        with self._lock:
            self._entries[(key, token)] = entry
            self._entries.move_to_end((key, token))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_verified = _VerifiedTokens(CLAIMS_CACHE_SIZE)


def _verify(key: str, token: str) -> dict[str, Any]:
    """:func:`jwt_tokens.decode` of an access token, remembered for the next requests. Every
    refusal is the one a decode gives: only a token that passed it is kept (one with ``iss:
    directus``, so a hit needs no second look at whose token it is)."""
    claims = jwt_tokens.decode(token)
    _verified.put(key, token, claims)
    return claims


def request_claims(req: Any = None) -> dict[str, Any] | None:
    """The verified claims of the Directus JWT of ``req`` (default: the current request),
    or None when it carried none or it has not been resolved yet."""
    return (req if req is not None else request).environ.get(_ENVIRON_KEY)


def accountability_for_request(cms: Any, request: Any) -> Accountability | None:
    state = get_state(cms)
    cookie_name = state.settings.session_cookie.name
    token = extract_token(request, cookie_name)
    if not token:
        return None
    key = current_app.config["JWT_SECRET_KEY"]  # what the decode key loader gives
    claims = _verified.get(key, token)  # None when unknown or expired: checked again below
    if claims is None and (not looks_like_jwt(token) or not jwt_tokens.is_directus_jwt(token)):
        return None
    try:
        if claims is None:
            claims = _verify(key, token)
        request.environ[_ENVIRON_KEY] = claims
        return accountability_for_claims(cms, state, claims, client_ip())
    except Exception:
        if request.cookies.get(cookie_name) == token:
            # A dead session cookie would fail every request: ask the browser to drop it.
            setattr(g, CLEAR_SESSION_FLAG, True)
        raise


def accountability_for_claims(cms: Any, state: AuthState, claims: dict[str, Any],
                              ip: str | None) -> Accountability | None:
    """The caller of verified claims, who carries them in ``extra["jwt_claims"]``. Share
    tokens (``share`` without ``id``) are left to a shares plugin (see
    :func:`request_claims`)."""
    raw_id = claims.get("id")
    if raw_id is None and claims.get("share") is not None:
        return None
    try:
        user_id = str(uuid.UUID(str(raw_id)))
    except ValueError as exc:
        raise InvalidTokenError() from exc
    user = service.current_user(cms, state, user_id)
    if user is None:
        raise InvalidCredentialsError()
    if user.status != "active":
        raise UserSuspendedError() if user.status == "suspended" else InvalidCredentialsError()
    session = claims.get("session")
    if session is not None and not service.session_is_live(cms, state, str(session), user_id):
        raise InvalidCredentialsError()
    role = str(user.role) if user.role is not None else None
    acc = cms.access.for_user(user_id, role, ip,
                              session=str(session) if session is not None else None,
                              extra={CLAIMS_KEY: claims})
    if acc.enforce_tfa and not user.has_tfa and not _tfa_setup_route():
        raise ForbiddenError(TFA_SETUP_REQUIRED)
    return acc


TFA_SETUP_REQUIRED = "Two-factor authentication must be set up before using this account."
#: what a user whose policies enforce TFA may still do before setting it up: see who they
#: are, read their global flags and set TFA up (``/auth/*`` never asks who is calling)
_TFA_SETUP_ROUTES = frozenset({
    ("GET", "/users/me"), ("GET", "/policies/me/globals"),
    ("POST", "/users/me/tfa/generate"), ("POST", "/users/me/tfa/enable"),
})


def _tfa_setup_route() -> bool:
    """Whether the current request is one of :data:`_TFA_SETUP_ROUTES`.

    Directus's login lets such a user in and its app confines them to the TFA setup page;
    here the API itself confines the token, so a client that skips the page gets nothing
    more (the fix Directus's maintainers proposed in directus/directus#22190)."""
    try:
        method, path = request.method, request.path
    except RuntimeError:  # resolved outside a request (a websocket handshake, a job)
        return False
    return (method, path.rstrip("/") or "/") in _TFA_SETUP_ROUTES
