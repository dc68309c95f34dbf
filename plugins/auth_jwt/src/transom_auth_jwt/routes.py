"""``/auth/*``: login, refresh, logout, password reset and the provider list."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, Response, request

from transom.api import (
    DEFAULT_PROVIDER,
    InvalidPayloadError,
    RequestsExceededError,
    RouteNotFoundError,
    ServiceUnavailableError,
    TransomError,
    client_ip,
    current_cms,
    json_response,
    no_content,
    request_json,
)

from . import jwt_tokens, service
from .local import MODES, looks_like_email, require_string
from .state import AuthState, get_state

log = logging.getLogger("transom.auth")

bp = Blueprint("transom_auth_jwt", __name__)

MISSING_REFRESH = "The refresh token is required in either the payload or cookie"


def _body() -> dict[str, Any]:
    body = request_json({})
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InvalidPayloadError('"value" must be of type object')
    return body


def _caller() -> service.Caller:
    return service.Caller(ip=client_ip(), user_agent=request.headers.get("User-Agent"),
                          origin=request.headers.get("Origin"))


def _token_response(state: AuthState, issued: service.Issued, mode: str) -> Response:
    """The body and cookie of a login or refresh, per mode (Directus's shapes)."""
    if mode == "session":
        resp = json_response({"data": {"expires": issued.expires_ms}})
        cookie = state.settings.session_cookie
        resp.set_cookie(cookie.name, issued.access_token, **cookie.set_kwargs())
    elif mode == "cookie":
        resp = json_response({"data": {"access_token": issued.access_token,
                                       "expires": issued.expires_ms}})
        cookie = state.settings.refresh_cookie
        resp.set_cookie(cookie.name, issued.refresh_token, **cookie.set_kwargs())
    else:
        resp = json_response({"data": {"expires": issued.expires_ms,
                                       "refresh_token": issued.refresh_token,
                                       "access_token": issued.access_token}})
    return resp


# -- login --------------------------------------------------------------------------------------
@bp.post("/auth/login")
def login() -> Response:
    return _login(DEFAULT_PROVIDER)


@bp.post("/auth/login/<provider>")
def login_with(provider: str) -> Response:
    return _login(provider)


def _login(name: str) -> Response:
    started = time.monotonic()
    cms = current_cms()
    state = get_state(cms)
    provider = state.providers.get(name)
    if provider is None or (name == DEFAULT_PROVIDER and state.settings.disable_default):
        raise RouteNotFoundError(request.path)
    caller = _caller()
    ip_key = caller.ip or "unknown"
    wait = state.ip_failures.retry_after(ip_key)
    if wait is not None:
        raise RequestsExceededError(retry_after=wait)
    try:
        payload = _body()
        provider.validate(payload)
        mode = payload.get("mode") or "json"
        user, emit = service.authenticate(cms, state, provider, payload, caller)
    except ServiceUnavailableError:
        raise  # busy (hash slots, database): says nothing about the account; no stall
    except TransomError as exc:
        if not isinstance(exc, InvalidPayloadError):
            state.ip_failures.record(ip_key)
        service.stall(started, state.settings.stall_ms)
        raise
    issued = service.issue_session(cms, state, user, mode, caller, provider.name)
    emit("success")
    return _token_response(state, issued, mode)


# -- refresh and logout -------------------------------------------------------------------------
def _mode(body: dict[str, Any]) -> str:
    """An explicit mode wins; else a body token means json; else cookie (as Directus)."""
    mode = body.get("mode")
    if mode is not None:
        if mode not in MODES:
            raise InvalidPayloadError('"mode" must be one of [cookie, json, session]')
        return str(mode)
    return "json" if body.get("refresh_token") else "cookie"


def _refresh_token(state: AuthState, body: dict[str, Any], mode: str) -> str | None:
    """The session a refresh or logout is about: in session mode the ``session`` claim of
    the session cookie (its signature checked, its expiry not: the row decides), else the
    body's ``refresh_token`` or the refresh cookie."""
    if mode == "session":
        cookie = request.cookies.get(state.settings.session_cookie.name)
        if not cookie:
            return None
        claims = jwt_tokens.decode(cookie, allow_expired=True)
        session = claims.get("session")
        return str(session) if session else None
    token = body.get("refresh_token")
    if token is not None and not isinstance(token, str):
        raise InvalidPayloadError('"refresh_token" must be a string')
    return token or request.cookies.get(state.settings.refresh_cookie.name) or None


@bp.post("/auth/refresh")
def refresh() -> Response:
    cms = current_cms()
    state = get_state(cms)
    body = _body()
    mode = _mode(body)
    token = _refresh_token(state, body, mode)
    if not token:
        raise InvalidPayloadError(MISSING_REFRESH)
    issued = service.rotate_session(cms, state, token, mode, _caller())
    return _token_response(state, issued, mode)


@bp.post("/auth/logout")
def logout() -> Response:
    cms = current_cms()
    state = get_state(cms)
    body = _body()
    mode = _mode(body)
    try:
        token = _refresh_token(state, body, mode)
    except TransomError:
        # An unreadable session cookie ends nothing, but it is still cleared below.
        token = None
        if state.settings.session_cookie.name not in request.cookies:
            raise
    else:
        if not token:
            raise InvalidPayloadError(MISSING_REFRESH)
    if token:
        service.end_session(cms, state, token)
    resp = no_content()
    for cookie in (state.settings.refresh_cookie, state.settings.session_cookie):
        if cookie.name in request.cookies:
            resp.delete_cookie(cookie.name, **cookie.clear_kwargs())
    return resp


# -- password reset -----------------------------------------------------------------------------
@bp.post("/auth/password/request")
def password_request() -> Response:
    started = time.monotonic()
    cms = current_cms()
    state = get_state(cms)
    body = _body()
    require_string(body, "email")
    if not looks_like_email(body["email"]):
        raise InvalidPayloadError('"email" must be a valid email')
    require_string(body, "reset_url", required=False)
    reset_url = body.get("reset_url") or None
    if reset_url and not service.url_allowed(reset_url, state.settings.reset_allow_list):
        raise InvalidPayloadError(f'URL "{reset_url}" can\'t be used to reset passwords')
    try:
        service.request_password_reset(cms, state, body["email"], reset_url)
    except Exception:  # noqa: BLE001 - the answer must not tell whether the account exists
        log.exception("password reset request failed")
    service.stall(started, state.settings.stall_ms)
    return no_content()


@bp.post("/auth/password/reset")
def password_reset() -> Response:
    cms = current_cms()
    state = get_state(cms)
    body = _body()
    require_string(body, "token")
    require_string(body, "password")
    service.reset_password(cms, state, body["token"], body["password"])
    return no_content()


# -- providers ----------------------------------------------------------------------------------
@bp.get("/auth")
def providers() -> Response:
    state = get_state(current_cms())
    data = [p.describe() for name, p in state.providers.items() if name != DEFAULT_PROVIDER]
    return json_response({"data": data, "disableDefault": state.settings.disable_default})
