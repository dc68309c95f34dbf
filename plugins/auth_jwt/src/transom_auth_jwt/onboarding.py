"""Invites and public registration (Directus 11's ``/users/invite`` and ``/users/register``).

Both mail a link holding a JWT signed with ``SECRET`` (issuer ``directus``) and a ``scope``
(``invite`` or ``pending-registration``), as Directus does, so links made by either server
work on the other. Such a token is never an access token: it has no user ``id`` and the
request resolver refuses it. A link works once because it only acts on a user still in the
status it was sent for (``invited`` or ``unverified``).

Users are written through :class:`UsersService` (email format, password policy, hashing,
events). An invite is written with the caller's accountability, so only who may create users
may invite; registration and acceptance write as the system, since their caller is anonymous.
"""

from __future__ import annotations

import html
import json
import logging
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import sqlalchemy as sa

from transom.api import (
    Accountability,
    EmailMessage,
    ForbiddenError,
    InvalidPayloadError,
    Setting,
    TransomError,
    UsersService,
    find_user,
    validate_payload,
)

from . import jwt_tokens
from .service import deliver, url_allowed
from .state import AuthState

log = logging.getLogger("transom.auth")

INVITE_SCOPE = "invite"
REGISTER_SCOPE = "pending-registration"

SETTINGS: tuple[Setting, ...] = (
    Setting("USER_INVITE_TOKEN_TTL", "7d", "duration", "Lifetime of invitation links."),
    Setting("USER_INVITE_URL_ALLOW_LIST", "", "csv",
            "URLs an invitation may send its link to (invite_url)."),
    Setting("USER_REGISTER_URL_ALLOW_LIST", "", "csv",
            "URLs a registration may send its verification link to (verification_url)."),
    Setting("EMAIL_VERIFICATION_TOKEN_TTL", "7d", "duration",
            "Lifetime of email verification links of public registration."),
    Setting("REGISTER_STALL_TIME", 750, "duration",
            "Least time a registration takes (hides whether the email was known)."),
)


def _with_token(base: str, token: str) -> str:
    """``base`` with ``token=...`` in its query (any previous token replaced)."""
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "token"]
    query.append(("token", token))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def _public(cms: Any, *path: str) -> str:
    return "/".join([str(cms.config.get("PUBLIC_URL", "/")).rstrip("/"), *path])


def _mail(cms: Any, to: str, subject: str, intro: str, link: str, label: str) -> None:
    deliver(cms, EmailMessage(
        to=to, subject=subject,
        text=f"{intro}\n\n{label}: {link}\n",
        html=f'<p>{html.escape(intro)}</p><p><a href="{html.escape(link, quote=True)}">'
             f"{html.escape(label)}</a></p>"))


def _scoped_claims(state: AuthState, token: Any, scope: str) -> dict[str, Any]:
    """The claims of a link token; 403 when it is another kind of token (as Directus)."""
    if not isinstance(token, str) or not token:
        raise InvalidPayloadError('"token" is required')
    claims = jwt_tokens.decode(token)  # INVALID_TOKEN / TOKEN_EXPIRED
    if claims.get("scope") != scope or not isinstance(claims.get("email"), str):
        raise ForbiddenError()
    return claims


# -- invites ------------------------------------------------------------------------------------
def _emails(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if value is None or not items:
        raise InvalidPayloadError('"email" is required')
    for item in items:
        if not isinstance(item, str) or not _looks_like_email(item):
            raise InvalidPayloadError('"email" must be a valid email')
    return [str(i).strip() for i in items]


def _looks_like_email(value: str) -> bool:
    local, at, domain = value.strip().rpartition("@")
    return bool(at and local and "." in domain) and not any(c.isspace() for c in value.strip())


def _uuid(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidPayloadError(f'"{name}" is required')
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidPayloadError(f'"{name}" must be a valid GUID') from None


def invite(cms: Any, state: AuthState, accountability: Accountability | None,
           body: dict[str, Any]) -> None:
    """Create ``invited`` users (or re-invite those still invited) and mail each a link.

    A user who already exists with another status is left alone and gets no mail, as in
    Directus 11 (the answer does not say so)."""
    emails = _emails(body.get("email"))
    role = _uuid(body.get("role"), "role")
    url = body.get("invite_url")
    if url is not None and not isinstance(url, str):
        raise InvalidPayloadError('"invite_url" must be a string')
    if url and not url_allowed(url, tuple(cms.config.get("USER_INVITE_URL_ALLOW_LIST") or ())):
        raise InvalidPayloadError(f'URL "{url}" can\'t be used to invite users')
    if accountability is not None and not accountability.admin:
        cms.access.permissions(accountability).require("directus_users", "create")
    users = UsersService(cms, accountability)
    ttl = int(cms.config.get("USER_INVITE_TOKEN_TTL"))
    for email in emails:
        user = find_user(cms, email=email)
        if user is None:
            users.create_one({"email": email, "role": role, "status": "invited"})
        elif user["status"] != "invited":
            continue
        elif str(user.get("role")) != role:
            users.update_one(user["id"], {"role": role})
        address = user["email"] if user is not None else email
        token = jwt_tokens.sign({"email": address, "scope": INVITE_SCOPE}, state.secret, ttl)
        link = _with_token(url or _public(cms, "admin", "accept-invite"), token)
        _mail(cms, address, "You've been invited",
              "You have been invited to join the project. Choose a password to accept.",
              link, "Accept the invitation")


def accept_invite(cms: Any, state: AuthState, token: Any, password: Any) -> None:
    """Set the password of an invited user and make them active."""
    if not isinstance(password, str) or not password:
        raise InvalidPayloadError('"password" is required')
    claims = _scoped_claims(state, token, INVITE_SCOPE)
    user = find_user(cms, email=claims["email"])
    if user is None or user["status"] != "invited":
        raise InvalidPayloadError(f"Email address {claims['email']} hasn't been invited")
    UsersService(cms, None).update_one(user["id"], {"password": password, "status": "active"})
    cms.access_changed()


# -- public registration ------------------------------------------------------------------------
def _registration_settings(cms: Any) -> dict[str, Any]:
    if cms.schema.get("directus_settings") is None:
        return {}
    with cms.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT public_registration, public_registration_verify_email, "
            "public_registration_role, public_registration_email_filter "
            "FROM directus_settings ORDER BY id")).first()
    return dict(row._mapping) if row is not None else {}


