"""Failed-login counters shared by every worker and instance (issue 18, issue 12 point 6).

Two apps on one database stand for two workers (or two instances): the account's count is
kept in the database (memory store) or in Redis (``RATE_LIMITER_STORE=redis``), so the
account is suspended after exactly ``AUTH_LOGIN_ATTEMPTS`` failures in total, whichever app
answered them; with Redis the per-IP window is shared too. Real SQLite, PostgreSQL,
MariaDB and Redis; nothing is mocked (a dead Redis is a closed port)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from transom_auth_jwt.limits import (
    FAILURES_TABLE,
    DatabaseAttempts,
    FailureWindow,
    RedisAttempts,
    RedisFailureWindow,
    RedisGuard,
)
from transom_auth_jwt.state import get_state

from transom.api import connect_redis
from transom.auth.passwords import hash_password
from transom.testing.live import free_port

LIMIT = 3
PASSWORD = "Password123"


def cms_of(app: Any) -> Any:
    return app.extensions["transom"]


def add_user(app: Any, email: str) -> str:
    user_id = str(uuid.uuid4())
    users = sa.table("directus_users", *(sa.column(c) for c in (
        "id", "email", "password", "status", "provider")))
    with cms_of(app).begin() as conn:
        conn.execute(users.insert().values(id=user_id, email=email, status="active",
                                           password=hash_password(PASSWORD),
                                           provider="default"))
    return user_id


def status_of(app: Any, user_id: str) -> str:
    with cms_of(app).connect() as conn:
        return conn.execute(sa.text("SELECT status FROM directus_users WHERE id = :id"),
                            {"id": user_id}).scalar_one()


def login(app: Any, email: str, password: str) -> Any:
    return app.test_client().post("/auth/login", json={"email": email, "password": password})


def code_of(resp: Any) -> tuple[int, str]:
    return resp.status_code, resp.get_json()["errors"][0]["extensions"]["code"]


def redis_config(url: str, **extra: Any) -> dict[str, Any]:
    return {"RATE_LIMITER_STORE": "redis", "RATE_LIMITER_REDIS": url,
            "RATE_LIMITER_KEY_PREFIX": f"test:{uuid.uuid4().hex}:", **extra}


def dead_redis_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there


@pytest.fixture
def two_apps(auth_app: Callable[..., Any]) -> Callable[..., tuple[Any, Any]]:
    """Two apps (two workers, as far as counters go) on one database, same settings."""
    def factory(**config: Any) -> tuple[Any, Any]:
        config = {"AUTH_LOGIN_ATTEMPTS": str(LIMIT), **config}
        return auth_app(**config), auth_app(**config)

    return factory


def _locks_after_exactly_limit(a: Any, b: Any) -> None:
    user_id = add_user(a, "target@example.com")
    for n in range(LIMIT):  # alternate: each app sees only part of the failures
        app = (a, b)[n % 2]
        assert code_of(login(app, "target@example.com", "wrong")) == \
            (401, "INVALID_CREDENTIALS")
    assert status_of(a, user_id) == "active"
    # the next attempt, on either app and even with the right password, suspends
    assert code_of(login(b if LIMIT % 2 else a, "target@example.com", PASSWORD)) == \
        (401, "USER_SUSPENDED")
    assert status_of(a, user_id) == "suspended"
    # a suspended account answers a wrong password exactly like an unknown email
    wrong = login(a, "target@example.com", "wrong")
    unknown = login(b, "nobody@example.com", "wrong")
    assert (wrong.status_code, wrong.get_json()) == (unknown.status_code, unknown.get_json())
    assert code_of(wrong) == (401, "INVALID_CREDENTIALS")


def test_account_locks_across_apps_memory_store(two_apps: Any) -> None:
    a, b = two_apps()
    assert isinstance(get_state(cms_of(a)).attempts, DatabaseAttempts)
    _locks_after_exactly_limit(a, b)


def test_account_locks_across_apps_redis_store(two_apps: Any, live_redis_url: str) -> None:
    a, b = two_apps(**redis_config(live_redis_url))
    assert isinstance(get_state(cms_of(a)).attempts, RedisAttempts)
    _locks_after_exactly_limit(a, b)


def test_success_resets_the_shared_count(two_apps: Any) -> None:
    a, b = two_apps()
    user_id = add_user(a, "target@example.com")
    for _ in range(LIMIT - 1):
        login(a, "target@example.com", "wrong")
    assert login(b, "target@example.com", PASSWORD).status_code == 200
    for _ in range(LIMIT - 1):
        login(b, "target@example.com", "wrong")
    assert login(a, "target@example.com", PASSWORD).status_code == 200
    assert status_of(a, user_id) == "active"
    with cms_of(a).connect() as conn:
        counted = conn.execute(sa.text(f"SELECT SUM(failures) FROM {FAILURES_TABLE}")
                               ).scalar_one()
    assert counted == 0  # the row stays, at 0 (deleting it would re-open the insert race)


def test_counter_table_is_not_content(auth_app: Callable[..., Any],
                                      admin_headers: dict[str, str]) -> None:
    client = auth_app().test_client()
    listed = client.get("/collections", headers=admin_headers).get_json()["data"]
    assert FAILURES_TABLE not in {c["collection"] for c in listed}
    assert client.get(f"/items/{FAILURES_TABLE}", headers=admin_headers).status_code == 403


def test_concurrent_attempts_get_distinct_numbers(auth_app: Callable[..., Any]) -> None:
    """Attempts at once on several threads (and connections) never share a number: the
    count cannot be raced past the limit."""
    cms = cms_of(auth_app())
    counter = DatabaseAttempts(cms)
    key = str(uuid.uuid4())
    seen: list[int] = []
    lock = threading.Lock()

    def attempt() -> None:
        for _ in range(5):
            number = counter.consume(key)
            with lock:
                seen.append(number)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == list(range(1, 31))
    assert counter.get(key) == 30
    counter.reset(key)
    assert counter.get(key) == 0


@pytest.mark.backends("sqlite")
def test_ip_window_shared_through_redis(two_apps: Any, live_redis_url: str) -> None:
    a, b = two_apps(**redis_config(live_redis_url, AUTH_LOGIN_IP_ATTEMPTS="2",
                                   AUTH_LOGIN_IP_WINDOW="1m"))
    assert isinstance(get_state(cms_of(a)).ip_failures, RedisFailureWindow)
    assert code_of(login(a, "nobody@example.com", "wrong"))[0] == 401
    assert code_of(login(b, "nobody@example.com", "wrong"))[0] == 401
    for app in (a, b):  # both now refuse the address, even the right password
        blocked = login(app, "admin@example.com", "whatever")
        assert code_of(blocked) == (429, "REQUESTS_EXCEEDED")
        assert 0 < int(blocked.headers["Retry-After"]) <= 60


@pytest.mark.backends("sqlite")
def test_ip_window_per_process_without_redis(two_apps: Any) -> None:
    """The memory store keeps the per-IP window per process (documented): the other app
    has its own budget, while the account count stays shared."""
    a, b = two_apps(AUTH_LOGIN_IP_ATTEMPTS="2", AUTH_LOGIN_IP_WINDOW="1m")
    for _ in range(2):
        login(a, "nobody@example.com", "wrong")
    assert code_of(login(a, "nobody@example.com", "wrong")) == (429, "REQUESTS_EXCEEDED")
    assert code_of(login(b, "nobody@example.com", "wrong")) == (401, "INVALID_CREDENTIALS")


def test_redis_down_counts_accounts_in_the_database(two_apps: Any) -> None:
    """Redis unreachable: logins keep working, the account count goes to the database (still
    shared), the per-IP window falls back to each process."""
    a, b = two_apps(**redis_config(dead_redis_url(), AUTH_LOGIN_IP_ATTEMPTS="50"))
    assert isinstance(get_state(cms_of(a)).attempts, RedisAttempts)
    _locks_after_exactly_limit(a, b)


@pytest.mark.backends("sqlite", "postgres")
def test_redis_outage_mid_count_adds_up(auth_app: Callable[..., Any],
                                        live_redis_url: str) -> None:
    """Failures counted in Redis, then in the database while Redis is away, then in Redis
    again: every one of them counts."""
    cms = cms_of(auth_app())
    now = [0.0]
    guard = RedisGuard(live_redis_url, retry_after=5.0, clock=lambda: now[0])
    live = connect_redis(live_redis_url)
    prefix = f"test:{uuid.uuid4().hex}:"
    counter = RedisAttempts(live, prefix, guard, DatabaseAttempts(cms))
    key = str(uuid.uuid4())
    assert [counter.consume(key) for _ in range(2)] == [1, 2]
    counter.client = connect_redis(dead_redis_url())
    assert counter.consume(key) == 3  # 2 seen in Redis + 1 in the database
    assert not guard.usable()
    counter.client = live
    now[0] += 6.0  # the guard asks Redis again
    assert counter.consume(key) == 4  # 3 in Redis + 1 in the database
    assert counter.get(key) == 4
    counter.reset(key)
    assert counter.get(key) == 0
    assert live.exists(prefix + "login:user:" + key) == 0


@pytest.mark.backends("sqlite")
def test_redis_window_matches_the_local_one(live_redis_url: str) -> None:
    """Same arithmetic as the in-process window: refused at the limit, with a wait no
    longer than the window."""
    guard = RedisGuard(live_redis_url)
    local = FailureWindow(3, 60_000)
    window = RedisFailureWindow(connect_redis(live_redis_url), f"test:{uuid.uuid4().hex}:",
                                guard, local)
    for _ in range(2):
        window.record("198.51.100.1")
        assert window.retry_after("198.51.100.1") is None
    window.record("198.51.100.1")
    assert 0 < (window.retry_after("198.51.100.1") or 0) <= 60
    assert window.retry_after("198.51.100.2") is None
    assert local.retry_after("198.51.100.1") is None  # counted in Redis, not locally
