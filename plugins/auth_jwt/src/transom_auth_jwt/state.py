"""Per-app state of the plugin, kept in ``cms.state("auth_jwt")``.

Built once when the app starts: settings parsed, the signing secret chosen, providers
collected, counters created. Nothing here is module-global, so two apps in one process (as in
the tests) never share secrets, counters or providers.

The failed-login counters are shared by every worker and instance (see :mod:`.limits`):
with ``RATE_LIMITER_STORE=redis`` both live in Redis (the limiter's URL and key prefix);
otherwise the per-account count lives in the database and the per-IP window per process.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from transom.api import (
    AuthProvider,
    StartupError,
    connect_redis,
    flatten,
    limiter_key_prefix,
    limiter_redis_url,
    shared_system_metadata,
)

from .limits import (
    Attempts,
    DatabaseAttempts,
    FailureWindow,
    RedisAttempts,
    RedisFailureWindow,
    RedisGuard,
    Window,
)
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
    ip_failures: Window
    attempts: Attempts


def build_counters(cms: Any, settings: AuthSettings) -> tuple[Window, Attempts]:
    """The per-IP window and the per-account counter the settings ask for."""
    local = FailureWindow(settings.ip_attempts, settings.ip_window_ms)
    in_db = DatabaseAttempts(cms)
    url = limiter_redis_url(cms.config)
    if url is None:
        return local, in_db
    # 2 s, not the limiter's 0.5 s: a login already stalls, and a busy Redis must not turn
    # shared counts into per-process ones; a real outage costs one timeout per 5 s.
    client = connect_redis(url, timeout=2.0)
    prefix = limiter_key_prefix(cms.config)
    guard = RedisGuard(url)
    return (RedisFailureWindow(client, prefix, guard, local),
            RedisAttempts(client, prefix, guard, in_db))


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
    md = shared_system_metadata()
    ip_failures, attempts = build_counters(cms, settings)
    return AuthState(
        settings=settings,
        secret=str(secret),
        providers=providers,
        users=md.tables["directus_users"],
        sessions=md.tables["directus_sessions"],
        ip_failures=ip_failures,
        attempts=attempts,
    )


def get_state(cms: Any) -> AuthState:
    """The app's state, built on first use if ``init_app`` has not run yet."""
    return cms.state(EXTENSION_KEY, lambda: build_state(cms))
