"""Errors the front server produces carry Directus's JSON envelope (real gunicorn)."""

from __future__ import annotations

from typing import Any

import pytest

# every test leaves the server answering (each checks it): one server for the module (per
# xdist worker that runs some of its tests)
pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def front(module_live_server: Any) -> Any:
    """The module's server (sqlite, 2 workers)."""
    return module_live_server()


def _code(body: Any) -> str:
    assert isinstance(body, dict), body  # JSON, not gunicorn's HTML page
    return body["errors"][0]["extensions"]["code"]


def test_limits_answer_in_the_envelope(front: Any) -> None:
    server = front
    status, body = server.call("GET", "/server/ping?q=" + "a" * 9000, token=None)
    assert (status, _code(body)) == (414, "URI_TOO_LONG")
    # beyond gunicorn's old 8190-byte line limit too
    status, body = server.call("GET", "/items/x?filter=" + "a" * 20000, token=None)
    assert (status, _code(body)) == (414, "URI_TOO_LONG")
    status, body = server.call("GET", "/server/ping", token=None,
                               headers={"X-Big": "b" * 17000})
    assert (status, _code(body)) == (431, "REQUEST_HEADER_FIELDS_TOO_LARGE")
    many = {f"X-H{i}": "v" * 200 for i in range(120)}
    status, body = server.call("GET", "/server/ping", token=None, headers=many)
    assert (status, _code(body)) == (431, "REQUEST_HEADER_FIELDS_TOO_LARGE")
    status, body = server.call("POST", "/auth/login", {"email": "e" * 2_000_000},
                               token=None)
    assert (status, _code(body)) == (413, "CONTENT_TOO_LARGE")
    # and the server still answers normally
    assert server.call("GET", "/server/ping", token=None)[0] == 200


def _raw(port: int, data: bytes) -> tuple[int, dict[str, str], Any]:
    """Send ``data`` as it is over a socket; the status line, headers and JSON body back."""
    import json
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


@pytest.mark.parametrize(("request_bytes", "code"), [
    (b"GARBAGE\r\n\r\n", "INVALID_REQUEST"),                    # no method, path, version
    (b"GET /server/ping HTTP/9.9\r\nHost: x\r\n\r\n", "INVALID_REQUEST"),  # HTTP version
    (b"G\x01T /server/ping HTTP/1.1\r\nHost: x\r\n\r\n", "INVALID_REQUEST"),  # method
    (b"GET /server/ping HTTP/1.1\r\nBad Header\r\n\r\n", "INVALID_REQUEST"),  # no colon
    # a malformed chunked body is met by the app while it reads the body
    (b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", "INVALID_PAYLOAD"),
], ids=["request-line", "version", "method", "header", "chunk"])
def test_malformed_http_answers_in_the_envelope(front: Any, request_bytes: bytes,
                                                code: str) -> None:
    server = front
    status, headers, body = _raw(server.port, request_bytes)
    assert status == 400, (status, body)
    assert headers["Content-Type"].startswith("application/json")
    assert _code(body) == code
    assert "Malformed" in body["errors"][0]["message"]
    assert server.call("GET", "/server/ping", token=None)[0] == 200
