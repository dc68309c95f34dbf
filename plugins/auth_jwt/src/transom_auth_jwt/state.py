"""Per-app state of the plugin, kept in ``cms.state("auth_jwt")``.

Built once when the app starts: settings parsed, the signing secret chosen, providers
collected, counters created. Nothing here is module-global, so two apps in one process (as in
the tests) never share secrets, counters or providers.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from transom.api import AuthProvider, StartupError, flatten, system_metadata

from .limits import AttemptCounter, FailureWindow
from .settings import AuthSettings

log = logging.getLogger("transom.auth")

EXTENSION_KEY = "auth_jwt"


@dataclass
class AuthState:
    """What the routes and the token resolver share."""

    settings: AuthSettings
    secret: str
    providers: dict[str, AuthProvider]
    users: sa.Table
    sessions: sa.Table
    ip_failures: FailureWindow
    attempts: AttemptCounter = field(default_factory=AttemptCounter)


def build_state(cms: Any) -> AuthState:
    settings = AuthSettings.from_config(cms.config)
    secret = cms.config.get("SECRET")
    if not secret:
        secret = secrets.token_urlsafe(48)
        log.warning("SECRET is not set: using a random one, so every token and session "
                    "ends when this process stops. Set SECRET to keep them.")
    elif len(str(secret).encode()) < 32:
        log.warning("SECRET is shorter than 32 bytes; use a longer random value.")
    for cookie in (settings.refresh_cookie, settings.session_cookie):
        if cookie.same_site == "None" and not cookie.secure:
            log.warning("cookie %s has SameSite=None without Secure: browsers drop it.",
                        cookie.name)
    providers: dict[str, AuthProvider] = {}
    for provider in flatten(cms.hook.register_auth_providers(cms=cms)):
        if not isinstance(provider, AuthProvider):
            raise StartupError(f"register_auth_providers returned {provider!r}, "
                               "not a transom.auth.providers.AuthProvider")
        other = providers.get(provider.name)
        if other is not None and other is not provider:
            raise StartupError(f"Two auth providers are named {provider.name!r}: "
                               f"{type(other).__name__} and {type(provider).__name__}.")
        providers[provider.name] = provider
    md = system_metadata()
    return AuthState(
        settings=settings,
        secret=str(secret),
        providers=providers,
        users=md.tables["directus_users"],
        sessions=md.tables["directus_sessions"],
        ip_failures=FailureWindow(settings.ip_attempts, settings.ip_window_ms),
    )


def get_state(cms: Any) -> AuthState:
    """The app's state, built on first use if ``init_app`` has not run yet."""
    return cms.state(EXTENSION_KEY, lambda: build_state(cms))
