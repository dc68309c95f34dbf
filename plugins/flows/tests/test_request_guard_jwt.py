"""The request operation's address guard and the json-web-token operation, over HTTP
(webhook flows through the Flask test client, a real local HTTP server as the peer)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest

SECRET = "flow-jwt-secret-0123456789-abcdefgh"


def _hook(api: Any, builder: Any, ops: list[dict[str, Any]]) -> str:
    return builder(api.ok, {"name": "hook", "trigger": "webhook",
                            "options": {"method": "POST"}}, ops)["id"]


def _run(api: Any, fid: str, body: Any = None) -> Any:
    return api.call("POST", f"/flows/trigger/{fid}", body if body is not None else {})


def _request_flow(api: Any, builder: Any, url: str) -> str:
    """request -> (resolve) transform {ok: status} ; (reject) transform {refused: $last}."""
    return _hook(api, builder, [
        {"key": "call", "type": "request", "resolve": "ok", "reject": "no",
         "options": {"url": url}},
        {"key": "ok", "type": "transform",
         "options": {"json": {"status": "{{ call.status }}", "data": "{{ call.data }}"}}},
        {"key": "no", "type": "transform",
         "options": {"json": {"refused": "{{ $last.message }}"}}},
    ])


@pytest.fixture
def redirector(receiver: Any) -> Iterator[str]:
    """A server on 127.0.0.1 whose ``/to?u=URL`` answers 302 to URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            target = self.path.split("u=", 1)[1] if "u=" in self.path else "/"
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_request_refuses_local_addresses_by_default(make_api, flow_builder, backend,
                                                    receiver):
    api = make_api()
    for url in (receiver.url + "/x", receiver.url.replace("127.0.0.1", "localhost") + "/x",
                "http://[::1]:9/x", "http://169.254.169.254/latest/meta-data",
                "http://10.1.2.3/", "http://0.0.0.0:9/"):
        out = _run(api, _request_flow(api, flow_builder, url)).get_json()
        assert "denied IP address" in out["refused"], (url, out)
    assert receiver.calls == []  # nothing ever reached the local server


def test_allow_list_lets_a_local_service_through(make_api, flow_builder, backend, receiver):
    api = make_api({"FLOWS_REQUEST_IP_ALLOW_LIST": "127.0.0.0/8"})
    out = _run(api, _request_flow(api, flow_builder, receiver.url + "/ok")).get_json()
    assert out == {"status": 200, "data": {"echo": None, "path": "/ok"}}
    assert [c["path"] for c in receiver.calls] == ["/ok"]
    # the allow list lifts only what it names: the metadata address stays refused
    out = _run(api, _request_flow(api, flow_builder,
                                  "http://169.254.169.254/latest")).get_json()
    assert "denied IP address" in out["refused"]


@pytest.mark.backends("sqlite")
def test_redirects_are_checked_too(make_api, flow_builder, backend, receiver, redirector):
    # the redirector (127.0.0.1) is allowed; where it points (127.0.0.2) is checked again
    api = make_api({"FLOWS_REQUEST_IP_ALLOW_LIST": "127.0.0.1"})
    target = receiver.url.replace("127.0.0.1", "127.0.0.2") + "/secret"
    out = _run(api, _request_flow(api, flow_builder, f"{redirector}/to?u={target}")).get_json()
    assert "denied IP address" in out["refused"] and "127.0.0.2" in out["refused"]
    # a redirect to an allowed address is followed
    out = _run(api, _request_flow(api, flow_builder,
                                  f"{redirector}/to?u={receiver.url}/landed")).get_json()
    assert out["status"] == 200 and out["data"]["path"] == "/landed"
    assert [c["path"] for c in receiver.calls] == ["/landed"]


