"""Two instances on one PostgreSQL database, talking through Redis: a change made through
either reaches the subscribers of both, shaped by each subscriber's permissions."""

from __future__ import annotations

import time
from typing import Any

import pytest

from transom.testing.live import (
    LIVE_ADMIN_TOKEN,
    create_collection,
    create_user,
    require_redis,
    unique_name,
)

pytestmark = pytest.mark.live


def instance_env(namespace: str, local_path: str) -> dict[str, str]:
    return {"WEBSOCKETS_ENABLED": "true", "MESSENGER_STORE": "redis",
            "MESSENGER_NAMESPACE": namespace, "MESSENGER_LOCAL_PATH": local_path,
            "REDIS": require_redis()}


def test_events_cross_instances(live_server: Any, sockets: Any,
                                tmp_path_factory: pytest.TempPathFactory) -> None:
    namespace = unique_name("ws")
    paths = [str(tmp_path_factory.mktemp(f"bus{x}") / "messenger") for x in "ab"]
    a = live_server("postgres", workers=2, env=instance_env(namespace, paths[0]))
    b = live_server(workers=2, database=a, env=instance_env(namespace, paths[1]))
    c = create_collection(a, None, {"field": "status", "type": "string"})
    reader = create_user(a)
    a.ok("POST", "/permissions", {"policy": reader["policy"]["id"], "collection": c,
                                  "action": "read", "fields": ["id", "title"],
                                  "permissions": {"status": {"_eq": "published"}}})
    admins = []
    readers = []
    for srv in (a, b):
        for _ in range(3):  # spread over both workers of each instance
            s = sockets(srv)
            assert s.auth(access_token=LIVE_ADMIN_TOKEN)["status"] == "ok"
            s.send({"type": "subscribe", "collection": c, "uid": "adm"})
            s.expect(timeout=10, type="subscription", event="init")
            admins.append(s)
        r = sockets(srv)
        assert r.auth(access_token=reader["token"])["status"] == "ok"
        r.send({"type": "subscribe", "collection": c, "uid": "rd"})
        r.expect(timeout=10, type="subscription", event="init")
        readers.append(r)

    for writer in (a, b):
        started = time.monotonic()
        draft = writer.ok("POST", f"/items/{c}", {"title": "d", "status": "draft"})
        for s in admins:
            got = s.expect(type="subscription", event="create")
            assert got["data"][0]["id"] == draft["id"]
        pub = writer.ok("POST", f"/items/{c}", {"title": "p", "status": "published"})
        for s in admins:
            s.expect(type="subscription", event="create")
        for r in readers:  # never the draft, and only the readable fields
            got = r.expect(type="subscription", event="create")
            assert got["data"] == [{"id": pub["id"], "title": "p"}]
        assert time.monotonic() - started < 5
    for srv in (a, b):
        assert srv.traceback_summary() is None
