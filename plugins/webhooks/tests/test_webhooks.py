"""transom-webhooks end to end: a local HTTP server on 127.0.0.1 receives the calls."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from transom_webhooks import get_state
from transom_webhooks.store import Webhook, generic_event

# The plugin's tables are plain SQLAlchemy Core and are checked on every backend by the last
# test (on brand-new databases); the behaviour tests run on SQLite.
pytestmark = pytest.mark.backends("sqlite")

#: Fast retries for tests.
FAST = {"WEBHOOKS_RETRY_BACKOFF": "0.05", "WEBHOOKS_MAX_ATTEMPTS": "3",
        "WEBHOOKS_TIMEOUT": "2"}


class Receiver:
    """What the local server saw; ``/flaky/<n>`` fails n times first, ``/down`` always."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.failures: dict[str, int] = {}
        self.url = ""

    def for_path(self, path: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["path"] == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            with rec.lock:
                rec.calls.append({"path": self.path, "method": self.command,
                                  "at": time.monotonic(),
                                  "headers": dict(self.headers),
                                  "body": json.loads(raw) if raw else None})
                status = 200
                if self.path.startswith("/flaky/"):
                    limit = int(self.path.rsplit("/", 1)[1])
                    seen = rec.failures.get(self.path, 0)
                    if seen < limit:
                        rec.failures[self.path] = seen + 1
                        status = 503
                elif self.path == "/down":
                    status = 500
                elif self.path == "/missing":
                    status = 404
            if self.path == "/slow":
                time.sleep(0.8)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


def make_posts(app: Any) -> None:
    cms = app.extensions["transom"]
    md = sa.MetaData()
    sa.Table("blog_posts", md, sa.Column("id", sa.Integer, primary_key=True,
                                         autoincrement=True),
             sa.Column("title", sa.String(100), nullable=False),
             sa.Column("status", sa.String(20), server_default="draft"))
    sa.Table("other", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("name", sa.String(50)))
    with cms.engine.begin() as conn:
        md.create_all(conn)
    cms.refresh_schema()


def wait(app: Any) -> None:
    assert get_state(app.extensions["transom"]).deliverer.wait_idle(10)


def deliveries(app: Any) -> list[dict[str, Any]]:
    with app.extensions["transom"].connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(
            "SELECT * FROM transom_webhook_deliveries ORDER BY id"))]


@pytest.fixture
def hooked(make_app: Any) -> Any:
    app = make_app(FAST)
    make_posts(app)
    return app


def add_hook(client: Any, auth: dict[str, str], **fields: Any) -> dict[str, Any]:
    resp = client.post("/webhooks", json={"name": "hook", **fields}, headers=auth)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["data"]


# -- configuration ---------------------------------------------------------------------------
def test_crud_is_for_admins(hooked, admin_headers, receiver):
    client = hooked.test_client()
    assert client.get("/webhooks").status_code == 403
    assert client.post("/webhooks", json={"name": "x"}).status_code == 403

    hook = add_hook(client, admin_headers, url=f"{receiver.url}/cdn", events="items.create, "
                    "items.update", collections=["blog_posts"],
                    filter={"status": {"_eq": "published"}},
                    headers=[{"header": "X-Purge-Key", "value": "s3cret"}])
    assert hook["events"] == ["items.create", "items.update"]
    assert hook["collections"] == ["blog_posts"] and hook["method"] == "POST"
    assert hook["headers"] == {"X-Purge-Key": "s3cret"} and hook["status"] == "active"

    assert [h["id"] for h in client.get("/webhooks", headers=admin_headers)
            .get_json()["data"]] == [hook["id"]]
    resp = client.patch(f"/webhooks/{hook['id']}", json={"status": "inactive"},
                        headers=admin_headers)
    assert resp.get_json()["data"]["status"] == "inactive"
    assert resp.get_json()["data"]["url"] == f"{receiver.url}/cdn"

    bad = client.post("/webhooks", json={"name": "", "url": "ftp://x", "events": []},
                      headers=admin_headers)
    assert bad.status_code == 400
    assert {e["extensions"]["field"] for e in bad.get_json()["errors"]} == {
        "name", "url", "events"}
    assert client.get("/webhooks/999", headers=admin_headers).status_code == 403
    assert client.get("/webhooks/abc", headers=admin_headers).status_code == 403
    assert client.delete(f"/webhooks/{hook['id']}", headers=admin_headers).status_code == 204
    assert client.get("/webhooks", headers=admin_headers).get_json() == {"data": []}
    # the plugin's tables are not collections
    assert client.get("/items/transom_webhooks", headers=admin_headers).status_code == 403


