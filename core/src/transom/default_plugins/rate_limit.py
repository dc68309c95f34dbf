"""Directus's rate limiters: a global budget, then one per client IP.

Directus mounts them after CORS and before ``/server/ping`` and authentication, so every
request but a CORS preflight counts, ``/server/ping`` included. Here they are the
``rate_limit`` request step (see :mod:`transom.http.pipeline`), declared to run after the
request id and the CORS preflight answer: they run before authentication (which is lazy, inside the
views) and before every route. A refused request gets 429 ``REQUESTS_EXCEEDED`` in the
usual error envelope, with ``Retry-After`` in seconds.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from .. import hookimpl
from ..config import Setting
from ..errors import RequestsExceededError, StartupError
from ..health import HealthCheck
from ..http.context import client_ip
from ..http.pipeline import STEP_CORS_PREFLIGHT, STEP_RATE_LIMIT, STEP_REQUEST_ID, RequestStep
from ..ratelimit import Hit, MemoryStore, RateLimitStore, RedisStore

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
EXTENSION_KEY = "transom_rate_limit"

SETTINGS = [
    Setting("RATE_LIMITER_ENABLED", False, "bool", "Limit requests per client IP."),
    Setting("RATE_LIMITER_POINTS", 50, "int", "Requests allowed per IP and window."),
    Setting("RATE_LIMITER_DURATION", 1.0, "float", "Window of the per-IP limiter (seconds)."),
    Setting("RATE_LIMITER_STORE", "memory", "str", "Where counters live.",
            choices=("memory", "redis")),
    Setting("RATE_LIMITER_REDIS", None, "str",
            "Redis URL of the limiter's store (default: REDIS, then local Redis)."),
    Setting("RATE_LIMITER_KEY_PREFIX", "transom:rl:", "str",
            "Prefix of the limiter's Redis keys."),
    Setting("RATE_LIMITER_MEMORY_MAX_KEYS", 100_000, "int",
            "Most counters the memory store keeps (least recently used go first)."),
    Setting("RATE_LIMITER_HEALTHCHECK_THRESHOLD", 150, "int",
            "Limiter check warning threshold (ms)."),
    Setting("RATE_LIMITER_GLOBAL_ENABLED", False, "bool", "Limit all requests together."),
    Setting("RATE_LIMITER_GLOBAL_POINTS", 1000, "int", "Requests allowed per window in all."),
    Setting("RATE_LIMITER_GLOBAL_DURATION", 1.0, "float",
            "Window of the global limiter (seconds)."),
]


def ms_text(ms: float) -> str:
    """A duration the way the ``ms`` npm package prints it (``900ms``, ``2s``, ``1m``)."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if abs(ms) >= size:
            return f"{math.floor(ms / size + 0.5)}{unit}"
    return f"{int(ms)}ms"


@dataclass
class Budget:
    """One limiter: its key and its points per window."""

    key: str
    points: int
    duration_ms: int


class RateLimiter:
    """The limiters of one app and the store they count in."""

    def __init__(self, store: RateLimitStore, budgets: list[Budget]) -> None:
        self.store = store
        self.budgets = budgets

    def check(self, ip: str | None) -> None:
        """Count one request; raise :class:`RequestsExceededError` when over a budget."""
        for budget in self.budgets:
            key = budget.key if budget.key == "global" else f"{budget.key}:{ip or 'unknown'}"
            hit = self.store.hit(key, budget.points, budget.duration_ms)
            if not hit.allowed:
                raise exceeded(hit)

    def close(self) -> None:
        self.store.close()


def exceeded(hit: Hit) -> RequestsExceededError:
    """Directus's ``HitRateLimitError``: message, ``limit`` and ``reset`` extensions."""
    wait_ms = max(hit.reset_ms, 1)
    reset = dt.datetime.now(dt.UTC) + dt.timedelta(milliseconds=wait_ms)
    err = RequestsExceededError(f"Too many requests, retry after {ms_text(wait_ms)}.",
                                retry_after=max(1, math.ceil(wait_ms / 1000)))
    err.extensions.update(
        limit=hit.points,
        reset=reset.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    )
    return err


def _window_ms(config: Any, name: str) -> int:
    seconds = float(config.get(name) or 0)
    if seconds <= 0:
        raise StartupError(f"{name}={seconds!r}: the window must be a positive number of "
                           "seconds.")
    return max(1, round(seconds * 1000))


def build_limiter(config: Any) -> RateLimiter | None:
    """The limiter the settings describe, or None when both limiters are off."""
    budgets: list[Budget] = []
    if config.get("RATE_LIMITER_GLOBAL_ENABLED"):
        points = int(config.get("RATE_LIMITER_GLOBAL_POINTS"))
        if points >= 0:
            budgets.append(Budget("global", points,
                                  _window_ms(config, "RATE_LIMITER_GLOBAL_DURATION")))
    if config.get("RATE_LIMITER_ENABLED"):
        points = int(config.get("RATE_LIMITER_POINTS"))
        if points >= 0:
            budgets.append(Budget("ip", points, _window_ms(config, "RATE_LIMITER_DURATION")))
    if not budgets:
        return None
    store: RateLimitStore
    if config.get("RATE_LIMITER_STORE") == "redis":
        url = config.get("RATE_LIMITER_REDIS") or config.get("REDIS") or DEFAULT_REDIS_URL
        store = RedisStore(str(url), prefix=str(config.get("RATE_LIMITER_KEY_PREFIX")))
    else:
        store = MemoryStore(max_keys=int(config.get("RATE_LIMITER_MEMORY_MAX_KEYS")))
    return RateLimiter(store, budgets)


def get_limiter(cms: Any) -> RateLimiter | None:
    """The app's limiter, built once (health checks ask before ``init_app`` runs)."""
    return cms.state(EXTENSION_KEY, lambda: build_limiter(cms.config))


def server_info_limits(cms: Any) -> tuple[Any, Any]:
    """``rateLimit`` and ``rateLimitGlobal`` of ``/server/info``: points and seconds, or
    False."""
    limiter = get_limiter(cms)
    found: dict[str, Any] = {"ip": False, "global": False}
    for budget in limiter.budgets if limiter else []:
        found[budget.key] = {"points": budget.points, "duration": budget.duration_ms / 1000}
    return found["ip"], found["global"]


@hookimpl
def register_settings() -> Any:
    return SETTINGS


@hookimpl
def register_health_checks(cms: Any) -> Any:
    limiter = get_limiter(cms)
    if limiter is None:
        return None
    threshold = float(cms.config.get("RATE_LIMITER_HEALTHCHECK_THRESHOLD", 150))
    # Not required: the limiter fails open, so the API keeps serving without it.
    return HealthCheck("rateLimiter:responseTime", limiter.store.ping, "ratelimiter",
                       required=False, threshold_ms=threshold)


@hookimpl
def register_request_steps(cms: Any) -> RequestStep | None:
    limiter = get_limiter(cms)
    if limiter is None:
        return None

    def limit_request() -> None:
        limiter.check(client_ip())

    return RequestStep(STEP_RATE_LIMIT, before=limit_request,
                       runs_after=(STEP_REQUEST_ID, STEP_CORS_PREFLIGHT))


@hookimpl
def shutdown(cms: Any) -> None:
    limiter = cms.state(EXTENSION_KEY)
    if limiter is not None:
        limiter.close()
