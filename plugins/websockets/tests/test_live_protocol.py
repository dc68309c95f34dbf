"""Directus 11's /websocket protocol against the real server (gunicorn, 2 workers)."""

from __future__ import annotations

from typing import Any

import pytest

from transom.testing.live import (
    LIVE_ADMIN_EMAIL,
    LIVE_ADMIN_PASSWORD,
    LIVE_ADMIN_TOKEN,
    create_collection,
    create_user,
)

pytestmark = pytest.mark.live

ENV = {"WEBSOCKETS_ENABLED": "true", "WEBSOCKETS_MAX_CONNECTIONS": "64"}


def test_auth_messages_ping_and_errors(live_server: Any, sockets: Any) -> None:
    srv = live_server(env=ENV)
    # access token (a static token here)
    s = sockets(srv)
    assert s.auth(access_token=LIVE_ADMIN_TOKEN, uid="a1") == {
        "type": "auth", "status": "ok", "uid": "a1"}
    s.send({"type": "ping", "uid": 7})
    assert s.expect(type="pong") == {"type": "pong", "uid": 7}
    s.send("{not json")
    bad = s.expect(type="unknown")
    assert bad["status"] == "error" and bad["error"]["code"] == "INVALID_PAYLOAD"
    s.send({"type": "nonsense", "uid": "x"})
    assert s.expect(type="nonsense") == {
        "type": "nonsense", "status": "error", "uid": "x",
        "error": {"code": "INVALID_PAYLOAD", "message": 'Unknown message type "nonsense".'}}

    # email + password through the auth plugin: a session and its refresh token
    s2 = sockets(srv)
    ok = s2.auth(email=LIVE_ADMIN_EMAIL, password=LIVE_ADMIN_PASSWORD)
    assert ok["status"] == "ok" and isinstance(ok.get("refresh_token"), str)
    # the refresh token is rotated through /auth/refresh
    s3 = sockets(srv)
    again = s3.auth(refresh_token=ok["refresh_token"])
    assert again["status"] == "ok" and again["refresh_token"] != ok["refresh_token"]
    s4 = sockets(srv)
    used = s4.auth(refresh_token="not-a-session-token")
    assert used["status"] == "error" and used["error"]["code"] == "AUTH_FAILED"
    assert s4.closed_code() == 1008

    # a wrong password: AUTH_FAILED, then the socket is closed (handshake mode)
    s5 = sockets(srv)
    wrong = s5.auth(email=LIVE_ADMIN_EMAIL, password="nope-nope")
    assert wrong["status"] == "error" and wrong["error"]["code"] == "AUTH_FAILED"
    assert s5.closed_code() == 1008

    # handshake: the first message must be auth
    s6 = sockets(srv)
    s6.send({"type": "subscribe", "collection": "x", "uid": 1})
    first = s6.expect(type="subscribe")
    assert first["error"]["code"] == "AUTH_FAILED" and first["uid"] == 1
    assert s6.closed_code() == 1008


