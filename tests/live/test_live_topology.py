"""The scale-out topology of the issue, started for real: PostgreSQL primary + streaming
standby, Redis, two instances of two workers, nginx in front (see
``transom.testing.topology``)."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from transom.testing.databases import in_ci
from transom.testing.live import create_collection, create_user, read_permission
from transom.testing.live_support import require_redis
from transom.testing.pg_cluster import pg_bin
from transom.testing.topology import Topology, nginx_binary

pytestmark = pytest.mark.backends("postgres")


def _need(what: str, ok: bool) -> None:
    if not ok:
        if in_ci():
            pytest.fail(f"{what} is needed under CI (.ci/run installs it)")
        pytest.skip(f"{what} not installed")


def _get(url: str, token: str) -> tuple[int, Any]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def test_two_instances_behind_nginx_with_a_replica():
    _need("PostgreSQL binaries", pg_bin() is not None)
    _need("nginx", nginx_binary() is not None)
    require_redis()
    with Topology(instances=2, workers=2) as topo:
        a, b = topo.servers
        front = topo.nginx.url
        admin = a.admin_token
        # a schema change on one instance is honoured by the other within 100 ms
        name = create_collection(a)
        reader = create_user(a)
        a.ok("POST", "/permissions", read_permission(reader["policy"]["id"], name))
        a.ok("POST", f"/items/{name}", {"title": "one"})
        started = time.monotonic()
        while True:
            status, body = b.call("GET", f"/items/{name}", token=reader["token"])
            if status == 200 or time.monotonic() - started > 0.1:
                break
        assert status == 200, body
        # through nginx: the writer reads its own write at once, whichever instance answers
        topo.replica.execute("SELECT pg_wal_replay_pause()")
        try:
            req = urllib.request.Request(
                f"{front}/items/{name}", method="POST", data=b'{"title": "two"}',
                headers={"Authorization": f"Bearer {admin}",
                         "Content-Type": "application/json"})
            urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=10)
            for _ in range(8):
                status, body = _get(f"{front}/items/{name}?fields=title&sort=id", admin)
                assert [r["title"] for r in body["data"]] == ["one", "two"]
            # others read the replica (which has not replayed "two"), on both instances
            for _ in range(8):
                status, body = _get(f"{front}/items/{name}?fields=title&sort=id",
                                    reader["token"])
                assert status == 200 and [r["title"] for r in body["data"]] == ["one"]
        finally:
            topo.replica.execute("SELECT pg_wal_replay_resume()")
