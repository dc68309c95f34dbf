"""Password hashing with argon2id (argon2-cffi), as Directus stores them."""

from __future__ import annotations

import secrets
import string
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import ServiceUnavailableError

#: argon2 runs at most this many times at once per process: one hash costs ~200 ms of CPU
#: and 64 MiB, so anonymous logins or /utils/hash calls beyond it must not queue up and eat
#: the CPU and threads that every other request needs.
HASH_SLOTS = 1
#: How long a caller waits for a free slot before answering 503 with Retry-After.
HASH_WAIT_SECONDS = 0.25
_slots = threading.BoundedSemaphore(HASH_SLOTS)


@contextmanager
def _hash_slot() -> Iterator[None]:
    """Hold one argon2 slot, or answer 503 ``SERVICE_UNAVAILABLE`` when all are busy."""
    if not _slots.acquire(timeout=HASH_WAIT_SECONDS):
        raise ServiceUnavailableError("hashing", "Too many password checks are running")
    try:
        yield
    finally:
        _slots.release()

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters
_hashers: dict[tuple[int, int, int], PasswordHasher] = {}


def _hasher_for(config: Any) -> PasswordHasher:
    """The hasher for ``HASH_TIME_COST``/``HASH_MEMORY_COST``/``HASH_PARALLELISM`` (as
    Directus's ``HASH_*``); verification reads the parameters from the hash itself."""
    if config is None:
        return _hasher
    key = (int(config.get("HASH_TIME_COST", 3)), int(config.get("HASH_MEMORY_COST", 65536)),
           int(config.get("HASH_PARALLELISM", 4)))
    hasher = _hashers.get(key)
    if hasher is None:
        hasher = _hashers[key] = PasswordHasher(time_cost=key[0], memory_cost=key[1],
                                                parallelism=key[2])
    return hasher


@cache
def _dummy_hash() -> str:
    """A hash of a random string, verified against when a user does not exist, so that a
    login for an unknown email costs the same time as one for a known email."""
    return _hasher.hash(secrets.token_hex(16))


def hash_password(password: str, config: Any = None) -> str:
    hasher = _hasher_for(config)
    with _hash_slot():
        return hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; never raises for a malformed or missing hash."""
    target = stored_hash or _dummy_hash()
    with _hash_slot():
        try:
            return _hasher.verify(target, password) and stored_hash is not None
        except (VerificationError, InvalidHashError, ValueError):
            return False


def generate_password(length: int = 20) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))
