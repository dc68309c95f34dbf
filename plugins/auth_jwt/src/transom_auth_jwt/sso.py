"""What the single sign-on plugins (transom-auth-oidc, -saml, -ldap) share.

Each of them reads Directus's ``AUTH_<NAME>_*`` settings, proves an identity its own way
(a code exchange, a signed assertion, a directory bind), then links that identity to a
``directus_users`` row and lets this plugin's login policy finish the login. The parts that
are the same whatever the proof live here, so that a fix to, say, the redirect rule or the
race of two first logins lands in every provider at once:

* settings: :func:`provider_names`, :func:`option`, :func:`text_option`, :func:`flag`,
  :func:`csv`, :func:`login_mode`;
* browser flows: :func:`provider_of`, :func:`public_root`, :func:`redirect_allowed`,
  :func:`redirect_target`, :func:`caller`, :func:`finish_login`; the login's state carried
  by the browser: :func:`seal_json`, :func:`unseal_json`;
* providers: :class:`SealedProvider` (``verify`` accepts only a user its own ``identify``
  proved in this login) and :class:`BrowserProvider` (no ``POST /auth/login/<name>``);
* users: :func:`user_fields`, :func:`link_or_create`.

No identity-provider SDK (pysaml2, authlib, ldap3) is imported here: the SSO plugins import
those lazily, and an app without SSO must not load them through this module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Response, redirect, request

from transom.api import (
    AuthProvider,
    InvalidCredentialsError,
    InvalidPayloadError,
    RouteNotFoundError,
    Setting,
    StartupError,
    TransomError,
    UsersService,
    client_ip,
    current_cms,
    find_user,
    json_response,
)

from . import service as auth
from .state import AuthState, get_state

P = TypeVar("P", bound=AuthProvider)

PROVIDERS_SETTING = Setting(
    "AUTH_PROVIDERS", None, "csv",
    "Login providers besides the local one (their AUTH_<NAME>_* settings configure them).")

TRUE = ("true", "1", "yes", "on")
MODES = ("session", "cookie")
#: key of the user dict that carries a provider's proof (see :class:`SealedProvider`)
VERIFIED = "_sso_verified"
#: what UsersService accepts as an email; a claim that is not one is left out, not an error
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# -- settings ---------------------------------------------------------------------------------
def provider_names(config: Any) -> list[str]:
    """The names in ``AUTH_PROVIDERS`` (a list once declared, a string before)."""
    raw = config.get("AUTH_PROVIDERS") or []
    if isinstance(raw, str):
        raw = raw.split(",")
    return [str(n).strip() for n in raw if str(n).strip()]


def option(config: Any, name: str, key: str, default: Any = None) -> Any:
    """``AUTH_<NAME>_<KEY>``, or ``default`` when unset or empty."""
    value = config.get(f"AUTH_{name.upper()}_{key}")
    return default if value is None or value == "" else value


def text_option(config: Any, name: str, key: str, default: Any = None) -> str | None:
    """:func:`option` as a string (None stays None): settings arrive typed or as text."""
    value = option(config, name, key, default)
    return str(value) if value is not None else None


def flag(config: Any, name: str, key: str) -> bool:
    """A boolean ``AUTH_<NAME>_<KEY>``, false unless set to a true word."""
    return str(option(config, name, key, "false")).strip().lower() in TRUE


def csv(value: Any) -> tuple[str, ...]:
    """A comma-separated (or already listed) setting, trimmed, empty items dropped."""
    if value is None:
        return ()
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(str(i).strip() for i in items if str(i).strip())


def login_mode(config: Any, name: str) -> str:
    """``AUTH_<NAME>_MODE`` of a browser flow: ``session`` (default) or ``cookie``."""
    mode = str(text_option(config, name, "MODE", "session")).lower()
    if mode not in MODES:
        raise StartupError(f"AUTH_{name.upper()}_MODE={mode!r}: choose session or cookie")
    return mode


# -- browser flows ----------------------------------------------------------------------------
def provider_of(name: str, kind: type[P]) -> tuple[Any, AuthState, P]:
    """The app, the auth state and provider ``name`` for a route of ``kind``'s plugin; 404
    ROUTE_NOT_FOUND when ``name`` is not one of its providers."""
    cms = current_cms()
    state = get_state(cms)
    provider = state.providers.get(name)
    if not isinstance(provider, kind):
        raise RouteNotFoundError(request.path)
    return cms, state, provider


def public_root(cms: Any) -> str:
    """``PUBLIC_URL`` without its trailing slash; a relative one is put on the request's
    own root."""
    public = str(cms.config.get("PUBLIC_URL") or "/")
    if public.startswith(("http://", "https://")):
        return public.rstrip("/")
    root = request.url_root.rstrip("/")
    return root + "/" + public.strip("/") if public.strip("/") else root


def _origin(url: str) -> tuple[str, str, str] | None:
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme.lower(), parts.netloc.lower(), parts.path or "/"


def redirect_allowed(cms: Any, allow_list: tuple[str, ...], target: str) -> bool:
    """Directus's rule: a path on this server, the public URL's host, or a URL of the
    provider's ``REDIRECT_ALLOW_LIST`` (same scheme, host, port and path)."""
    if target.startswith("/") and not target.startswith(("//", "/\\")) and \
            not any(c in target for c in "\r\n\t\\"):
        return True
    wanted = _origin(target)
    if wanted is None:
        return False
    public = _origin(public_root(cms))
    if public is not None and public[:2] == wanted[:2]:
        return True
    return any(_origin(a) == wanted for a in allow_list)