def _json(value: Any) -> Any:
    """A JSON column's value (text on SQLite and MySQL, decoded on PostgreSQL)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _stall(started: float, stall_ms: int) -> None:
    remaining = stall_ms / 1000.0 - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)


def register(cms: Any, state: AuthState, body: dict[str, Any]) -> None:
    """Create a user from the public form: ``unverified`` (and mailed a link) when the
    project verifies emails, else ``active``. A known email changes nothing (an unverified
    one is mailed again) and answers the same, so the form tells nobody who is registered.
    """
    started = time.monotonic()
    stall_ms = int(cms.config.get("REGISTER_STALL_TIME", 0))
    email = body.get("email")
    if not isinstance(email, str) or not email:
        raise InvalidPayloadError('"email" is required')
    if not _looks_like_email(email):
        raise InvalidPayloadError('"email" must be a valid email')
    for name, required in (("password", True), ("first_name", False), ("last_name", False),
                           ("verification_url", False)):
        value = body.get(name)
        if value is None and not required:
            continue
        if not isinstance(value, str) or (required and not value):
            raise InvalidPayloadError(f'"{name}" is required' if value in (None, "")
                                      else f'"{name}" must be a string')
    url = body.get("verification_url") or None
    allow = tuple(cms.config.get("USER_REGISTER_URL_ALLOW_LIST") or ())
    if url and not url_allowed(url, allow):
        raise InvalidPayloadError(f'URL "{url}" can\'t be used to verify registered users')
    settings = _registration_settings(cms)
    if not settings.get("public_registration"):
        raise ForbiddenError()
    email_filter = _json(settings.get("public_registration_email_filter"))
    if isinstance(email_filter, dict) and email_filter and \
            validate_payload(email_filter, {"email": email}):
        _stall(started, stall_ms)
        raise ForbiddenError()
    verify = bool(settings.get("public_registration_verify_email"))
    user = find_user(cms, email=email)
    if user is None:
        role = settings.get("public_registration_role")
        try:
            UsersService(cms, None).create_one({
                "email": email.strip(), "password": body["password"],
                "role": str(role) if role is not None else None,
                "status": "unverified" if verify else "active",
                "first_name": body.get("first_name"), "last_name": body.get("last_name")})
        except TransomError as exc:
            if exc.code != "RECORD_NOT_UNIQUE":
                raise
            # Registered meanwhile by a concurrent request: answer as for a known email.
            user = find_user(cms, email=email)
    if user is not None and user["status"] != "unverified":
        _stall(started, stall_ms)
        return
    if verify:
        ttl = int(cms.config.get("EMAIL_VERIFICATION_TOKEN_TTL"))
        token = jwt_tokens.sign({"email": email.strip(), "scope": REGISTER_SCOPE},
                                state.secret, ttl)
        link = _with_token(url or _public(cms, "users", "register", "verify-email"), token)
        _mail(cms, email.strip(), "Verify your email address",
              "Thanks for registering. Confirm that this address is yours.", link,
              "Verify email")
    _stall(started, stall_ms)


def verify_registration(cms: Any, state: AuthState, token: Any) -> str:
    """Activate the unverified user a verification link was sent to; their id."""
    claims = _scoped_claims(state, token, REGISTER_SCOPE)
    user = find_user(cms, email=claims["email"])
    if user is None or user["status"] != "unverified":
        raise InvalidPayloadError("Invalid verification code")
    UsersService(cms, None).update_one(user["id"], {"status": "active"})
    cms.access_changed()
    return str(user["id"])
