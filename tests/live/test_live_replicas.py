"""Read replicas on a real topology: a PostgreSQL primary of the test's own, a streaming
standby made with ``pg_basebackup``, and the real server with two workers.

How a read is shown to come from the replica: replay is paused on the standby, so a row
written afterwards exists on the primary only. Another client does not see it (its reads
go to the replica), while the writer reads it at once (read-your-writes)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from transom.testing.databases import in_ci
from transom.testing.live import create_collection, create_user, read_permission
from transom.testing.pg_cluster import PgCluster, make_folder, pg_bin

pytestmark = pytest.mark.backends("postgres")


@pytest.fixture
def topology() -> Iterator[tuple[PgCluster, PgCluster]]:
    if pg_bin() is None:
        if in_ci():
            pytest.fail("PostgreSQL binaries (initdb, pg_basebackup) are needed under CI")
        pytest.skip("PostgreSQL binaries not installed")
    root = make_folder()
    primary = PgCluster(root / "primary").init_primary().start()
    replica = None
    try:
        primary.execute('CREATE DATABASE "transom"')
        replica = primary.standby(root / "replica")
        yield primary, replica
    finally:
        if replica is not None:
            replica.stop("immediate")
        primary.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def _server(live_server: Any, primary: PgCluster, replica: PgCluster, **env: str) -> Any:
    return live_server(database=primary.url("transom"), env={
        "DB_REPLICA_URL": replica.url("transom").render_as_string(hide_password=False),
        "DB_REPLICA_CHECK_INTERVAL": "0.3", "DB_REPLICA_STICKY": "3", **env})


def _titles(server: Any, name: str, token: Any) -> list[str]:
    status, body = server.call("GET", f"/items/{name}?fields=title&sort=id", token=token)
    assert status == 200, body
    return [row["title"] for row in body["data"]]


def _replay(replica: PgCluster, resume: bool) -> None:
    replica.execute("SELECT pg_wal_replay_resume()" if resume else "SELECT pg_wal_replay_pause()")


def _readable(server: Any, title: str) -> tuple[str, dict[str, Any]]:
    """A new collection holding one row, and a non-admin user who may read it."""
    name = create_collection(server)
    reader = create_user(server)
    server.ok("POST", "/permissions", read_permission(reader["policy"]["id"], name))
    server.ok("POST", f"/items/{name}", {"title": title})
    return name, reader


def test_reads_go_to_the_replica_and_a_writer_reads_its_own_write(live_server, topology):
    primary, replica = topology
    server = _server(live_server, primary, replica)
    name, reader = _readable(server, "before")
    primary.wait_replayed(replica)
    time.sleep(3.2)  # the admin's read-your-writes window ends
    assert _titles(server, name, reader["token"]) == ["before"]

    _replay(replica, resume=False)
    try:
        written = server.ok("POST", f"/items/{name}", {"title": "after"})
        # the writer, on whichever worker: at once, from the primary
        for _ in range(6):
            assert _titles(server, name, server.admin_token) == ["before", "after"]
        # another client reads the replica, which has not replayed the write
        for _ in range(6):
            assert _titles(server, name, reader["token"]) == ["before"]
        # the row is on the primary: writes went there
        with sa.create_engine(primary.url("transom"), poolclass=sa.pool.NullPool).connect() \
                as conn:
            assert conn.exec_driver_sql(
                f'SELECT title FROM "{name}" WHERE id = {int(written["id"])}').scalar() == "after"
    finally:
        _replay(replica, resume=True)
    primary.wait_replayed(replica)
    assert _titles(server, name, reader["token"]) == ["before", "after"]

    status, health = server.call("GET", "/server/health")
    assert status == 200
    (entry,) = health["checks"]["postgres:replica1:lagSeconds"]
    assert entry["status"] == "ok" and isinstance(entry["observedValue"], float)


def test_a_stopped_replica_under_load_fails_no_request(live_server, topology):
    primary, replica = topology
    server = _server(live_server, primary, replica)
    name, reader = _readable(server, "one")
    primary.wait_replayed(replica)

    failures: list[Any] = []
    served = 0
    stop = threading.Event()

    def load() -> None:
        nonlocal served
        while not stop.is_set():
            status, body = server.call("GET", f"/items/{name}?fields=title",
                                       token=reader["token"])
            if status != 200:
                failures.append((status, body))
            served += 1

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        replica.stop("immediate")  # under load
        time.sleep(2.0)
        status, health = server.call("GET", "/server/health")
        (entry,) = health["checks"]["postgres:replica1:lagSeconds"]
        assert entry["status"] == "warn", entry  # reported, not fatal: reads use the primary
        replica.start()
        time.sleep(1.5)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert served > 20
    assert failures == [], failures[:3]
    status, health = server.call("GET", "/server/health")
    (entry,) = health["checks"]["postgres:replica1:lagSeconds"]
    assert entry["status"] == "ok", entry


def test_a_collection_the_replica_has_not_replayed_is_read_from_the_primary(live_server,
                                                                            topology):
    primary, replica = topology
    server = _server(live_server, primary, replica)
    reader = create_user(server)
    _replay(replica, resume=False)
    try:
        name = create_collection(server)  # on the primary only, for now
        server.ok("POST", "/permissions", read_permission(reader["policy"]["id"], name))
        server.ok("POST", f"/items/{name}", {"title": "fresh"})
        for _ in range(4):
            assert _titles(server, name, reader["token"]) == ["fresh"]
    finally:
        _replay(replica, resume=True)


# -- MariaDB: a primary with a binary log and a replica following it --------------------

@pytest.fixture
def maria_topology() -> Iterator[tuple[Any, Any]]:
    from transom.testing.mariadb_cluster import MariaServer, mariadb_binaries

    if mariadb_binaries() is None:
        if in_ci():
            pytest.fail("MariaDB server binaries are needed under CI")
        pytest.skip("MariaDB server binaries not installed")
    root = make_folder()
    primary = MariaServer(root / "primary", 1).start()
    replica = None
    try:
        replica = MariaServer(root / "replica", 2).start()
        replica.follow(primary)
        primary.execute("CREATE DATABASE transom CHARACTER SET utf8mb4 "
                        "COLLATE utf8mb4_unicode_ci")
        yield primary, replica
    finally:
        if replica is not None:
            replica.stop()
        primary.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.backends("mysql")
def test_mariadb_reads_go_to_the_replica_and_survive_its_loss(live_server, maria_topology):
    primary, replica = maria_topology
    server = live_server(database=primary.url("transom"), env={
        "DB_REPLICA_URL": replica.url("transom").render_as_string(hide_password=False),
        "DB_REPLICA_CHECK_INTERVAL": "0.3", "DB_REPLICA_STICKY": "3"})
    name, reader = _readable(server, "both")
    replica.wait_caught_up(primary)
    # a row only the replica has (root writes through read_only): whoever sees it read there
    replica.execute(f"INSERT INTO `{name}` (id, title) VALUES (1000, 'replica only')",
                    "transom")
    time.sleep(3.2)
    assert _titles(server, name, reader["token"]) == ["both", "replica only"]
    server.ok("POST", f"/items/{name}", {"title": "mine"})
    assert _titles(server, name, server.admin_token) == ["both", "mine"]  # the primary
    status, health = server.call("GET", "/server/health")
    (entry,) = [v for k, v in health["checks"].items() if k.endswith(":replica1:lagSeconds")]
    assert entry[0]["status"] == "ok", entry

    failures: list[Any] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            status, body = server.call("GET", f"/items/{name}?fields=title",
                                       token=reader["token"])
            if status != 200:
                failures.append((status, body))

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.8)
        replica.stop()
        time.sleep(1.5)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert failures == [], failures[:3]
    # the primary answers now: the replica-only row is gone from the reader's view
    assert _titles(server, name, reader["token"]) == ["both", "mine"]