def test_subscribe_items_and_events_across_workers(live_server: Any, sockets: Any) -> None:
    srv = live_server(env=ENV)
    c = create_collection(srv)
    srv.ok("POST", f"/items/{c}", {"title": "before"})
    # 6 sockets: gunicorn spreads them over both workers
    subs = []
    for i in range(6):
        s = sockets(srv)
        assert s.auth(access_token=LIVE_ADMIN_TOKEN)["status"] == "ok"
        s.send({"type": "subscribe", "collection": c, "uid": f"s{i}",
                "query": {"fields": ["id", "title"]}})
        init = s.expect(type="subscription", event="init")
        assert init["uid"] == f"s{i}" and init["data"] == [{"id": 1, "title": "before"}]
        subs.append(s)

    # REST writes, each on either worker: every socket gets every event
    made = srv.ok("POST", f"/items/{c}", {"title": "new"})
    for s in subs:
        ev = s.expect(type="subscription", event="create")
        assert ev["data"] == [{"id": made["id"], "title": "new"}]
    srv.ok("PATCH", f"/items/{c}/{made['id']}", {"title": "changed"})
    for s in subs:
        ev = s.expect(type="subscription", event="update")
        assert ev["data"] == [{"id": made["id"], "title": "changed"}]
    srv.call("DELETE", f"/items/{c}/{made['id']}")
    for s in subs:
        ev = s.expect(type="subscription", event="delete")
        assert ev["data"] == [made["id"]]

    # items actions over the socket, through the items service
    a = subs[0]
    a.send({"type": "items", "collection": c, "action": "create", "data": {"title": "ws"},
            "uid": "i1", "query": {"fields": ["title"]}})
    assert a.expect(type="items", uid="i1") == {"type": "items", "uid": "i1",
                                                "data": {"title": "ws"}}
    for s in subs[1:]:  # the socket's own write is an event like any other
        created = s.expect(type="subscription", event="create")
        assert created["data"][0]["title"] == "ws"
    new_id = created["data"][0]["id"]
    a.send({"type": "items", "collection": c, "action": "read", "uid": "i2",
            "query": {"filter": {"title": {"_eq": "ws"}}, "fields": ["id"]}})
    assert a.expect(type="items", uid="i2")["data"] == [{"id": new_id}]
    a.send({"type": "items", "collection": c, "action": "update", "id": new_id,
            "data": {"title": "ws2"}, "uid": "i3"})
    assert a.expect(type="items", uid="i3")["data"]["title"] == "ws2"
    a.send({"type": "items", "collection": c, "action": "delete", "ids": [new_id],
            "uid": "i4"})
    assert a.expect(type="items", uid="i4")["data"] == [new_id]
    a.send({"type": "items", "collection": "no_such_thing", "action": "read", "uid": "i5"})
    err = a.expect(type="items", uid="i5")
    assert err["status"] == "error" and err["error"]["code"] == "FORBIDDEN"
    a.send({"type": "items", "collection": c, "action": "read", "uid": "i6",
            "query": {"filter": {"nope": {"_eq": 1}}}})
    err = a.expect(type="items", uid="i6")
    assert err["status"] == "error" and err["error"]["code"] in ("INVALID_QUERY", "FORBIDDEN")

    # event filter and one item
    b = subs[1]
    b.send({"type": "subscribe", "collection": c, "uid": "only-upd", "event": "update"})
    b.expect(type="subscription", event="init", uid="only-upd")
    one = srv.ok("POST", f"/items/{c}", {"title": "x"})
    assert b.expect(type="subscription", event="create", uid="s1")
    assert not b.nothing(0.5, uid="only-upd")
    srv.ok("PATCH", f"/items/{c}/{one['id']}", {"title": "y"})
    assert b.expect(type="subscription", event="update", uid="only-upd")["data"][0]["title"] == "y"

    # unsubscribe: no more events for that uid
    b.send({"type": "unsubscribe", "uid": "only-upd"})
    assert b.expect(type="subscription", event="unsubscribe") == {
        "type": "subscription", "event": "unsubscribe", "uid": "only-upd"}
    srv.ok("PATCH", f"/items/{c}/{one['id']}", {"title": "z"})
    b.expect(type="subscription", event="update", uid="s1")
    assert not b.nothing(0.5, uid="only-upd")
    assert srv.traceback_summary() is None


def test_permissions_shape_every_event_and_revocation_stops_them(
        live_server: Any, sockets: Any) -> None:
    srv = live_server(env=ENV)
    c = create_collection(srv, None, {"field": "status", "type": "string"},
                          {"field": "secret", "type": "string"})
    reader = create_user(srv)
    perm = srv.ok("POST", "/permissions", {
        "policy": reader["policy"]["id"], "collection": c, "action": "read",
        "fields": ["id", "title", "status"],
        "permissions": {"status": {"_eq": "published"}}})
    s = sockets(srv)
    assert s.auth(access_token=reader["token"])["status"] == "ok"
    s.send({"type": "subscribe", "collection": c, "uid": "r"})
    assert s.expect(type="subscription", event="init")["data"] == []

    srv.ok("POST", f"/items/{c}", {"title": "draft", "status": "draft", "secret": "s"})
    pub = srv.ok("POST", f"/items/{c}", {"title": "pub", "status": "published",
                                         "secret": "s"})
    ev = s.expect(type="subscription", event="create")
    assert ev["data"] == [{"id": pub["id"], "title": "pub", "status": "published"}]
    assert not s.nothing(0.5, event="create")  # the draft never arrived

    # asking for a forbidden field is refused at subscribe time
    s.send({"type": "subscribe", "collection": c, "uid": "bad",
            "query": {"fields": ["secret"]}})
    bad = s.expect(type="subscribe", uid="bad")
    assert bad["status"] == "error" and bad["error"]["code"] == "FORBIDDEN"

    # revoke: the next change is not delivered
    srv.call("DELETE", f"/permissions/{perm['id']}")
    srv.ok("POST", f"/items/{c}", {"title": "after", "status": "published"})
    assert not s.nothing(1.0, event="create")

    # a suspended user is told and disconnected at the next event
    other = create_user(srv, [{"collection": c, "action": "read", "fields": ["*"],
                               "permissions": {}}])
    o = sockets(srv)
    assert o.auth(access_token=other["token"])["status"] == "ok"
    o.send({"type": "subscribe", "collection": c, "uid": "o"})
    o.expect(type="subscription", event="init")
    srv.ok("PATCH", f"/users/{other['user']['id']}", {"status": "suspended"})
    srv.ok("POST", f"/items/{c}", {"title": "late", "status": "published"})
    lost = o.expect(type="auth")
    assert lost["status"] == "error" and lost["error"]["code"] == "AUTH_FAILED"
    assert o.closed_code() == 1008
    assert srv.traceback_summary() is None