def test_event_matching():
    hook = Webhook(1, "h", "http://x", events=("items.create", "users.*", "delete"),
                   collections=())
    assert hook.matches("posts.items.create", "posts")
    assert hook.matches("users.update", "directus_users")
    assert hook.matches("posts.items.delete", "posts")
    assert not hook.matches("posts.items.update", "posts")
    scoped = Webhook(1, "h", "http://x", events=("blog_posts.items.*",),
                     collections=("blog_posts",))
    assert scoped.matches("blog_posts.items.update", "blog_posts")
    assert not scoped.matches("other.items.update", "other")
    assert generic_event("blog_posts.items.update") == "items.update"


# -- delivery --------------------------------------------------------------------------------
def test_matching_committed_changes_are_delivered(hooked, admin_headers, receiver):
    client = hooked.test_client()
    add_hook(client, admin_headers, name="purge", url=f"{receiver.url}/cdn",
             events=["items.create", "items.update"], collections=["blog_posts"],
             filter={"status": {"_eq": "published"}}, headers={"X-Purge-Key": "s3cret"})
    add_hook(client, admin_headers, name="audit", url=f"{receiver.url}/audit", method="PUT",
             events=["delete"])

    draft = client.post("/items/blog_posts", json={"title": "draft"},
                        headers=admin_headers).get_json()["data"]
    client.post("/items/other", json={"name": "x"}, headers=admin_headers)
    wait(hooked)
    assert receiver.calls == []  # a draft does not match the filter; other is not listed

    client.patch(f"/items/blog_posts/{draft['id']}", json={"status": "published"},
                 headers=admin_headers)
    client.post("/items/blog_posts", json={"title": "live", "status": "published"},
                headers=admin_headers)
    client.delete("/items/other/1", headers=admin_headers)
    wait(hooked)
    cdn = receiver.for_path("/cdn")
    assert [c["body"]["event"] for c in cdn] == ["items.update", "items.create"]
    update = cdn[0]
    assert update["method"] == "POST" and update["headers"]["X-Purge-Key"] == "s3cret"
    assert update["headers"]["Content-Type"] == "application/json"
    assert update["body"]["scope"] == "blog_posts.items.update"
    assert update["body"]["keys"] == [draft["id"]]
    assert update["body"]["payload"] == {"status": "published"}
    assert update["body"]["collection"] == "blog_posts"
    assert update["body"]["accountability"]["user"] is not None
    assert cdn[1]["body"]["key"] == draft["id"] + 1
    audit = receiver.for_path("/audit")
    assert len(audit) == 1 and audit[0]["method"] == "PUT"
    assert audit[0]["body"]["event"] == "items.delete"
    assert [d["status"] for d in deliveries(hooked)] == ["success"] * 3


def test_rolled_back_and_inactive_send_nothing(hooked, admin_headers, receiver):
    client = hooked.test_client()
    hook = add_hook(client, admin_headers, url=f"{receiver.url}/all", events=["*"])
    resp = client.post("/items/blog_posts", json=[{"title": "ok"}, {"status": "no title"}],
                       headers=admin_headers)
    assert resp.status_code == 400
    wait(hooked)
    assert receiver.calls == []
    client.patch(f"/webhooks/{hook['id']}", json={"status": "inactive"}, headers=admin_headers)
    client.post("/items/blog_posts", json={"title": "ok"}, headers=admin_headers)
    wait(hooked)
    assert receiver.calls == []


