"""Logins, sessions and tokens, without Flask: what the routes and the resolver call.

Sessions are ``directus_sessions`` rows keyed by the refresh token. A refresh rotates them the
way Directus 11 does: the old row gets ``next_token`` (its successor) and an expiry of at most
``SESSION_REFRESH_GRACE_PERIOD``, and a new row holds the successor. A second refresh with the
old token inside the grace period receives the same successor (two tabs refreshing at once
both keep working); after it the old token is refused.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import sqlalchemy as sa

from transom.api import (
    Accountability,
    AuthProvider,
    EmailMessage,
    EventContext,
    FailedValidationError,
    InvalidCredentialsError,
    InvalidOtpError,
    InvalidTokenError,
    TransomError,
    UserSuspendedError,
    find_user,
    hash_password,
    shared_system_metadata,
)

from . import jwt_tokens
from .state import AuthState
from .tfa import verify_code

log = logging.getLogger("transom.auth")

UTC = dt.UTC
DEFAULT_LOGIN_ATTEMPTS = 25


class InvalidProviderError(TransomError):
    """The user exists but belongs to another provider (Directus's ``INVALID_PROVIDER``)."""

    code = "INVALID_PROVIDER"
    status = 403
    default_message = "Invalid provider."


@dataclass(frozen=True)
class Caller:
    """Where a request comes from, recorded on its session."""

    ip: str | None = None
    user_agent: str | None = None
    origin: str | None = None


@dataclass(frozen=True)
class Issued:
    """Tokens handed out by a login or a refresh."""

    access_token: str
    refresh_token: str
    expires_ms: int


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


def as_utc(value: Any) -> dt.datetime | None:
    """A stored timestamp as an aware UTC datetime (MySQL and SQLite give naive UTC)."""
    if value is None:
        return None
    if isinstance(value, int | float):  # epoch milliseconds, as knex writes them on SQLite
        return dt.datetime.fromtimestamp(value / 1000.0, UTC)
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _clip(value: str | None, length: int) -> str | None:
    return value[:length] if value else value


# -- login ------------------------------------------------------------------------------------
def login_attempt_limit(cms: Any, state: AuthState) -> int | None:
    """Allowed consecutive failures per account: the setting, else the project's setting
    (``directus_settings.auth_login_attempts``, null meaning unlimited), else 25."""
    limit = state.settings.login_attempts
    if limit is None:
        limit = DEFAULT_LOGIN_ATTEMPTS
        if cms.schema.get("directus_settings") is not None:
            with cms.connect() as conn:
                row = conn.execute(sa.text(
                    "SELECT auth_login_attempts FROM directus_settings ORDER BY id")).first()
            if row is not None:
                limit = row[0]
    if limit is None or int(limit) <= 0:
        return None
    return int(limit)


def suspend_user(cms: Any, state: AuthState, user_id: str) -> None:
    with cms.begin() as conn:
        conn.execute(state.users.update().where(state.users.c.id == user_id)
                     .values(status="suspended"))
    cms.access_changed()  # static tokens of the user stop at once too, everywhere
    log.warning("user %s suspended after too many failed logins", user_id)


def _event_context(cms: Any, caller: Caller) -> EventContext:
    acc = Accountability(ip=caller.ip, user_agent=caller.user_agent, origin=caller.origin)
    return EventContext(accountability=acc, schema=cms.schema, cms=cms)


def _redacted(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The login payload as listeners see it: never the password or the code."""
    return {k: v for k, v in payload.items() if k not in ("password", "otp")}


def _refuse_inactive(cms: Any, provider: AuthProvider, user: Mapping[str, Any],
                     payload: Mapping[str, Any]) -> None:
    """Refuse an account that is not active without telling an attacker it exists: the
    password is checked first (same time as any login) and only the right one learns
    ``USER_SUSPENDED``; a wrong one answers ``INVALID_CREDENTIALS`` like an unknown email."""
    try:
        provider.verify(cms, user, payload)
    except TransomError:
        raise InvalidCredentialsError() from None
    raise UserSuspendedError() if user["status"] == "suspended" else InvalidCredentialsError()


def authenticate(
    cms: Any, state: AuthState, provider: AuthProvider, payload: Mapping[str, Any],
    caller: Caller,
) -> tuple[dict[str, Any], Callable[[str], None]]:
    """Check a login payload; return the user and a function that emits the
    ``auth.login`` action (``"success"`` once a session exists).

    Order as in Directus: identify, ``auth.login`` filter, status, provider, attempt limit,
    credentials, one-time password. Every refusal emits ``auth.login`` with ``fail``.
    """
    user = provider.identify(cms, payload)
    user_id = user["id"] if user is not None else None
    meta = {"status": "pending", "user": user_id, "provider": provider.name}
    payload = cms.events.filter(["auth.login"], dict(payload), meta,
                                _event_context(cms, caller))

    def emit(status: str) -> None:
        cms.emit_action("auth.login", {"payload": _redacted(payload), "status": status,
                                       "user": user_id, "provider": provider.name})

    try:
        if user is None:
            provider.verify(cms, None, payload)  # spends the time of a real check
            raise InvalidCredentialsError()
        if user["status"] != "active":
            _refuse_inactive(cms, provider, user, payload)
        if user.get("provider") != provider.name:
            raise InvalidProviderError()
        limit = login_attempt_limit(cms, state)
        # counted before the check (shared by every worker): one number per attempt
        if limit is not None and state.attempts.consume(user["id"]) > limit:
            suspend_user(cms, state, user["id"])
            state.attempts.reset(user["id"])  # a re-activated user starts afresh
            _refuse_inactive(cms, provider, {**user, "status": "suspended"}, payload)
        provider.verify(cms, user, payload)
        if user.get("tfa_secret"):
            otp = payload.get("otp")
            if not verify_code(user["tfa_secret"], otp):
                raise InvalidOtpError()
    except TransomError:
        emit("fail")
        raise
    state.attempts.reset(user["id"])
    return user, emit


# -- tokens and sessions ----------------------------------------------------------------------
def access_claims(cms: Any, state: AuthState, user_id: str, role: str | None,
                  caller: Caller, session: str | None, kind: str,
                  provider: str | None = None) -> dict[str, Any]:
    """The JWT payload (Directus's claims), passed through the ``auth.jwt`` filter."""
    acc = cms.access.for_user(user_id, role, caller.ip)
    claims: dict[str, Any] = {"id": user_id, "role": role, "app_access": acc.app,
                              "admin_access": acc.admin}
    if session is not None:
        claims["session"] = session
    meta = {"status": "pending", "user": user_id, "provider": provider, "type": kind}
    claims = cms.events.filter(["auth.jwt"], claims, meta, _event_context(cms, caller))
    return claims


def _access_ttl(state: AuthState, mode: str) -> int:
    return state.settings.session_ttl_ms if mode == "session" else state.settings.access_ttl_ms


def _session_ttl(state: AuthState, mode: str) -> int:
    return state.settings.session_ttl_ms if mode == "session" else state.settings.refresh_ttl_ms


def issue_session(cms: Any, state: AuthState, user: dict[str, Any], mode: str,
                  caller: Caller, provider: str) -> Issued:
    """Open a session for a user who just proved who they are."""
    now = utcnow()
    token = jwt_tokens.new_opaque_token()
    s, u = state.sessions, state.users
    with cms.begin() as conn:
        # the user's row first: concurrent logins of one user queue on its lock. Inserting the
        # session first took a shared lock on that row (the foreign key) in each of them, and
        # the later UPDATE then deadlocked them on MariaDB
        conn.execute(u.update().where(u.c.id == user["id"]).values(last_access=now))
        conn.execute(s.delete().where(s.c.user == user["id"], s.c.expires < now))
        conn.execute(s.insert().values(
            token=token, user=user["id"],
            expires=now + dt.timedelta(milliseconds=_session_ttl(state, mode)),
            ip=_clip(caller.ip, 255), user_agent=caller.user_agent,
            origin=_clip(caller.origin, 255)))
    claims = access_claims(cms, state, user["id"], user.get("role"), caller,
                           token if mode == "session" else None, "login", provider)
    ttl = _access_ttl(state, mode)
    return Issued(jwt_tokens.sign(claims, state.secret, ttl), token, ttl)


def rotate_session(cms: Any, state: AuthState, token: str, mode: str,
                   caller: Caller) -> Issued:
    """Exchange a refresh token (or session id) for new tokens.

    The transaction starts by claiming the row (setting ``next_token`` where it is still
    empty): a write first takes SQLite's write lock before anything is read, and a row lock
    on the other databases, so concurrent refreshes queue up there. Whoever claims it creates
    the successor row; the others read the claimed ``next_token`` and hand out the same one.
    Every refusal rolls the claim back.
    """
    now = utcnow()
    s, u = state.sessions, state.users
    error: TransomError | None = None
    candidate = jwt_tokens.new_opaque_token()
    with cms.begin() as conn:
        won = conn.execute(
            s.update().where(s.c.token == token, s.c.next_token.is_(None))
            .values(next_token=candidate)
        ).rowcount == 1
        # A locking read: under MySQL's repeatable read a plain one could miss the claim
        # another transaction committed while this one waited.
        row = conn.execute(
            sa.select(s.c.user, s.c.expires, s.c.next_token, s.c.share)
            .where(s.c.token == token).with_for_update()
        ).first()
        expires = as_utc(row.expires) if row is not None else None
        if row is None or expires is None or expires < now or not row.next_token:
            raise InvalidCredentialsError()
        successor = str(row.next_token)
        if row.user is None:  # a share's session (or nobody's)
            if row.share is None:
                raise InvalidCredentialsError()
            share = _rotate_share(conn, state, token, row, won, expires, mode, caller)
            claims = share_claims(share)
            if mode == "session":
                claims["session"] = successor
            ttl = _access_ttl(state, mode)
            return Issued(jwt_tokens.sign(claims, state.secret, ttl), successor, ttl)
        user_id = str(row.user)
        user = conn.execute(sa.select(u.c.role, u.c.status).where(u.c.id == user_id)).first()
        if user is None:
            raise InvalidCredentialsError()
        role = str(user.role) if user.role is not None else None
        if user.status != "active":
            # Committed before raising: an inactive user's session ends here.
            conn.execute(s.delete().where(s.c.token == token))
            error = UserSuspendedError() if user.status == "suspended" \
                else InvalidCredentialsError()
        else:
            if won:
                grace = dt.timedelta(milliseconds=state.settings.grace_ms)
                conn.execute(s.update().where(s.c.token == token)
                             .values(expires=min(expires, now + grace)))
                conn.execute(s.insert().values(
                    token=successor, user=user_id,
                    expires=now + dt.timedelta(milliseconds=_session_ttl(state, mode)),
                    ip=_clip(caller.ip, 255), user_agent=caller.user_agent,
                    origin=_clip(caller.origin, 255)))
            conn.execute(u.update().where(u.c.id == user_id).values(last_access=now))
    if error is not None:
        raise error
    claims = access_claims(cms, state, user_id, role, caller,
                           successor if mode == "session" else None, "refresh")
    ttl = _access_ttl(state, mode)
    return Issued(jwt_tokens.sign(claims, state.secret, ttl), successor, ttl)


def share_claims(share: Any) -> dict[str, Any]:
    """Directus's claims of a share token (a ``directus_shares`` row): no user ``id``."""
    return {"share": str(share.id),
            "share_scope": {"collection": share.collection, "item": share.item},
            "role": str(share.role) if share.role is not None else None,
            "app_access": False, "admin_access": False}


def _rotate_share(conn: sa.Connection, state: AuthState, token: str, row: Any, won: bool,
                  expires: dt.datetime, mode: str, caller: Caller) -> Any:
    """The share of a share session being refreshed (its successor row made by the winner);
    a share deleted or past its window ends the session."""
    shares = shared_system_metadata().tables["directus_shares"]
    s, now = state.sessions, utcnow()
    share = conn.execute(sa.select(shares).where(shares.c.id == str(row.share))).first()
    start = as_utc(share.date_start) if share is not None else None
    end = as_utc(share.date_end) if share is not None else None
    if share is None or (start is not None and start > now) or (end is not None and end < now):
        raise InvalidCredentialsError()
    if won:
        grace = dt.timedelta(milliseconds=state.settings.grace_ms)
        conn.execute(s.update().where(s.c.token == token)
                     .values(expires=min(expires, now + grace)))
        conn.execute(s.insert().values(
            token=str(row.next_token), user=None, share=str(row.share),
            expires=now + dt.timedelta(milliseconds=_session_ttl(state, mode)),
            ip=_clip(caller.ip, 255), user_agent=caller.user_agent,
            origin=_clip(caller.origin, 255)))
    return share


def end_session(cms: Any, state: AuthState, token: str) -> None:
    """Delete a session, its rotated successor and any predecessor still in its grace."""
    s = state.sessions
    with cms.begin() as conn:
        row = conn.execute(sa.select(s.c.user, s.c.next_token)
                           .where(s.c.token == token)).first()
        if row is None:
            return
        doomed = [token] + ([row.next_token] if row.next_token else [])
        conn.execute(s.delete().where(sa.or_(s.c.token.in_(doomed),
                                             s.c.next_token == token)))
    if row.user is not None:
        user = find_user(cms, user_id=str(row.user))
        provider = state.providers.get(user["provider"]) if user else None
        if user is not None and provider is not None:
            try:
                provider.logout(cms, user)
            except Exception:  # noqa: BLE001 - the session is gone whatever the IdP says
                log.exception("auth provider %s failed on logout", provider.name)


@functools.lru_cache(maxsize=8)
def _session_expiry_stmt(s: sa.Table) -> sa.Select[Any]:
    """Built once: the resolver asks for every request with a session token."""
    return sa.select(s.c.expires).where(s.c.token == sa.bindparam("token"),
                                        s.c.user == sa.bindparam("user"))


@functools.lru_cache(maxsize=8)
def _current_user_stmt(u: sa.Table) -> sa.Select[Any]:
    """Built once: the resolver asks for every request with a JWT."""
    return sa.select(u.c.id, u.c.role, u.c.status,
                     u.c.tfa_secret.is_not(None).label("has_tfa")
                     ).where(u.c.id == sa.bindparam("user"))


def session_is_live(cms: Any, state: AuthState, session: str, user_id: str) -> bool:
    with cms.connect() as conn:
        row = conn.execute(_session_expiry_stmt(state.sessions),
                           {"token": str(session), "user": user_id}).first()
    expires = as_utc(row.expires) if row is not None else None
    return expires is not None and expires >= utcnow()


def current_user(cms: Any, state: AuthState, user_id: str) -> Any:
    """id, role, status and whether TFA is set up, read on every request so that a
    suspension, a role change or a new TFA secret applies to tokens already handed out."""
    with cms.connect() as conn:
        return conn.execute(_current_user_stmt(state.users), {"user": user_id}).first()


# -- password reset ---------------------------------------------------------------------------
def reset_link(base: str | None, public_url: str, token: str) -> str:
    """Where the email sends the user: ``reset_url`` (or the admin app) plus the token."""
    if not base:
        return f"{public_url.rstrip('/')}/admin/reset-password?{urlencode({'token': token})}"
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "token"]
    query.append(("token", token))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query),
                       parts.fragment))


