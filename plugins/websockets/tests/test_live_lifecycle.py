"""Token expiry, heartbeat, auth modes, limits and shutdown, against the real server."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from transom.testing.live import (
    LIVE_ADMIN_EMAIL,
    LIVE_ADMIN_PASSWORD,
    LIVE_ADMIN_TOKEN,
    create_collection,
)

pytestmark = pytest.mark.live


def test_expired_token_asks_for_auth_then_closes(live_server: Any, sockets: Any) -> None:
    srv = live_server(env={"WEBSOCKETS_ENABLED": "true", "ACCESS_TOKEN_TTL": "2s",
                           "WEBSOCKETS_REST_AUTH_TIMEOUT": "2",
                           "WEBSOCKETS_HEARTBEAT_ENABLED": "false"})
    c = create_collection(srv)
    s = sockets(srv)
    ok = s.auth(email=LIVE_ADMIN_EMAIL, password=LIVE_ADMIN_PASSWORD)
    assert ok["status"] == "ok"
    s.send({"type": "subscribe", "collection": c, "uid": "c"})
    s.expect(type="subscription", event="init")
    expired = s.expect(timeout=6, type="auth", status="error")
    assert expired == {"type": "auth", "status": "error",
                       "error": {"code": "TOKEN_EXPIRED", "message": "Token expired."}}
    # while waiting for a new auth, nothing is delivered and messages are refused
    srv.ok("POST", f"/items/{c}", {"title": "hidden"})
    assert not s.nothing(0.6, type="subscription")
    s.send({"type": "items", "collection": c, "action": "read", "uid": 1})
    assert s.expect(type="items")["error"]["code"] == "TOKEN_EXPIRED"
    # re-authenticate with the refresh token: deliveries resume on the same subscription
    assert s.auth(refresh_token=ok["refresh_token"])["status"] == "ok"
    srv.ok("POST", f"/items/{c}", {"title": "seen"})
    assert s.expect(type="subscription", event="create")["data"][0]["title"] == "seen"
    # expires again, and this time no auth comes: AUTH_TIMEOUT, then closed
    s.expect(timeout=6, type="auth", status="error")
    timeout = s.expect(timeout=6, type="auth", status="error")
    assert timeout["error"]["code"] == "AUTH_TIMEOUT"
    assert s.closed_code() == 1008


def test_heartbeat_pings_and_closes_silent_clients(live_server: Any, sockets: Any) -> None:
    srv = live_server(env={"WEBSOCKETS_ENABLED": "true", "WEBSOCKETS_HEARTBEAT_PERIOD": "1"})
    alive, silent = sockets(srv), sockets(srv)
    for s in (alive, silent):
        assert s.auth(access_token=LIVE_ADMIN_TOKEN)["status"] == "ok"
    for _ in range(3):  # answers every ping: stays open
        assert alive.expect(timeout=3, type="ping") == {"type": "ping"}
        alive.send({"type": "pong"})
    alive.send({"type": "ping"})
    assert alive.expect(type="pong") == {"type": "pong"}
    assert silent.closed_code(timeout=1) == 1000  # never answered: closed by now


def test_auth_modes(live_server: Any, sockets: Any) -> None:
    strict = live_server(workers=1, env={"WEBSOCKETS_ENABLED": "true",
                                         "WEBSOCKETS_REST_AUTH": "strict"})
    with pytest.raises(InvalidStatus) as refused:
        sockets(strict)
    assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as bad:
        sockets(strict, query="access_token=wrong")
    assert bad.value.response.status_code == 401
    s = sockets(strict, query=f"access_token={LIVE_ADMIN_TOKEN}")
    s.send({"type": "items", "collection": "directus_users", "action": "read", "uid": 1,
            "query": {"fields": ["email"]}})
    assert {"email": LIVE_ADMIN_EMAIL} in s.expect(type="items")["data"]

    public = live_server(workers=1, env={"WEBSOCKETS_ENABLED": "true",
                                         "WEBSOCKETS_REST_AUTH": "public"})
    c = create_collection(public)
    p = sockets(public)
    p.send({"type": "subscribe", "collection": c, "uid": 1})
    denied = p.expect(type="subscribe")
    assert denied["status"] == "error" and denied["error"]["code"] == "FORBIDDEN"
    p.send({"type": "ping"})
    assert p.expect(type="pong")
    # disabled: no socket at all
    off = live_server(workers=1)
    with pytest.raises(InvalidStatus) as missing:
        sockets(off)
    assert missing.value.response.status_code == 404


def test_limits(live_server: Any, sockets: Any) -> None:
    srv = live_server(workers=1, env={
        "WEBSOCKETS_ENABLED": "true", "WEBSOCKETS_MAX_CONNECTIONS": "2",
        "WEBSOCKETS_MAX_SUBSCRIPTIONS": "2", "WEBSOCKETS_RATE_LIMIT": "5",
        "WEBSOCKETS_MAX_MESSAGE_SIZE": "2048"})
    c = create_collection(srv)
    a, b = sockets(srv), sockets(srv)
    for s in (a, b):  # once answered, both are counted
        assert s.auth(access_token=LIVE_ADMIN_TOKEN)["status"] == "ok"
    with pytest.raises(InvalidStatus) as full:
        sockets(srv)
    assert full.value.response.status_code == 403
    for uid in (1, 2):
        a.send({"type": "subscribe", "collection": c, "uid": uid})
        a.expect(type="subscription", event="init", uid=uid)
    a.send({"type": "subscribe", "collection": c, "uid": 3})
    third = a.expect(type="subscribe", uid=3)
    assert third["error"]["code"] == "LIMIT_EXCEEDED"
    time.sleep(1.1)  # a fresh second for the rate limit
    for i in range(7):
        a.send({"type": "ping", "uid": i})
    answers = [a.expect(uid=i) for i in range(7)]
    assert [m["type"] for m in answers[:5]] == ["pong"] * 5
    assert answers[5]["error"]["code"] == "REQUESTS_EXCEEDED"
    # too large a message ends the socket with 1009
    b.send(json.dumps({"type": "ping", "pad": "x" * 4096}))
    assert b.closed_code() == 1009
    assert srv.traceback_summary() is None


def test_shutdown_closes_sockets_with_1001(live_server: Any, sockets: Any) -> None:
    srv = live_server(workers=1, env={"WEBSOCKETS_ENABLED": "true"})
    s = sockets(srv)
    assert s.auth(access_token=LIVE_ADMIN_TOKEN)["status"] == "ok"
    started = time.monotonic()
    srv.stop()
    assert s.closed_code() == 1001
    assert time.monotonic() - started < 10
