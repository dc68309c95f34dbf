"""Errors the front server produces carry Directus's JSON envelope (real gunicorn)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.live


def _code(body: Any) -> str:
    assert isinstance(body, dict), body  # JSON, not gunicorn's HTML page
    return body["errors"][0]["extensions"]["code"]


def test_limits_answer_in_the_envelope(live_server: Any) -> None:
    server = live_server()
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