def url_allowed(url: str, allow_list: tuple[str, ...]) -> bool:
    """Whether a reset link may point at ``url``: listed exactly, or same scheme, host, port
    and path as a listed URL (the query may differ)."""
    if url in allow_list:
        return True

    def key(value: str) -> tuple[str, str, str] | None:
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return None
        return parts.scheme.lower(), parts.netloc.lower(), parts.path or "/"

    wanted = key(url)
    return wanted is not None and any(key(a) == wanted for a in allow_list)


def request_password_reset(cms: Any, state: AuthState, email: str,
                           reset_url: str | None) -> None:
    """Mail a reset link to an active user; silently nothing for anyone else."""
    user = find_user(cms, email=email)
    if user is None or user["status"] != "active" or not user.get("email"):
        return
    claims = {"id": user["id"], "email": user["email"], "scope": jwt_tokens.RESET_SCOPE}
    token = jwt_tokens.sign(claims, jwt_tokens.reset_key(state.secret, user["password"]),
                            state.settings.reset_ttl_ms)
    link = reset_link(reset_url, state.settings.public_url, token)
    message = EmailMessage(
        to=user["email"],
        subject="Password Reset Request",
        text=("We received a request to reset the password of your account.\n\n"
              f"Choose a new password here: {link}\n\n"
              "The link works once. If you did not ask for it, ignore this email: your "
              "password stays unchanged."),
        html=("<p>We received a request to reset the password of your account.</p>"
              f'<p><a href="{html.escape(link, quote=True)}">Choose a new password</a></p>'
              "<p>The link works once. If you did not ask for it, ignore this email: your "
              "password stays unchanged.</p>"),
    )
    deliver(cms, message)