def redirect_target(cms: Any, allow_list: tuple[str, ...]) -> str | None:
    """The request's ``?redirect=``, None when absent; 400 when the rule refuses it."""
    target = request.args.get("redirect") or None
    if target is not None and not redirect_allowed(cms, allow_list, target):
        raise InvalidPayloadError(f'URL "{target}" can\'t be used to redirect after login')
    return target


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _mac(key: bytes, body: str, size: int) -> str:
    return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest()[:size])


def seal_json(key: bytes, data: Mapping[str, Any], *, mac_size: int = 32) -> str:
    """``base64url(json).base64url(hmac-sha256)``: state a browser carries between two
    requests (a cookie, SAML's RelayState) that it can read but not change. ``mac_size``
    truncates the MAC (RelayState must stay short)."""
    body = _b64(json.dumps(dict(data), separators=(",", ":")).encode())
    return f"{body}.{_mac(key, body, mac_size)}"


def unseal_json(key: bytes, value: Any, *, mac_size: int = 32) -> Any:
    """The data :func:`seal_json` sealed with ``key``; ValueError when ``value`` is not
    such a string or its MAC does not match (the caller checks what the data says)."""
    if not isinstance(value, str):
        raise ValueError("no sealed value")
    body, sig = value.split(".")
    if not hmac.compare_digest(sig, _mac(key, body, mac_size)):
        raise ValueError("bad signature")
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def caller() -> auth.Caller:
    """Who is logging in, as the session records it."""
    return auth.Caller(ip=client_ip(), user_agent=request.headers.get("User-Agent"),
                       origin=request.headers.get("Origin"))


def finish_login(cms: Any, state: Any, provider: AuthProvider, payload: Mapping[str, Any],
                 who: auth.Caller, mode: str, target: str | None) -> Response:
    """Run the login policy on the provider's proof; then the tokens as JSON (no
    ``target``), or a 302 to ``target`` carrying the session (``mode`` ``session``) or
    refresh (``cookie``) cookie."""
    user, emit = auth.authenticate(cms, state, provider, payload, who)
    mode = mode if target else "json"
    issued = auth.issue_session(cms, state, user, mode, who, provider.name)
    emit("success")
    if not target:
        return json_response({"data": {"access_token": issued.access_token,
                                       "refresh_token": issued.refresh_token,
                                       "expires": issued.expires_ms}})
    resp = redirect(target, code=302)
    if mode == "session":
        c = state.settings.session_cookie
        resp.set_cookie(c.name, issued.access_token, **c.set_kwargs())
    else:
        c = state.settings.refresh_cookie
        resp.set_cookie(c.name, issued.refresh_token, **c.set_kwargs())
    return resp