def test_failures_are_retried_with_backoff_and_logged(hooked, admin_headers, receiver):
    client = hooked.test_client()
    flaky = add_hook(client, admin_headers, name="flaky", url=f"{receiver.url}/flaky/2",
                     events=["items.create"])
    down = add_hook(client, admin_headers, name="down", url=f"{receiver.url}/down",
                    events=["items.create"])
    missing = add_hook(client, admin_headers, name="missing", url=f"{receiver.url}/missing",
                       events=["items.create"])
    client.post("/items/blog_posts", json={"title": "t"}, headers=admin_headers)
    wait(hooked)
    flaky_calls = receiver.for_path("/flaky/2")
    assert len(flaky_calls) == 3  # two 503s, then a 200
    gaps = [b["at"] - a["at"] for a, b in zip(flaky_calls, flaky_calls[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # WEBHOOKS_RETRY_BACKOFF, then doubled
    assert len(receiver.for_path("/down")) == 3  # WEBHOOKS_MAX_ATTEMPTS
    assert len(receiver.for_path("/missing")) == 1  # a 404 is final

    def log_of(hook: dict[str, Any]) -> list[tuple[int, str, int | None]]:
        rows = client.get(f"/webhooks/{hook['id']}/deliveries",
                          headers=admin_headers).get_json()["data"]
        return [(r["attempt"], r["status"], r["response_status"]) for r in reversed(rows)]

    assert log_of(flaky) == [(1, "retry", 503), (2, "retry", 503), (3, "success", 200)]
    assert log_of(down) == [(1, "retry", 500), (2, "retry", 500), (3, "failed", 500)]
    assert log_of(missing) == [(1, "failed", 404)]


def test_unreachable_endpoint_is_retried(make_app, admin_headers):
    app = make_app({**FAST, "WEBHOOKS_MAX_ATTEMPTS": "2"})
    make_posts(app)
    client = app.test_client()
    add_hook(client, admin_headers, url="http://127.0.0.1:9/nothing-listens-here",
             events=["items.create"])
    client.post("/items/blog_posts", json={"title": "t"}, headers=admin_headers)
    wait(app)
    rows = deliveries(app)
    assert [(r["attempt"], r["status"]) for r in rows] == [(1, "retry"), (2, "failed")]
    assert rows[0]["response_status"] is None and rows[0]["error"]


def test_deliveries_never_block_the_request(make_app, admin_headers, receiver):
    app = make_app({**FAST, "WEBHOOKS_QUEUE_SIZE": "1"})
    make_posts(app)
    client = app.test_client()
    add_hook(client, admin_headers, url=f"{receiver.url}/slow", events=["items.create"])
    start = time.monotonic()
    for i in range(4):
        resp = client.post("/items/blog_posts", json={"title": f"t{i}"}, headers=admin_headers)
        assert resp.status_code == 200
    assert time.monotonic() - start < 0.8  # one slow call alone would take 0.8 s
    wait(app)
    statuses = [d["status"] for d in deliveries(app)]
    assert "dropped" in statuses and "success" in statuses
    assert len(receiver.for_path("/slow")) == statuses.count("success")


@pytest.mark.backends("sqlite", "postgres", "mysql")
def test_the_tables_are_made_by_a_migration_on_every_backend(fresh_db_url, backend, tmp_path):
    """A brand-new database per backend: bootstrap runs the plugin's migration."""
    from transom import create_app
    from transom.system.bootstrap import bootstrap
    from transom.testing.plugin import ADMIN_TOKEN, base_config

    app = create_app({**base_config(fresh_db_url), **FAST}, env_file=None)
    cms = app.extensions["transom"]
    try:
        result = bootstrap(cms)
        assert "20250601T-webhooks-1" in result["migrations"]
        client = app.test_client()
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        hook = add_hook(client, headers, url="http://127.0.0.1:9/x", events=["items.create"],
                        filter={"a": {"_eq": 1}})
        assert client.get(f"/webhooks/{hook['id']}", headers=headers).get_json()["data"][
            "filter"] == {"a": {"_eq": 1}}
        assert "transom_webhooks" not in cms.schema.collections
    finally:
        cms.close()
