"""Failed-login limits and the hash endpoints' bounds against the real server (issues 18, 12).

* An account is suspended after exactly ``AUTH_LOGIN_ATTEMPTS`` failures in total, whichever
  worker (2 workers, concurrent attempts, and a restart in between: a count kept in a worker
  would be lost) or instance (two servers on one PostgreSQL database, used in turn) answered
  them; a wrong password for the suspended account answers like an unknown email.
* With ``RATE_LIMITER_STORE=redis`` the per-IP window is one for both instances: exactly
  ``AUTH_LOGIN_IP_ATTEMPTS`` failures get through in total.
* ``/utils/hash/*`` answer 429 ``REQUESTS_EXCEEDED`` past their per-IP budget (shared in
  Redis: exactly the budget passes over 2 workers) and 503 ``SERVICE_UNAVAILABLE`` with
  ``Retry-After`` when a worker is already hashing, never a queue or a 500.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from transom.testing.live import (
    LIVE_ADMIN_EMAIL,
    LiveServer,
    create_user,
    require_redis,
)

pytestmark = pytest.mark.live

LIMIT = 4
PASSWORD = "live-password-123"  # what create_user gives its user
FAST_STALL = {"LOGIN_STALL_TIME": "20"}


def post(server: LiveServer, path: str, body: Any,
         token: str | None = None) -> tuple[int, Any, dict[str, str]]:
    """One anonymous (or bearer) POST: status, parsed body and headers."""
    req = urllib.request.Request(server.url(path), data=json.dumps(body).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null"), dict(r.headers)
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw) if raw else None, dict(e.headers)


def login(server: LiveServer, email: str, password: str) -> tuple[int, Any]:
    return server.call("POST", "/auth/login", {"email": email, "password": password},
                       token=None)


def code(answer: Any) -> str:
    return answer["errors"][0]["extensions"]["code"]


def user_status(server: LiveServer, user_id: str) -> str:
    return server.ok("GET", f"/users/{user_id}?fields=status")["status"]


def assert_suspended_now(server: LiveServer, other: LiveServer, user: dict[str, Any]) -> None:
    """The next attempt, even with the right password, finds the account suspended, and a
    wrong password then answers exactly like an unknown email."""
    assert user_status(server, user["id"]) == "active"
    status, body = login(server, user["email"], PASSWORD)
    assert (status, code(body)) == (401, "USER_SUSPENDED"), body
    assert user_status(other, user["id"]) == "suspended"
    wrong = login(other, user["email"], "wrong")
    unknown = login(server, f"nobody-{uuid.uuid4().hex[:6]}@example.com", "wrong")
    assert wrong == unknown and code(wrong[1]) == "INVALID_CREDENTIALS"


def test_account_locks_after_limit_across_workers(live_server: Any, backend: str) -> None:
    server = live_server(workers=2, env={"AUTH_LOGIN_ATTEMPTS": str(LIMIT), **FAST_STALL})
    target = create_user(server)["user"]
    control = create_user(server)["user"]
    # LIMIT - 1 failures at once, spread over both workers; one more after a restart (new
    # worker processes): a count kept in a worker's memory would not reach LIMIT.
    for user in (target, control):
        answers = server.burst("POST", "/auth/login", n=LIMIT - 1, token=None, full=True,
                               body={"email": user["email"], "password": "wrong"})
        assert [(s, code(b)) for s, b in answers] == [(401, "INVALID_CREDENTIALS")] * (LIMIT - 1)
    server.stop()
    server.start()
    assert code(login(server, target["email"], "wrong")[1]) == "INVALID_CREDENTIALS"
    # the control account is one failure short: its right password still works
    assert login(server, control["email"], PASSWORD)[0] == 200
    assert_suspended_now(server, server, target)


@pytest.mark.parametrize("store", ["redis", "memory"])
def test_account_locks_after_limit_across_instances(live_server: Any, store: str) -> None:
    """Two instances on one PostgreSQL database, used in turn for every attempt."""
    env: dict[str, Any] = {"AUTH_LOGIN_ATTEMPTS": str(LIMIT), "AUTH_LOGIN_IP_ATTEMPTS": "9",
                           **FAST_STALL}
    if store == "redis":
        env.update(RATE_LIMITER_STORE="redis", RATE_LIMITER_REDIS=require_redis(),
                   RATE_LIMITER_KEY_PREFIX=f"live:{uuid.uuid4().hex}:")
    a = live_server("postgres", workers=2, env=env)
    b = live_server(database=a, workers=2, env=env)
    target = create_user(a)["user"]
    for n in range(LIMIT):
        status, body = login((a, b)[n % 2], target["email"], "wrong")
        assert (status, code(body)) == (401, "INVALID_CREDENTIALS"), body
    assert_suspended_now(a, b, target)  # 3 more failures from this IP: LIMIT + 3 = 7
    if store != "redis":
        return
    # One per-IP window for both instances: 9 failures in all, then 429 on both.
    passed = 0
    for n in range(12):
        status, body = login((a, b)[n % 2], "nobody@example.com", "wrong")
        if status == 429:
            assert code(body) == "REQUESTS_EXCEEDED"
            break
        assert status == 401
        passed += 1
    assert LIMIT + 3 + passed == 9
    for server in (a, b):
        status, body = login(server, LIVE_ADMIN_EMAIL, "wrong")
        assert (status, code(body)) == (429, "REQUESTS_EXCEEDED")


def test_hash_rate_limit_per_ip_shared_by_workers(live_server: Any) -> None:
    server = live_server(workers=2, env={
        "RATE_LIMITER_STORE": "redis", "RATE_LIMITER_REDIS": require_redis(),
        "RATE_LIMITER_KEY_PREFIX": f"live:{uuid.uuid4().hex}:",
        "UTILS_HASH_RATE_LIMIT_POINTS": "3", "UTILS_HASH_RATE_LIMIT_DURATION": "60"})
    answers = server.burst("POST", "/utils/hash/generate", n=3, token=None, full=True,
                           concurrency=1, body={"string": "s3cret"})
    assert [s for s, _ in answers] == [200] * 3
    hashed = answers[0][1]["data"]
    for path, body in (("/utils/hash/generate", {"string": "s3cret"}),
                       ("/utils/hash/verify", {"string": "s3cret", "hash": hashed})):
        status, answer, headers = post(server, path, body)
        assert (status, code(answer)) == (429, "REQUESTS_EXCEEDED"), answer
        assert 0 < int(headers["Retry-After"]) <= 60
        assert answer["errors"][0]["extensions"]["limit"] == 3


def test_hash_busy_worker_answers_503(live_server: Any) -> None:
    """Real argon2 costs (64 MiB, 3 passes): 12 requests at once on 2 workers that hash one
    at a time each: the ones that find their worker busy answer 503 at once."""
    server = live_server(workers=2, env={
        "HASH_MEMORY_COST": "65536", "HASH_TIME_COST": "3", "HASH_PARALLELISM": "1",
        "UTILS_HASH_RATE_LIMIT_POINTS": "0"})
    answers = server.burst("POST", "/utils/hash/generate", n=12, token=None, full=True,
                           concurrency=12, body={"string": "s3cret"})
    statuses = [s for s, _ in answers]
    assert set(statuses) <= {200, 503}, answers
    assert 200 in statuses and 503 in statuses, statuses
    for status, body in answers:
        if status == 503:
            assert code(body) == "SERVICE_UNAVAILABLE"
        else:
            assert body["data"].startswith("$argon2")
    status, body, headers = post(server, "/utils/hash/verify",
                                 {"string": "s3cret", "hash": answers[statuses.index(200)][1]
                                  ["data"]})
    assert (status, body) == (200, {"data": True})
    assert server.call("GET", "/users/me")[0] == 200  # authenticated work goes on


@pytest.mark.backends("sqlite")
def test_hash_busy_slot_in_process(make_app: Any) -> None:
    """The same 503 without timing: the worker's slot is held while a request comes."""
    from transom.default_plugins.utils_api import hash_guard

    app = make_app(config={"UTILS_HASH_RATE_LIMIT_POINTS": "2"})
    client = app.test_client()
    guard = hash_guard(app.extensions["transom"])
    assert guard.slots.acquire(blocking=False)
    try:
        busy = client.post("/utils/hash/generate", json={"string": "x"})
        assert busy.status_code == 503 and busy.headers["Retry-After"]
        assert busy.get_json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    finally:
        guard.slots.release()
    assert client.post("/utils/hash/generate", json={"string": "x"}).status_code == 200
    over = client.post("/utils/hash/generate", json={"string": "x"})
    assert over.status_code == 429
    assert over.get_json()["errors"][0]["extensions"]["code"] == "REQUESTS_EXCEEDED"
