"""Storage outages against the real server (gunicorn, 2 workers): a full disk,
a locked SQLite file, a read-only SQLite file and a stopped PostgreSQL answer 503
``SERVICE_UNAVAILABLE`` envelopes with ``Retry-After``; once the fault clears every request
succeeds within a second, and no worker died on the way.

The faults are real: a small tmpfs of our own (filled up; needs root, as CI runs), files
made immutable with ``chattr +i`` (see :func:`test_read_only_sqlite_file`) and a throw-away
PostgreSQL cluster (never the shared one on 5432)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from transom.testing.databases import in_ci
from transom.testing.live import create_collection
from transom.testing.pg_cluster import PgCluster, make_folder, pg_bin

pytestmark = pytest.mark.live


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for this test only."""
    mount_point = tmp_path / "fs"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        _unavailable(f"cannot mount a tmpfs (root needed): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(mount_point)], capture_output=True)
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def _assert_outage(status: int, body: Any) -> None:
    assert status == 503, (status, body)
    assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE", body


def _call_with_headers(server: Any, method: str, path: str,
                       body: Any = None) -> tuple[int, Any, dict[str, str]]:
    """Like ``server.call`` but also returns the response headers."""
    import json
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(server.url(path), data=data, method=method)
    req.add_header("Authorization", f"Bearer {server.admin_token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null"), dict(r.headers)
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw) if raw else None, dict(e.headers)


def _recovered(server: Any, name: str, pids: list[int]) -> None:
    """Within 1 s after the fault cleared, every write and read succeeds; no worker died."""
    time.sleep(1.0)
    statuses = [server.call("POST", f"/items/{name}", {"title": f"after {i}"})[0]
                for i in range(10)]
    statuses += [server.call("GET", f"/items/{name}?limit=1")[0] for _ in range(10)]
    assert statuses == [200] * 20, statuses
    assert server.worker_pids() == pids, "a worker died (or was replaced) during the outage"
    assert server.traceback() is None or "SIGBUS" not in (server.traceback() or "")


def test_full_disk(live_server: Any, small_fs: Path) -> None:
    server = live_server(database=f"sqlite:///{small_fs / 'data.db'}")
    name = create_collection(server, None, {"field": "body", "type": "text"})
    pids = server.worker_pids()
    filler = small_fs / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    try:
        seen = []
        for i in range(8):
            status, body, headers = _call_with_headers(
                server, "POST", f"/items/{name}", {"title": str(i), "body": "x" * 60000})
            seen.append(status)
            assert status in (200, 503), (status, body)
            if status == 503:
                _assert_outage(status, body)
                assert "Retry-After" in headers
        assert 503 in seen, seen
    finally:
        filler.unlink()
    _recovered(server, name, pids)


def test_locked_sqlite_file(live_server: Any, tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    server = live_server(database=f"sqlite:///{path}")
    name = create_collection(server)
    pids = server.worker_pids()
    holder = sqlite3.connect(path, timeout=1, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        status, body, headers = _call_with_headers(server, "POST", f"/items/{name}",
                                                   {"title": "blocked"})
        _assert_outage(status, body)
        assert "Retry-After" in headers
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    _recovered(server, name, pids)


def _chattr(flag: str, paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, text=True)


def test_read_only_sqlite_file(live_server: Any, tmp_path: Path) -> None:
    """The database file and its write-ahead log become read-only under a running server:
    writes answer 503 with Retry-After, reads go on, no worker dies, and writes work again
    by themselves once the files are writable.

    How the files are made read-only, as found on this machine (tests run as root, on
    ext4): ``chmod 0444`` does nothing here, and not only because root ignores modes: a
    server run as ``nobody`` (``setpriv --reuid=65534``) keeps writing through the
    descriptors it opened before the chmod, which is how every Unix program behaves, so
    there is no outage to observe. A read-only remount is refused while the server holds
    the file open for writing. ``chattr +i`` (immutable) binds root too and refuses writes
    even through open descriptors (EPERM): that is the fault used. It is applied to the
    database and its ``-wal`` (the files holding data), not to the ``-shm`` file: SQLite
    maps that one into memory in every process, and a write into a mapped page of an
    immutable file is a SIGBUS that no program can survive (the sqlite3 CLI dies alike);
    WAL mode needs a writable ``-shm``."""
    path = tmp_path / "readonly.db"
    server = live_server(database=f"sqlite:///{path}")
    name = create_collection(server)
    server.ok("POST", f"/items/{name}", {"title": "before"})
    pids = server.worker_pids()
    files = [path, Path(f"{path}-wal")]
    assert all(f.exists() for f in files), "the server should hold the database in WAL mode"
    done = _chattr("+i", files)
    if done.returncode != 0:
        _unavailable(f"cannot make files immutable here: {done.stderr.strip()}")
    try:
        for i in range(6):
            status, body, headers = _call_with_headers(server, "POST", f"/items/{name}",
                                                       {"title": f"blocked {i}"})
            _assert_outage(status, body)
            assert int(headers["Retry-After"]) > 0
            status, body = server.call("GET", f"/items/{name}?fields=title")
            assert status == 200 and [r["title"] for r in body["data"]] == ["before"], body
        status, body, _ = _call_with_headers(server, "PATCH", f"/items/{name}/1",
                                             {"title": "changed"})
        _assert_outage(status, body)
    finally:
        _chattr("-i", files)
    _recovered(server, name, pids)
    titles = [r["title"] for r in server.ok("GET", f"/items/{name}?fields=title&limit=-1")]
    assert titles[0] == "before" and not any(t.startswith("blocked") for t in titles)


@pytest.fixture
def own_postgres() -> Iterator[PgCluster]:
    if pg_bin() is None:
        _unavailable("PostgreSQL binaries (initdb, pg_ctl) are not installed")
    root = make_folder()
    cluster = PgCluster(root / "pg").init_primary().start()
    try:
        cluster.execute('CREATE DATABASE "transom"')
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def test_postgres_stopped_under_load(live_server: Any, own_postgres: PgCluster) -> None:
    server = live_server(database=own_postgres.url("transom"))
    name = create_collection(server)
    server.ok("POST", f"/items/{name}", {"title": "before"})
    pids = server.worker_pids()
    results: list[tuple[float, int, Any]] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            status, body = server.call("GET", f"/items/{name}", timeout=15)
            results.append((time.monotonic(), status, body))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        own_postgres.stop("fast")
        down_from = time.monotonic()
        time.sleep(2.0)
        own_postgres.start()
        back_at = time.monotonic()
        time.sleep(2.0)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    during = [(s, b) for at, s, b in results if down_from + 0.3 < at < back_at]
    assert during, "no request ran while PostgreSQL was down"
    for status, body in during:
        assert status in (200, 503), (status, body)  # 200: answered just before the stop
        if status == 503:
            _assert_outage(status, body)
    assert any(s == 503 for s, _ in during), [s for s, _ in during][:20]
    late = [s for at, s, _ in results if at > back_at + 1.0]
    assert late and all(s == 200 for s in late), late
    assert server.worker_pids() == pids
