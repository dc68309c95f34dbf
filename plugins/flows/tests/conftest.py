"""Fixtures for transom-flows: an ``articles`` collection, flows built over the REST API, and
a tiny HTTP server on 127.0.0.1 for the request operation."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from transom.testing.plugin import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

ARTICLES = {"collection": "articles", "schema": {}, "fields": [
    {"field": "id", "type": "integer",
     "schema": {"is_primary_key": True, "has_auto_increment": True}},
    {"field": "title", "type": "string"},
    {"field": "status", "type": "string"}]}
AUDIT = {"collection": "audit", "schema": {}, "fields": [
    {"field": "id", "type": "integer",
     "schema": {"is_primary_key": True, "has_auto_increment": True}},
    {"field": "note", "type": "string"},
    {"field": "ref", "type": "integer"}]}


class Api:
    """The Flask test client with the admin token; ``ok`` asserts a 2xx answer."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def call(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> Any:
        return self.client.open(path, method=method, json=body,
                                headers=AUTH if headers is None else headers)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        r = self.call(method, path, body)
        assert 200 <= r.status_code < 300, (method, path, r.status_code, r.get_data(True))
        return r.get_json()["data"] if r.status_code != 204 else None


def build_flow(call: Callable[[str, str, Any], Any], flow: dict[str, Any],
               operations: list[dict[str, Any]]) -> dict[str, Any]:
    """Create ``flow`` and its ``operations`` (``resolve``/``reject`` name other operations'
    keys; the first operation is the flow's first step). Returns ids by key and the flow id."""
    flow_id = call("POST", "/flows", {"status": "active", "accountability": "all", **flow})["id"]
    ids: dict[str, str] = {}
    for i, op in enumerate(operations):
        body = {k: v for k, v in op.items() if k not in ("resolve", "reject")}
        created = call("POST", "/operations", {"position_x": i * 20, "position_y": 1,
                                               "flow": flow_id, "options": {}, **body})
        ids[op["key"]] = created["id"]
    for op in operations:
        links = {link: ids[op[link]] for link in ("resolve", "reject") if op.get(link)}
        if links:
            call("PATCH", f"/operations/{ids[op['key']]}", links)
    if operations:
        call("PATCH", f"/flows/{flow_id}", {"operation": ids[operations[0]["key"]]})
    return {"id": flow_id, "ops": ids}


@pytest.fixture
def make_api(make_app: Callable[..., Any]) -> Callable[..., Api]:
    """An app (with ``config``) holding ``articles`` and ``audit``, and its client."""
    def factory(config: dict[str, Any] | None = None) -> Api:
        app = make_app(config)
        client = Api(app.test_client())
        client.ok("POST", "/collections", ARTICLES)
        client.ok("POST", "/collections", AUDIT)
        client.app = app  # type: ignore[attr-defined]
        return client
    return factory


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


@pytest.fixture
def flow(api: Api) -> Callable[..., dict[str, Any]]:
    def make(flow: dict[str, Any], operations: list[dict[str, Any]]) -> dict[str, Any]:
        return build_flow(api.ok, flow, operations)
    return make


class Receiver:
    """What the local HTTP server received; it answers JSON, or 500 on ``/fail``."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.url = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            rec.calls.append({"path": self.path, "method": self.command,
                              "headers": dict(self.headers),
                              "body": json.loads(raw) if raw else None})
            status = 500 if self.path == "/fail" else 200
            out = json.dumps({"echo": rec.calls[-1]["body"], "path": self.path}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = do_PATCH = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def flow_builder() -> Callable[..., dict[str, Any]]:
    """:func:`build_flow`, for tests that drive another client (the live server)."""
    return build_flow