# -- providers --------------------------------------------------------------------------------
class SealedProvider(AuthProvider):
    """A provider whose proof is checked in :meth:`identify` (where the identity comes
    from), so :meth:`verify` only has to know it happened: :meth:`seal` marks the user
    with an object no other instance (and no payload) can forge.

    ``settings``: the provider's ``AUTH_<NAME>_*`` settings, with ``name``, ``label`` and
    ``icon`` (what ``GET /auth`` lists)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.name = settings.name
        self.label = settings.label
        self.icon = settings.icon
        self._seal = object()

    def seal(self, user: dict[str, Any] | None) -> dict[str, Any] | None:
        """``user``, marked as proven when this provider owns it."""
        if user is not None and user.get("provider") == self.name:
            user[VERIFIED] = self._seal
        return user

    def verify(self, cms: Any, user: dict[str, Any] | None,
               payload: Mapping[str, Any]) -> None:
        if user is None or user.get(VERIFIED) is not self._seal:
            raise InvalidCredentialsError()


class BrowserProvider(SealedProvider):
    """A provider logged in through browser redirects only."""

    def validate(self, payload: Mapping[str, Any]) -> None:
        raise InvalidPayloadError(
            f'"{self.name}" logs in through the browser: GET /auth/login/{self.name}')


# -- users ------------------------------------------------------------------------------------
def user_fields(email: str | None, first_name: str | None,
                last_name: str | None) -> dict[str, Any]:
    """The ``directus_users`` fields an identity provider's claims give (an email only when
    it looks like one, lower-cased)."""
    return {"email": email.lower() if email and EMAIL.match(email) else None,
            "first_name": first_name, "last_name": last_name}


def link_or_create(cms: Any, provider: str, identifier: str, fields: Mapping[str, Any], *,
                   role: str | None, register: bool = True,
                   refresh: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                   refuse_taken: bool = True) -> dict[str, Any] | None:
    """The user linked to ``identifier`` (``external_identifier``), created when
    ``register`` allows it; written through :class:`UsersService`, so validation and hooks
    run as for any other write.

    * linked user: returned; for one of ``provider``'s, ``refresh(user)`` gives the changes
      to write first (a role change also drops the cached permissions);
    * unknown, ``register`` false: INVALID_CREDENTIALS, as Directus answers;
    * unknown, the email belongs to an account of another provider: that account, so the
      login fails with INVALID_PROVIDER rather than taking it over; to another identity of
      ``provider``: INVALID_CREDENTIALS (``refuse_taken``) or None (an unknown identity, for
      the login policy to refuse);
    * else created, active, with ``role``.
    """
    service = UsersService(cms)
    user = find_user(cms, external_identifier=identifier)
    if user is not None:
        if refresh is not None and user.get("provider") == provider:
            changes = refresh(user)
            if changes:
                service.update_one(user["id"], changes)
                if "role" in changes:
                    cms.access_changed()
                user = find_user(cms, user_id=user["id"])
        return user
    if not register:
        raise InvalidCredentialsError()
    if fields.get("email"):
        same = find_user(cms, email=fields["email"])
        if same is not None:
            if same.get("external_identifier") == identifier:
                return same  # created by a concurrent first login of the same identity
            if same.get("provider") == provider:
                if refuse_taken:
                    raise InvalidCredentialsError()  # another identity of ours owns it
                return None
            return same
    try:
        service.create_one({**fields, "provider": provider, "status": "active",
                            "external_identifier": identifier, "role": role})
    except TransomError:
        # the same identity's first login on another worker created it first: use that one
        user = find_user(cms, external_identifier=identifier)
        if user is None:
            raise
        return user
    return find_user(cms, external_identifier=identifier)