@pytest.mark.backends("sqlite")
def test_every_resolved_address_is_checked(make_api, flow_builder, backend, monkeypatch):
    """A host name answering a public and a private address is refused (no pick-the-good-
    one): resolution is real ``getaddrinfo`` with a stub answer for one made-up name."""
    real = socket.getaddrinfo

    def fake(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "mixed.example.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 80)),
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.168.1.7", 80))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    api = make_api()
    out = _run(api, _request_flow(api, flow_builder, "http://mixed.example.test/")).get_json()
    assert "denied IP address" in out["refused"]


def test_json_web_token_sign_verify_decode(make_api, flow_builder, backend):
    api = make_api()
    fid = _hook(api, flow_builder, [
        {"key": "signed", "type": "json-web-token", "resolve": "checked",
         "options": {"operation": "sign", "secret": SECRET,
                     "payload": {"user": "{{ $trigger.body.user }}"},
                     "options": {"expiresIn": "1h", "issuer": "transom-flow"}}},
        {"key": "checked", "type": "json-web-token", "resolve": "peek",
         "options": {"operation": "verify", "secret": SECRET, "token": "{{ signed }}",
                     "options": {"issuer": "transom-flow"}}},
        {"key": "peek", "type": "json-web-token", "resolve": "out",
         "options": {"operation": "decode", "token": "{{ signed }}"}},
        {"key": "out", "type": "transform",
         "options": {"json": {"token": "{{ signed }}", "verified": "{{ checked }}",
                              "decoded": "{{ peek }}"}}},
    ])
    out = _run(api, fid, {"user": "ada"}).get_json()
    claims = jwt.decode(out["token"], SECRET, algorithms=["HS256"], issuer="transom-flow")
    assert claims["user"] == "ada" and claims["exp"] - claims["iat"] == 3600
    assert claims["iat"] <= time.time() + 1
    assert out["verified"] == claims and out["decoded"] == claims


def test_json_web_token_refusals(make_api, flow_builder, backend):
    api = make_api()
    good = jwt.encode({"a": 1}, SECRET, algorithm="HS256")
    expired = jwt.encode({"a": 1, "exp": int(time.time()) - 60}, SECRET, algorithm="HS256")
    unsigned = jwt.encode({"a": 1}, None, algorithm="none")
    cases = [
        ({"operation": "verify", "secret": "other-secret", "token": good}, "Signature"),
        ({"operation": "verify", "secret": SECRET, "token": expired}, "expired"),
        ({"operation": "verify", "secret": SECRET, "token": unsigned}, "Invalid JSON Web"),
        ({"operation": "verify", "secret": SECRET, "token": good,
          "options": {"algorithms": ["none"]}}, '"algorithms"'),
        ({"operation": "verify", "secret": SECRET, "token": good,
          "options": {"issuer": "someone"}}, "Invalid JSON Web Token"),
        ({"operation": "sign", "secret": SECRET, "payload": {"a": 1},
          "options": {"expiresIn": "soon"}}, '"expiresIn"'),
        ({"operation": "sign", "secret": SECRET, "payload": {"a": 1},
          "options": {"bogus": True}}, "Unknown option"),
        ({"operation": "sign", "payload": {"a": 1}}, "secret"),
        ({"operation": "decode", "token": "not-a-jwt"}, "Invalid JSON Web Token"),
        ({"operation": "encrypt", "token": good}, "Operation"),
    ]
    for options, expected in cases:
        fid = _hook(api, flow_builder, [
            {"key": "j", "type": "json-web-token", "reject": "no", "options": options},
            {"key": "no", "type": "transform",
             "options": {"json": {"refused": "{{ $last.message }}"}}},
        ])
        out = _run(api, fid).get_json()
        assert isinstance(out, dict) and expected in str(out.get("refused")), (options, out)
    # expired, but told to ignore it; decode never checks the signature
    fid = _hook(api, flow_builder, [
        {"key": "j", "type": "json-web-token", "resolve": "d",
         "options": {"operation": "verify", "secret": SECRET, "token": expired,
                     "options": {"ignoreExpiration": True}}},
        {"key": "d", "type": "json-web-token",
         "options": {"operation": "decode", "token": unsigned}},
    ])
    assert _run(api, fid).get_json() == {"a": 1}
