"""``/status`` on the real server (``transom start``, 2 workers): a public document naming
the database, the cache and the messenger, 200 while healthy and 503 once the database is
gone. The outage uses a throwaway PostgreSQL cluster started (and killed) by the test, never
the shared one."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from transom.testing.live import wait_for

pytestmark = pytest.mark.live

SECRET_HINTS = ("127.0.0.1", "localhost", "password", "5432", "postgres@")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_cluster_user(*cmd: str) -> list[str]:
    """PostgreSQL refuses to run as root: drop to ``nobody`` when we are root."""
    return ["runuser", "-u", "nobody", "--", *cmd] if os.geteuid() == 0 else list(cmd)


@pytest.fixture
def throwaway_postgres() -> Iterator[tuple[str, Path]]:
    """A private PostgreSQL cluster on a free port: ``(url, data directory)``; in a folder
    of its own under the system temp dir (pytest's is private to root)."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.fail("initdb/pg_ctl are needed to start a throwaway PostgreSQL cluster")
    root = Path(tempfile.mkdtemp(prefix="transom-status-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "nobody")
    data = root / "data"
    subprocess.run(_as_cluster_user(initdb, "-D", str(data), "-A", "trust", "-U", "postgres"),
                   check=True, capture_output=True)
    port = _free_port()
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    # the server inherits pg_ctl's output: a log file, not a pipe we would wait on forever
    subprocess.run(_as_cluster_user(pg_ctl, "-D", str(data), "-o", opts, "-l",
                                    str(root / "pg.log"), "-w", "start"),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=60)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", data
    finally:
        subprocess.run(_as_cluster_user(pg_ctl, "-D", str(data), "-m", "immediate", "-w",
                                        "stop"), capture_output=True)
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
    url, data = throwaway_postgres
    server = live_server(database=url, env={"CACHE_ENABLED": "true", "CACHE_STORE": "memory"})
    status, body = server.call("GET", "/status", token=None)
    assert status == 200, body
    assert body["database"] == {"dialect": "postgres", "state": "ok",
                                "latency_ms": body["database"]["latency_ms"]}
    assert body["cache"]["driver"] == "memory" and body["cache"]["state"] == "ok"
    _assert_public(body)
    subprocess.run(_as_cluster_user(shutil.which("pg_ctl") or "pg_ctl", "-D", str(data),
                                    "-m", "immediate", "-w", "stop"),
                   check=True, capture_output=True)
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
