"""GraphQL subscriptions (graphql-transport-ws at /graphql) against the real server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.sync.client import connect

from transom.testing.live import LIVE_ADMIN_TOKEN, create_collection, create_user

pytestmark = pytest.mark.live


def gql_socket(base_url: str) -> Any:
    return connect(base_url.replace("http://", "ws://") + "/graphql",
                   subprotocols=["graphql-transport-ws"], open_timeout=10).__enter__()


def recv(ws: Any, timeout: float = 15.0) -> dict[str, Any]:
    while True:
        message = json.loads(ws.recv(timeout=timeout))
        if message.get("type") != "ping":
            return message
        ws.send('{"type":"pong"}')


def test_mutated_subscriptions(live_server: Any) -> None:
    srv = live_server(env={"WEBSOCKETS_ENABLED": "true"})
    c = create_collection(srv, None, {"field": "status", "type": "string"})
    reader = create_user(srv)
    srv.ok("POST", "/permissions", {"policy": reader["policy"]["id"], "collection": c,
                                    "action": "read", "fields": ["id", "title"],
                                    "permissions": {"status": {"_eq": "published"}}})
    # the HTTP endpoint on the same path is untouched
    status, body = srv.call("POST", "/graphql", {"query": f"{{ {c} {{ id }} }}"})
    assert (status, body) == (200, {"data": {c: []}})
    admin, user = gql_socket(srv.base_url), gql_socket(srv.base_url)
    try:
        assert admin.subprotocol == "graphql-transport-ws"
        for ws, token in ((admin, LIVE_ADMIN_TOKEN), (user, reader["token"])):
            ws.send(json.dumps({"type": "connection_init",
                                "payload": {"access_token": token}}))
            assert recv(ws) == {"type": "connection_ack"}
        admin.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": f"subscription {{ {c}_mutated {{ key event data {{ id label: title "
                     f"status }} }} }}"}}))
        admin.send(json.dumps({"id": "2", "type": "subscribe", "payload": {
            "query": f"subscription($e: EventEnum) {{ {c}_mutated(event: $e) {{ key event }} }}",
            "variables": {"e": "delete"}}}))
        user.send(json.dumps({"id": "u", "type": "subscribe", "payload": {
            "query": f"subscription {{ {c}_mutated {{ key data {{ id title }} }} }}"}}))
        user.send(json.dumps({"id": "bad", "type": "subscribe", "payload": {
            "query": f"subscription {{ {c}_mutated {{ data {{ status }} }} }}"}}))
        err = recv(user)
        assert err["id"] == "bad" and err["type"] == "error"
        assert err["payload"][0]["extensions"]["code"] == "FORBIDDEN"
        user.send(json.dumps({"id": "x", "type": "subscribe", "payload": {
            "query": "subscription { nothing_here_mutated { key } }"}}))
        assert recv(user)["type"] == "error"
        # subscribe has no acknowledgement; a ping answered proves the server has read
        # (and so registered) the subscriptions sent before it on this socket
        admin.send(json.dumps({"type": "ping"}))
        assert recv(admin) == {"type": "pong"}

        draft = srv.ok("POST", f"/items/{c}", {"title": "d", "status": "draft"})
        got = recv(admin)
        assert got == {"id": "1", "type": "next", "payload": {"data": {f"{c}_mutated": {
            "key": str(draft["id"]), "event": "create",
            "data": {"id": draft["id"], "label": "d", "status": "draft"}}}}}
        pub = srv.ok("POST", f"/items/{c}", {"title": "p", "status": "published"})
        assert recv(admin)["payload"]["data"][f"{c}_mutated"]["key"] == str(pub["id"])
        only = recv(user)  # the draft never reaches the reader
        assert only == {"id": "u", "type": "next", "payload": {"data": {f"{c}_mutated": {
            "key": str(pub["id"]), "data": {"id": pub["id"], "title": "p"}}}}}
        srv.call("DELETE", f"/items/{c}/{draft['id']}")
        deleted = [recv(admin), recv(admin)]
        by_id = {m["id"]: m["payload"]["data"][f"{c}_mutated"] for m in deleted}
        assert by_id["1"] == {"key": str(draft["id"]), "event": "delete", "data": None}
        assert by_id["2"] == {"key": str(draft["id"]), "event": "delete"}
        admin.send(json.dumps({"id": "1", "type": "complete"}))
        admin.send(json.dumps({"type": "ping"}))
        assert recv(admin) == {"type": "pong"}
    finally:
        admin.close()
        user.close()
    assert srv.traceback_summary() is None
