"""In-memory counters of failed logins: per client IP (429) and per account (suspension).

Both live in the process, like Directus's default memory rate-limiter store: with several
workers each counts on its own, and a restart forgets. Memory is bounded: at most
``max_keys`` IPs or accounts are tracked, the least recently failing forgotten first.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque


class FailureWindow:
    """Failures per key within a sliding window; refuses a key once it reached ``limit``."""

    def __init__(self, limit: int, window_ms: int, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window = window_ms / 1000.0
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.limit > 0 and self.window > 0

    def _prune(self, key: str, now: float) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits

    def retry_after(self, key: str, now: float | None = None) -> int | None:
        """Seconds until ``key`` may try again, or None when it may try now."""
        if not self.enabled:
            return None
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._prune(key, now)
            if hits is None or len(hits) < self.limit:
                return None
            # Free again once enough of the oldest failures have left the window.
            release = hits[len(hits) - self.limit] + self.window
            return max(1, math.ceil(release - now))

    def record(self, key: str, now: float | None = None) -> None:
        if not self.enabled:
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._prune(key, now)
            if hits is None:
                hits = self._hits[key] = deque(maxlen=self.limit)
            hits.append(now)
            self._hits.move_to_end(key)
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)


class AttemptCounter:
    """Consecutive failed logins per account, reset by a success (no time window: the
    account is suspended when the count runs out, as Directus does)."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, 0)

    def fail(self, key: str) -> int:
        with self._lock:
            count = self._counts.pop(key, 0) + 1
            self._counts[key] = count
            while len(self._counts) > self.max_keys:
                self._counts.popitem(last=False)
            return count

    def reset(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)