def deliver(cms: Any, message: EmailMessage) -> None:
    """Send through ``send_email``; in the background unless testing, so that a slow mail
    server neither blocks the request nor tells the caller that the address exists."""
    def send() -> None:
        try:
            cms.hook.send_email(cms=cms, message=message)
        except Exception:  # noqa: BLE001 - nobody is waiting for the answer
            log.exception("sending email %r failed", message.subject)

    if cms.config.get("TESTING"):
        send()
    else:
        threading.Thread(target=send, name="transom-mail", daemon=True).start()


def password_policy(cms: Any) -> re.Pattern[str] | None:
    """``directus_settings.auth_password_policy`` (``/regex/flags``) compiled, if any."""
    if cms.schema.get("directus_settings") is None:
        return None
    with cms.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT auth_password_policy FROM directus_settings ORDER BY id")).first()
    text = (row[0] if row is not None else None) or ""
    if not text:
        return None
    flags = 0
    if text.startswith("/") and text.rfind("/") > 0:
        end = text.rfind("/")
        text, suffix = text[1:end], text[end + 1:]
        flags |= re.IGNORECASE if "i" in suffix else 0
        flags |= re.MULTILINE if "m" in suffix else 0
        flags |= re.DOTALL if "s" in suffix else 0
    try:
        return re.compile(text, flags)
    except re.error:
        log.warning("auth_password_policy %r is not a valid regular expression", text)
        return None


