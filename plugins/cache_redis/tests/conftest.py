"""Fixtures for transom-cache-redis: a real Redis (one namespace per test), a small blog
schema, and users sharing or not sharing a permission set."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from transom.testing.databases import in_ci
from transom.testing.helpers import make_role, make_user, sync_sequences

#: A Redis database of its own, so that flushing or scanning never touches other users'.
REDIS_DB = int(os.environ.get("TRANSOM_TEST_REDIS_DB", "11"))
REDIS_HOST = os.environ.get("TRANSOM_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("TRANSOM_TEST_REDIS_PORT", "6379"))


def _redis_problem() -> str | None:
    import redis

    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=1).ping()
    except redis.RedisError as exc:
        return f"Redis at {REDIS_HOST}:{REDIS_PORT} unreachable: {exc}"
    return None


@pytest.fixture
def redis_url() -> str:
    problem = _redis_problem()
    if problem is not None:
        if in_ci():
            pytest.fail(f"CI=true but {problem}")
        pytest.skip(problem)
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    """A namespace no other test uses; its keys are deleted afterwards."""
    import redis

    ns = f"transom-test-{uuid.uuid4().hex[:10]}"
    yield ns
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{ns}:*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def cache_config(redis_url: str, namespace: str) -> dict[str, Any]:
    return {
        "CACHE_ENABLED": "true",
        "CACHE_STORE": "redis",
        "CACHE_REDIS": redis_url,
        "CACHE_NAMESPACE": namespace,
        "CACHE_STATUS_HEADER": "X-Cache",
        "CACHE_AUTO_PURGE": "true",
    }


# -- a blog -------------------------------------------------------------------------------
def seed_blog(app: Any, n: int = 12) -> None:
    """``authors`` and ``articles`` (with an ``owner`` column for per-user rules)."""
    cms = app.extensions["transom"]
    md = sa.MetaData()
    authors = sa.Table("authors", md,
                       sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                       sa.Column("name", sa.String(100), nullable=False))
    articles = sa.Table("articles", md,
                        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                        sa.Column("title", sa.String(255), nullable=False),
                        sa.Column("status", sa.String(20), nullable=False),
                        sa.Column("rating", sa.Integer),
                        sa.Column("owner", sa.String(36)),
                        sa.Column("author", sa.Integer, sa.ForeignKey("authors.id")))
    with cms.engine.begin() as conn:
        md.create_all(conn)
        conn.execute(authors.insert(), [{"id": i, "name": f"Author {i}"} for i in (1, 2, 3)])
        conn.execute(articles.insert(), [
            {"id": i, "title": f"Article {i}", "status": ("published", "draft")[i % 2],
             "rating": (i * 37) % 100, "owner": None, "author": 1 + i % 3}
            for i in range(1, n + 1)
        ])
        sync_sequences(conn, ["authors", "articles"])
    cms.refresh_schema()


def make_policy(client: Any, admin: dict[str, str],
                permissions: list[dict[str, Any]]) -> dict[str, Any]:
    """A role with one policy holding ``permissions``: ``{role, policy}`` ids."""
    made = make_role(client, admin, permissions)
    return {"role": made["role"]["id"], "policy": made["policy_id"]}


def ids(resp: Any) -> list[Any]:
    return [row["id"] for row in resp.get_json()["data"]]


@pytest.fixture
def kit() -> SimpleNamespace:
    """The helpers above, for test modules (conftest is not importable with importlib)."""
    return SimpleNamespace(seed_blog=seed_blog, make_policy=make_policy, make_user=make_user,
                           ids=ids)


# -- a Redis of our own, to stop and start -----------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRedis:
    """A throw-away ``redis-server`` on a free port, without persistence."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe is not None
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port, socket_timeout=0.2).ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        if in_ci():
            pytest.fail("CI=true but redis-server is not installed")
        pytest.skip("redis-server is not installed")
    server = OwnRedis(free_port())
    server.start()
    yield server
    server.stop()
