"""``/utils`` routes: revert an item to a revision, random strings, argon2 hash helpers.

Revert is :func:`transom.services.revisions.revert` (the admin app uses it too).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Response

from .. import hookimpl
from ..auth.passwords import hash_password, verify_password
from ..config import Setting
from ..errors import ServiceUnavailableError
from ..http.context import client_ip, current_cms, get_accountability
from ..http.openapi import Blueprint
from ..http.responses import json_response, no_content
from ..http.schemas import HashGenerateBody, HashVerifyBody, RandomStringQuery
from ..ratelimit import (
    MemoryStore,
    RateLimitStore,
    RedisStore,
    limiter_key_prefix,
    limiter_redis_url,
)
from ..services.revisions import revert
from .rate_limit import exceeded

bp = Blueprint("transom_utils", __name__, description="Utilities: revert, random, hash.")

#: nanoid's URL-safe alphabet, as Directus's random strings use.
RANDOM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
RANDOM_MAX = 500


def random_string(length: int = 32) -> str:
    return "".join(secrets.choice(RANDOM_ALPHABET) for _ in range(length))


@bp.post("/utils/revert/<revision>")
def revert_view(revision: str) -> Response:
    """Revert an item to a revision"""
    revert(current_cms(), get_accountability(), revision)
    return no_content()


@bp.get("/utils/random/string")
@bp.arguments(RandomStringQuery, location="query", as_kwargs=True)
def random_string_view(length: int) -> Response:
    """A random string (nanoid's URL-safe alphabet)"""
    return json_response({"data": random_string(length)})


# -- hash helpers ---------------------------------------------------------------------------
# Directus serves /utils/hash/* to anyone, so they stay public here; but one argon2 hash costs
# ~200 ms of CPU and its memory, so anonymous callers get a budget per IP (429) and each
# worker runs only a few at once (503 at once when busy, never a queue that starves the rest).
HASH_STATE_KEY = "transom_utils_hash"

HASH_SETTINGS = [
    Setting("UTILS_HASH_CONCURRENCY", 1, "int",
            "/utils/hash/* requests hashing at once per worker; more answer 503."),
    Setting("UTILS_HASH_RATE_LIMIT_POINTS", 20, "int",
            "/utils/hash/* requests per client IP and window (0: no limit)."),
    Setting("UTILS_HASH_RATE_LIMIT_DURATION", 60.0, "float",
            "Window of UTILS_HASH_RATE_LIMIT_POINTS (seconds)."),
]


class HashGuard:
    """The per-IP budget (in the limiters' store: memory, or Redis shared by every
    instance) and the per-worker slots of the hash endpoints."""

    def __init__(self, config: Any) -> None:
        self.slots = threading.BoundedSemaphore(max(1, int(config.get("UTILS_HASH_CONCURRENCY"))))
        self.points = int(config.get("UTILS_HASH_RATE_LIMIT_POINTS"))
        self.duration_ms = max(1, round(float(config.get("UTILS_HASH_RATE_LIMIT_DURATION"))
                                        * 1000))
        self.store: RateLimitStore | None = None
        if self.points > 0:
            url = limiter_redis_url(config)
            self.store = (RedisStore(url, prefix=limiter_key_prefix(config)) if url
                          else MemoryStore())

    @contextmanager
    def admit(self, ip: str | None) -> Iterator[None]:
        if self.store is not None:
            hit = self.store.hit(f"hash:ip:{ip or 'unknown'}", self.points, self.duration_ms)
            if not hit.allowed:
                raise exceeded(hit)
        if not self.slots.acquire(blocking=False):
            raise ServiceUnavailableError("hashing", "Too many hash requests are running")
        try:
            yield
        finally:
            self.slots.release()

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def hash_guard(cms: Any) -> HashGuard:
    return cms.state(HASH_STATE_KEY, lambda: HashGuard(cms.config))


@bp.post("/utils/hash/generate")
@bp.arguments(HashGenerateBody)
def hash_generate_view(body: dict[str, Any]) -> Response:
    """Hash a string with argon2"""
    cms = current_cms()
    with hash_guard(cms).admit(client_ip()):
        return json_response({"data": hash_password(body["string"], cms.config)})


@bp.post("/utils/hash/verify")
@bp.arguments(HashVerifyBody)
def hash_verify_view(body: dict[str, Any]) -> Response:
    """Verify a string against an argon2 hash"""
    with hash_guard(current_cms()).admit(client_ip()):
        return json_response({"data": verify_password(body["hash"], body["string"])})


@hookimpl
def register_settings() -> Any:
    return HASH_SETTINGS


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp


@hookimpl
def shutdown(cms: Any) -> None:
    guard = cms.state(HASH_STATE_KEY)
    if guard is not None:
        guard.close()
