"""The plugin's settings (Directus's names and defaults) and their parsed, frozen form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transom.api import Setting, StartupError

SETTINGS: tuple[Setting, ...] = (
    Setting("ACCESS_TOKEN_TTL", "15m", "duration", "Lifetime of access tokens (JWTs)."),
    Setting("REFRESH_TOKEN_TTL", "7d", "duration", "Lifetime of refresh tokens (sessions)."),
    Setting("REFRESH_TOKEN_COOKIE_NAME", "directus_refresh_token", "str",
            "Cookie holding the refresh token in cookie mode."),
    Setting("REFRESH_TOKEN_COOKIE_SECURE", False, "bool",
            "Send the refresh cookie over HTTPS only."),
    Setting("REFRESH_TOKEN_COOKIE_SAME_SITE", "lax", "str",
            "SameSite of the refresh cookie: lax, strict or none."),
    Setting("REFRESH_TOKEN_COOKIE_DOMAIN", None, "str", "Domain of the refresh cookie."),
    Setting("SESSION_COOKIE_TTL", "1d", "duration",
            "Lifetime of session-mode cookies, their JWTs and sessions."),
    Setting("SESSION_COOKIE_SECURE", False, "bool", "Send the session cookie over HTTPS only."),
    Setting("SESSION_COOKIE_SAME_SITE", "lax", "str",
            "SameSite of the session cookie: lax, strict or none."),
    Setting("SESSION_COOKIE_DOMAIN", None, "str", "Domain of the session cookie."),
    Setting("SESSION_REFRESH_GRACE_PERIOD", "10s", "duration",
            "How long a rotated refresh token still answers (concurrent refreshes)."),
    Setting("LOGIN_STALL_TIME", 500, "duration",
            "Least time a failed login takes (hides which part failed)."),
    Setting("AUTH_LOGIN_ATTEMPTS", None, "int",
            "Failed logins before an account is suspended; unset: "
            "directus_settings.auth_login_attempts (25); 0 or -1: no limit."),
    Setting("AUTH_LOGIN_IP_ATTEMPTS", 50, "int",
            "Failed logins per client IP within AUTH_LOGIN_IP_WINDOW before 429; 0: no limit."),
    Setting("AUTH_LOGIN_IP_WINDOW", "15m", "duration",
            "Sliding window of AUTH_LOGIN_IP_ATTEMPTS (in Redis with "
            "RATE_LIMITER_STORE=redis, else per process)."),
    Setting("PASSWORD_RESET_URL_ALLOW_LIST", "", "csv",
            "URLs a password-reset request may send its link to."),
    Setting("PASSWORD_RESET_TOKEN_TTL", "1d", "duration", "Lifetime of password-reset links."),
    Setting("AUTH_DISABLE_DEFAULT", False, "bool",
            "Disable the local email/password login (POST /auth/login)."),
)

_SAME_SITE = {"lax": "Lax", "strict": "Strict", "none": "None"}


@dataclass(frozen=True)
class CookieOptions:
    """How one cookie is written (and cleared: a browser matches name, domain and path)."""

    name: str
    max_age_ms: int
    secure: bool
    same_site: str
    domain: str | None

    def set_kwargs(self) -> dict[str, Any]:
        return {"max_age": max(0, self.max_age_ms // 1000), "secure": self.secure,
                "httponly": True, "samesite": self.same_site, "domain": self.domain,
                "path": "/"}

    def clear_kwargs(self) -> dict[str, Any]:
        return {"secure": self.secure, "httponly": True, "samesite": self.same_site,
                "domain": self.domain, "path": "/"}


@dataclass(frozen=True)
class AuthSettings:
    """The settings read once at start-up; every duration in milliseconds."""

    access_ttl_ms: int
    refresh_ttl_ms: int
    session_ttl_ms: int
    grace_ms: int
    stall_ms: int
    login_attempts: int | None
    ip_attempts: int
    ip_window_ms: int
    reset_allow_list: tuple[str, ...]
    reset_ttl_ms: int
    disable_default: bool
    refresh_cookie: CookieOptions
    session_cookie: CookieOptions
    public_url: str

    @classmethod
    def from_config(cls, config: Any) -> AuthSettings:
        refresh_ttl = int(config.get("REFRESH_TOKEN_TTL"))
        session_ttl = int(config.get("SESSION_COOKIE_TTL"))
        return cls(
            access_ttl_ms=int(config.get("ACCESS_TOKEN_TTL")),
            refresh_ttl_ms=refresh_ttl,
            session_ttl_ms=session_ttl,
            grace_ms=int(config.get("SESSION_REFRESH_GRACE_PERIOD", 0)),
            stall_ms=int(config.get("LOGIN_STALL_TIME", 0)),
            login_attempts=config.get("AUTH_LOGIN_ATTEMPTS"),
            ip_attempts=int(config.get("AUTH_LOGIN_IP_ATTEMPTS", 0)),
            ip_window_ms=int(config.get("AUTH_LOGIN_IP_WINDOW", 0)),
            reset_allow_list=tuple(config.get("PASSWORD_RESET_URL_ALLOW_LIST") or ()),
            reset_ttl_ms=int(config.get("PASSWORD_RESET_TOKEN_TTL")),
            disable_default=bool(config.get("AUTH_DISABLE_DEFAULT")),
            refresh_cookie=CookieOptions(
                name=config.get("REFRESH_TOKEN_COOKIE_NAME", "directus_refresh_token"),
                max_age_ms=refresh_ttl,
                secure=bool(config.get("REFRESH_TOKEN_COOKIE_SECURE")),
                same_site=_same_site("REFRESH_TOKEN_COOKIE_SAME_SITE",
                                     config.get("REFRESH_TOKEN_COOKIE_SAME_SITE")),
                domain=config.get("REFRESH_TOKEN_COOKIE_DOMAIN") or None,
            ),
            session_cookie=CookieOptions(
                name=config.get("SESSION_COOKIE_NAME", "directus_session_token"),
                max_age_ms=session_ttl,
                secure=bool(config.get("SESSION_COOKIE_SECURE")),
                same_site=_same_site("SESSION_COOKIE_SAME_SITE",
                                     config.get("SESSION_COOKIE_SAME_SITE")),
                domain=config.get("SESSION_COOKIE_DOMAIN") or None,
            ),
            public_url=str(config.get("PUBLIC_URL", "/")),
        )


def _same_site(name: str, value: Any) -> str:
    """Directus accepts lax/strict/none (and booleans: true is strict, false is lax)."""
    text = str(value if value is not None else "lax").strip().lower()
    text = {"true": "strict", "false": "lax"}.get(text, text)
    if text not in _SAME_SITE:
        raise StartupError(f"{name}={value!r}: choose one of lax, strict, none")
    return _SAME_SITE[text]
