"""Time-based one-time passwords (RFC 6238): what ``directus_users.tfa_secret`` holds.

Directus stores a base32 secret and expects 6-digit SHA-1 codes on 30-second steps, the
defaults of every authenticator app. One step either side is accepted for clock drift.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time

STEP_SECONDS = 30
DIGITS = 6


def _key(secret: str) -> bytes | None:
    text = secret.strip().replace(" ", "").upper()
    try:
        return base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        return None


def code_at(secret: str, counter: int) -> str | None:
    """The code of one time step (HOTP of the step counter)."""
    key = _key(secret)
    if key is None:
        return None
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10 ** DIGITS:0{DIGITS}d}"


def current_code(secret: str, at: float | None = None) -> str | None:
    """The code an authenticator shows now (tests, tooling)."""
    return code_at(secret, int((time.time() if at is None else at) // STEP_SECONDS))


def verify_code(secret: str, code: str, at: float | None = None, window: int = 1) -> bool:
    """Whether ``code`` is valid for ``secret`` now, within ``window`` steps."""
    code = (code or "").strip()
    if len(code) != DIGITS or not code.isdigit():
        return False
    counter = int((time.time() if at is None else at) // STEP_SECONDS)
    ok = False
    for step in range(counter - window, counter + window + 1):
        expected = code_at(secret, step)
        # Compare every step (no early exit) so timing reveals nothing.
        ok = (expected is not None and hmac.compare_digest(expected, code)) or ok
    return ok
