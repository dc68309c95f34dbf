"""Two real instances (``transom start``, 2 workers each) on one database, as on two machines:
each has its own ``MESSENGER_LOCAL_PATH`` (the same-machine fast path is a shared file there),
so a change made through instance A reaches instance B only through the messenger (Redis, or
PostgreSQL LISTEN/NOTIFY). After A answers, B is polled every 10 ms (rounds of 4 concurrent
requests); it must honour the change within 100 ms, counted to the sending of the first round
that B answers right. The measured delays are printed (``-s``) and in the failure message.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from transom.testing.live import (
    ADMIN,
    Checks,
    LiveServer,
    create_collection,
    create_user,
    read_permission,
    require_redis,
    unique_name,
)

pytestmark = pytest.mark.live

#: B must honour a change made through A within this many seconds
BOUND = 0.100
#: how long to keep polling B, to report how late it is when it misses the bound
POLL_LIMIT = 6.0
POLL_INTERVAL = 0.010
BURST = 12

VARIANTS = [
    pytest.param("postgres", "redis", id="postgres-redis"),
    pytest.param("mysql", "redis", id="mysql-redis"),
    pytest.param("postgres", "postgres", id="postgres-listen-notify"),
]


def messenger_env(store: str, namespace: str, local_path: str) -> dict[str, str | None]:
    env: dict[str, str | None] = {"MESSENGER_STORE": store, "MESSENGER_NAMESPACE": namespace,
                                  "MESSENGER_LOCAL_PATH": local_path}
    if store == "redis":
        env["REDIS"] = require_redis()
    else:  # no Redis at all, not even one named by an inherited variable
        env.update(REDIS=None, REDIS_HOST=None, REDIS_ENABLED="false")
    return env


class Measure:
    """Polls instance B after each change made through A and keeps the delays."""

    def __init__(self, label: str, b: LiveServer, checks: Checks) -> None:
        self.label, self.b, self.checks = label, b, checks
        self.delays: list[str] = []

    def poll(self, path: str, expected: int, token: Any) -> tuple[float | None, float,
                                                                    Counter[Any]]:
        """Rounds of ``2 x workers`` concurrent requests to B, every 10 ms, until a whole
        round answers ``expected``: (when that round was sent, counted from now, or None
        after :data:`POLL_LIMIT`; how long it took to answer; the stale answers before)."""
        n = 2 * self.b.workers
        seen: Counter[Any] = Counter()
        start = time.monotonic()
        while True:
            sent = time.monotonic()
            codes = self.b.burst("GET", path, n, token=token, concurrency=n)
            answered = time.monotonic()
            if all(c == expected for c in codes):
                return sent - start, answered - sent, seen
            seen.update(c for c in codes if c != expected)
            if answered - start > POLL_LIMIT:
                return None, answered - sent, seen
            time.sleep(POLL_INTERVAL)

    def __call__(self, change: str, path: str, expected: int, token: Any = ADMIN,
                 bound: float | None = BOUND) -> float | None:
        """Call right after A answered the change: the seconds until B honours it (12 more
        requests must then honour it too); ``bound=None`` measures without asserting."""
        took, latency, seen = self.poll(path, expected, token)
        shown = f"{took * 1000:.0f} ms" if took is not None else f"> {POLL_LIMIT:.0f} s"
        shown += f" (that round answered in {latency * 1000:.0f} ms"
        if seen:
            shown += "; stale answers before: " + ", ".join(
                f"{k} x {code}" for code, k in seen.most_common())
        shown += ")"
        line = f"[{self.label}] B honoured {change} after {shown}"
        print(line)
        self.delays.append(line)
        if bound is None:
            return took
        self.checks.true(f"B honours {change} within {bound * 1000:.0f} ms",
                         took is not None and took <= bound, f"took {shown}")
        if took is not None:
            codes = self.b.burst("GET", path, BURST, token=token)
            self.checks.statuses(f"{BURST} requests to B once it honoured {change}", codes,
                                 expected)
        return took


@pytest.mark.parametrize("backend,store", VARIANTS, indirect=["backend"])
def test_two_instances_on_one_database(backend: str, store: str, live_server: Any,
                                       tmp_path_factory: pytest.TempPathFactory) -> None:
    namespace = unique_name("live_ns")
    paths = [str(tmp_path_factory.mktemp(f"msg{x}") / "messenger") for x in "ab"]
    a = live_server(backend, workers=2, env=messenger_env(store, namespace, paths[0]))
    b = live_server(workers=2, database=a, env=messenger_env(store, namespace, paths[1]))
    checks = Checks()
    measure = Measure(f"{backend}/{store}", b, checks)
    print()  # -s: the delays on lines of their own

    c = unique_name()
    checks.statuses("B before POST /collections", b.burst("GET", f"/items/{c}"), 403)
    create_collection(a, c)
    measure("a new collection (POST /collections on A)", f"/items/{c}", 200)

    made = create_user(a)
    token, policy = made["token"], made["policy"]["id"]
    # B has looked the user's access up (nothing granted) before the grant
    measure("a new user without permissions", f"/items/{c}", 403, token=token, bound=None)
    perm = a.ok("POST", "/permissions", read_permission(policy, c))
    measure("a granted read permission", f"/items/{c}", 200, token=token, bound=None)
    a.ok("DELETE", f"/permissions/{perm['id']}")
    measure("a revoked permission (DELETE /permissions on A)", f"/items/{c}", 403, token=token)

    s, body = a.call("DELETE", f"/collections/{c}")
    checks.true("DELETE /collections on A answers 204", s == 204, (s, body))
    measure("a deleted collection (DELETE /collections on A)", f"/items/{c}", 403)

    for name, server in (("A", a), ("B", b)):
        tb = server.traceback_summary()
        checks.true(f"no Traceback in the log of {name}", tb is None, tb)
    if checks.failures:
        checks.failures.append("measured:\n    " + "\n    ".join(measure.delays))
    checks.verify()