def reset_password(cms: Any, state: AuthState, token: str, password: str) -> None:
    """Set a new password with a reset token; the token dies with the old password."""
    claims = jwt_tokens.unverified_claims(token)
    if claims is None or claims.get("scope") != jwt_tokens.RESET_SCOPE:
        raise InvalidTokenError()
    if claims.get("id"):
        user = find_user(cms, user_id=str(claims["id"]))
    elif isinstance(claims.get("email"), str):
        user = find_user(cms, email=claims["email"])
    else:
        user = None
    if user is None:
        raise InvalidTokenError()
    verified = jwt_tokens.decode(token,
                                 key=jwt_tokens.reset_key(state.secret, user["password"]))
    if verified.get("scope") != jwt_tokens.RESET_SCOPE or user["status"] != "active":
        raise InvalidTokenError()
    policy = password_policy(cms)
    if policy is not None and not policy.search(password):
        raise FailedValidationError(
            "password", "regex", "Provided password doesn't match password policy.")
    s, u = state.sessions, state.users
    with cms.begin() as conn:
        conn.execute(u.update().where(u.c.id == user["id"])
                     .values(password=hash_password(password)))
        # Whoever knew the old password may hold sessions: end them all.
        conn.execute(s.delete().where(s.c.user == user["id"]))
    state.attempts.reset(user["id"])
    cms.access_changed()


def stall(started: float, stall_ms: int) -> None:
    """Sleep until ``stall_ms`` have passed since ``started`` (``time.monotonic()``)."""
    remaining = stall_ms / 1000.0 - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)
