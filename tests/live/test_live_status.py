"""``/status`` on the real server (``transom start``, 2 workers): a public document naming
the database, the cache and the messenger, 200 while healthy and 503 once the database is
gone. The outage uses a throwaway PostgreSQL cluster started (and killed) by the test, never
the shared one."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from transom.testing.live import wait_for
from transom.testing.pg_cluster import PgCluster, make_folder, pg_bin

pytestmark = pytest.mark.live

SECRET_HINTS = ("127.0.0.1", "localhost", "password", "5432", "postgres@")


@pytest.fixture
def throwaway_postgres() -> Iterator[PgCluster]:
    """A private PostgreSQL cluster on a free port (never the shared server)."""
    if pg_bin() is None:
        pytest.fail("initdb/pg_ctl are needed to start a throwaway PostgreSQL cluster")
    root = make_folder()
    cluster = PgCluster(root / "pg").init_primary().start()
    try:
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def _assert_public(body: dict) -> None:
    text = str(body)
    for hint in SECRET_HINTS:
        assert hint not in text, f"/status leaks {hint!r}: {text}"


def test_status_is_public_and_healthy(live_server):
    server = live_server("sqlite")
    status, body = server.call("GET", "/status", token=None)
    assert status == 200, body
    assert body["status"] == "ok"
    assert body["database"]["dialect"] == "sqlite" and body["database"]["state"] == "ok"
    assert isinstance(body["database"]["latency_ms"], float)
    assert body["cache"]["driver"] in ("memory", "redis", "none")
    assert "local" in body["messenger"]["transports"]
    assert set(body) == {"status", "version", "database", "cache", "messenger"}
    _assert_public(body)
    # /server/health stays Directus's: the bare status for the public
    status, health = server.call("GET", "/server/health", token=None)
    assert (status, health) == (200, {"status": "ok"})


def test_status_is_503_when_the_database_is_down(live_server, throwaway_postgres):
    server = live_server(database=throwaway_postgres.url(),
                         env={"CACHE_ENABLED": "true", "CACHE_STORE": "memory"})
    status, body = server.call("GET", "/status", token=None)
    assert status == 200, body
    assert body["database"] == {"dialect": "postgres", "state": "ok",
                                "latency_ms": body["database"]["latency_ms"]}
    assert body["cache"]["driver"] == "memory" and body["cache"]["state"] == "ok"
    _assert_public(body)
    throwaway_postgres.stop("immediate")
    answers: list[tuple[int, object]] = []

    def down() -> bool:
        answers.append(server.call("GET", "/status", token=None))
        return answers[-1][0] == 503

    assert wait_for(down, 20.0, 0.2) is not None, answers[-3:]
    status, body = answers[-1]
    assert body["status"] == "error"
    assert body["database"]["dialect"] == "postgres" and body["database"]["state"] == "error"
    _assert_public(body)
    status, health = server.call("GET", "/server/health", token=None)
    assert (status, health) == (503, {"status": "error"})
