"""Lifecycle events with Directus's names, through fixture plugins (no mocks).

Filters change or cancel writes from REST and GraphQL alike, inside the transaction; actions
fire once per committed change and never for a rolled-back one; reads, logins, schema
changes, server start and stop, and cron schedules.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import threading
import time
import types
from typing import Any

import pytest
import sqlalchemy as sa

from transom import hookimpl
from transom.errors import InvalidPayloadError, StartupError
from transom.events import Filter, Listener, Schedule
from transom.testing.plugin import ADMIN_EMAIL, ADMIN_PASSWORD


def plugin(name: str, **hooks: Any) -> types.SimpleNamespace:
    ns = types.SimpleNamespace(name=name)
    for hook_name, fn in hooks.items():
        setattr(ns, hook_name, hookimpl(fn))
    return ns


def make_posts(app: Any) -> None:
    """``posts`` (title required) and ``tags``, made with portable DDL."""
    cms = app.extensions["transom"]
    md = sa.MetaData()
    sa.Table("posts", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("title", sa.String(100), nullable=False),
             sa.Column("slug", sa.String(100)),
             sa.Column("status", sa.String(20), server_default="draft"))
    sa.Table("tags", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("name", sa.String(50)))
    with cms.engine.begin() as conn:
        md.create_all(conn)
    cms.refresh_schema()


class Recorder:
    """Collects (event, meta) pairs from listeners and filters."""

    def __init__(self) -> None:
        self.actions: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def listener(self, meta: dict[str, Any], context: Any) -> None:
        with self.lock:
            self.actions.append((meta["event"], meta))

    def events(self, prefix: str = "") -> list[str]:
        return [e for e, _ in self.actions if e.startswith(prefix)]


def slug_filter(payload: dict[str, Any], meta: dict[str, Any], context: Any) -> dict[str, Any]:
    """Adds a slug; refuses the title "forbidden"; checks it runs inside the transaction."""
    assert context.connection is not None and context.connection.in_transaction()
    title = payload.get("title")
    if title == "forbidden":
        raise InvalidPayloadError("Title is forbidden")
    if title:
        return {**payload, "slug": title.lower().replace(" ", "-")}
    return payload


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def events_app(make_app: Any, recorder: Recorder) -> Any:
    hooks = plugin(
        "events_fixture",
        register_filters=lambda cms: [Filter("posts.items.create", slug_filter),
                                      Filter("posts.items.update", slug_filter),
                                      Filter("posts.items.delete", _refuse_delete_of_1)],
        register_listeners=lambda cms: [Listener("items.*", recorder.listener)],
    )
    app = make_app(plugins=[hooks])
    make_posts(app)
    return app


def _refuse_delete_of_1(keys: list[Any], meta: dict[str, Any], context: Any) -> list[Any]:
    if any(str(k) == "1" for k in keys):
        raise InvalidPayloadError("Post 1 is pinned")
    return keys


def _titles(client: Any, headers: dict[str, str]) -> list[str]:
    body = client.get("/items/posts?sort=id&fields=title", headers=headers).get_json()
    return [p["title"] for p in body["data"]]


# -- filters: REST ---------------------------------------------------------------------------
def test_filters_modify_and_reject_rest_writes(events_app, admin_headers, recorder):
    client = events_app.test_client()
    resp = client.post("/items/posts", json={"title": "Hello World"}, headers=admin_headers)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["data"]["slug"] == "hello-world"

    resp = client.patch("/items/posts/1", json={"title": "New Title"}, headers=admin_headers)
    assert resp.get_json()["data"]["slug"] == "new-title"

    resp = client.post("/items/posts", json={"title": "forbidden"}, headers=admin_headers)
    assert resp.status_code == 400
    err = resp.get_json()["errors"][0]
    assert err["extensions"]["code"] == "INVALID_PAYLOAD"
    assert "Title is forbidden" in err["message"]

    resp = client.patch("/items/posts/1", json={"title": "forbidden"}, headers=admin_headers)
    assert resp.status_code == 400
    resp = client.delete("/items/posts/1", headers=admin_headers)
    assert resp.status_code == 400
    assert _titles(client, admin_headers) == ["New Title"]  # nothing was written


# -- filters: GraphQL ------------------------------------------------------------------------
def _has_graphql(app: Any) -> bool:
    if importlib.util.find_spec("transom_graphql") is None:
        return False
    return any(r.rule == "/graphql" for r in app.url_map.iter_rules())


def test_filters_modify_and_reject_graphql_writes(events_app, admin_headers, recorder):
    if not _has_graphql(events_app):
        pytest.skip("transom_graphql provides no /graphql endpoint")
    client = events_app.test_client()

    def gql(query: str) -> Any:
        return client.post("/graphql", json={"query": query}, headers=admin_headers).get_json()

    body = gql('mutation { create_posts_item(data: {title: "From GraphQL"}) { id slug } }')
    assert body["data"]["create_posts_item"]["slug"] == "from-graphql", body
    body = gql('mutation { create_posts_item(data: {title: "forbidden"}) { id } }')
    assert body["errors"][0]["extensions"]["code"] == "INVALID_PAYLOAD"
    body = gql('mutation { update_posts_item(id: 1, data: {title: "forbidden"}) { id } }')
    assert body["errors"][0]["extensions"]["code"] == "INVALID_PAYLOAD"
    body = gql('mutation { create_posts_items(data: [{title: "ok"}, {title: "forbidden"}]) '
               '{ id } }')
    assert "errors" in body
    assert _titles(client, admin_headers) == ["From GraphQL"]
    assert recorder.events("posts.items.create") == ["posts.items.create"]


# -- actions: once per committed change ------------------------------------------------------
def test_actions_fire_once_per_committed_change(events_app, admin_headers, recorder):
    client = events_app.test_client()
    resp = client.post("/items/posts", json=[{"title": "a"}, {"title": "b"}],
                       headers=admin_headers)
    assert resp.status_code == 200
    creates = [m for e, m in recorder.actions if e == "posts.items.create"]
    assert sorted(m["key"] for m in creates) == [1, 2]
    assert creates[0]["payload"]["title"] == "a" and creates[0]["collection"] == "posts"

    client.patch("/items/posts/1", json={"status": "published"}, headers=admin_headers)
    updates = [m for e, m in recorder.actions if e == "posts.items.update"]
    assert len(updates) == 1 and updates[0]["keys"] == [1]

    client.delete("/items/posts/2", headers=admin_headers)
    deletes = [m for e, m in recorder.actions if e == "posts.items.delete"]
    assert len(deletes) == 1 and [str(k) for k in deletes[0]["keys"]] == ["2"]
    writes = [e for e in recorder.events("posts.items.") if not e.endswith(".read")]
    assert len(writes) == 4  # the read-backs of the responses fire items.read, as in Directus


def test_actions_never_fire_for_a_rolled_back_change(events_app, admin_headers, recorder):
    client = events_app.test_client()
    # the second item fails in a filter: the first is rolled back and fires nothing
    resp = client.post("/items/posts", json=[{"title": "ok"}, {"title": "forbidden"}],
                       headers=admin_headers)
    assert resp.status_code == 400
    # the second item fails in the database (NOT NULL): same
    resp = client.post("/items/posts", json=[{"title": "fine"}, {"slug": "no-title"}],
                       headers=admin_headers)
    assert resp.status_code == 400
    assert recorder.actions == []
    # a batch update whose second key fails in a filter
    client.post("/items/posts", json={"title": "one"}, headers=admin_headers)
    client.post("/items/posts", json={"title": "two"}, headers=admin_headers)
    recorder.actions.clear()
    resp = client.patch("/items/posts", json=[{"id": 1, "title": "uno"},
                                              {"id": 2, "title": "forbidden"}],
                        headers=admin_headers)
    assert resp.status_code == 400
    assert recorder.actions == []
    assert _titles(client, admin_headers) == ["one", "two"]


def test_a_failing_action_never_fails_the_request(make_app, admin_headers, caplog):
    def boom(meta, context):
        raise RuntimeError("listener exploded")

    app = make_app(plugins=[plugin("boom", register_listeners=lambda cms: [
        Listener("posts.items.create", boom)])])
    make_posts(app)
    with caplog.at_level("ERROR", logger="transom.events"):
        resp = app.test_client().post("/items/posts", json={"title": "x"},
                                      headers=admin_headers)
    assert resp.status_code == 200
    assert "listener exploded" in caplog.text


@pytest.mark.backends("sqlite")
def test_actions_run_in_the_background_outside_tests(make_app, admin_headers):
    done = threading.Event()

    def slow(meta, context):
        time.sleep(0.6)
        done.set()

    app = make_app({"TESTING": "false", "SCHEMA_REFRESH_INTERVAL": "0", "SCHEDULER": "false"},
                   plugins=[plugin("slow", register_listeners=lambda cms: [
                       Listener("posts.items.create", slow)])])
    make_posts(app)
    start = time.monotonic()
    resp = app.test_client().post("/items/posts", json={"title": "x"}, headers=admin_headers)
    assert resp.status_code == 200
    assert time.monotonic() - start < 0.5  # the request did not wait for the listener
    assert done.wait(5)


# -- reads -----------------------------------------------------------------------------------
def test_read_actions(events_app, admin_headers, recorder):
    client = events_app.test_client()
    client.post("/items/posts", json={"title": "a"}, headers=admin_headers)
    recorder.actions.clear()
    client.get("/items/posts", headers=admin_headers)
    reads = [m for e, m in recorder.actions if e == "posts.items.read"]
    assert len(reads) == 1
    assert [p["title"] for p in reads[0]["payload"]] == ["a"]
    assert reads[0]["collection"] == "posts"


def test_query_filter_can_narrow_reads(make_app, admin_headers):
    def only_published(query, meta, context):
        return query.copy(filter={"status": {"_eq": "published"}})

    app = make_app(plugins=[plugin("q", register_filters=lambda cms: [
        Filter("posts.items.query", only_published)])])
    make_posts(app)
    client = app.test_client()
    client.post("/items/posts", json=[{"title": "a", "status": "published"}, {"title": "b"}],
                headers=admin_headers)
    assert _titles(client, admin_headers) == ["a"]


# -- auth.login ------------------------------------------------------------------------------
def test_auth_login_filter_and_action(make_app, recorder):
    if importlib.util.find_spec("transom_auth_jwt") is None:
        pytest.skip("transom-auth-jwt is not installed")

    def refuse(payload, meta, context):
        if payload.get("mode") == "cookie":
            raise InvalidPayloadError("No cookies here")
        return payload

    app = make_app(plugins=[plugin("logins",
                                   register_filters=lambda cms: [Filter("auth.login", refuse)],
                                   register_listeners=lambda cms: [
                                       Listener("auth.login", recorder.listener)])])
    client = app.test_client()
    if not any(r.rule == "/auth/login" for r in app.url_map.iter_rules()):
        pytest.skip("transom-auth-jwt serves no /auth/login")
    resp = client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert resp.status_code == 200
    resp = client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": "wrong"})
    assert resp.status_code == 401
    resp = client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD,
                                            "mode": "cookie"})
    assert resp.status_code == 400
    statuses = [m["status"] for e, m in recorder.actions if e == "auth.login"]
    assert statuses == ["success", "fail"]
    assert all("password" not in m["payload"] for _, m in recorder.actions)


# -- schema, server --------------------------------------------------------------------------
def test_schema_changed_fires_when_the_schema_changes(make_app, recorder):
    app = make_app(plugins=[plugin("schema", register_listeners=lambda cms: [
        Listener("schema.changed", recorder.listener)])])
    cms = app.extensions["transom"]
    recorder.actions.clear()
    cms.refresh_schema()
    assert recorder.actions == []  # same version: nothing
    make_posts(app)
    assert recorder.events() == ["schema.changed"]
    assert recorder.actions[0][1]["version"] == cms.schema.version


def test_server_start_and_stop(make_app, recorder):
    app = make_app(plugins=[plugin("life", register_listeners=lambda cms: [
        Listener("server.*", recorder.listener)])], bootstrap=False)
    assert recorder.events() == ["server.start"]
    app.extensions["transom"].close()
    assert recorder.events() == ["server.start", "server.stop"]


# -- schedules -------------------------------------------------------------------------------
@pytest.mark.backends("sqlite")
def test_hook_register_schedules(make_app):
    seen: list[Any] = []

    def job(context):
        seen.append((context.extra["schedule"], context.cms is not None))

    def broken(context):
        raise RuntimeError("job failed")

    app = make_app(plugins=[plugin("jobs", register_schedules=lambda cms: [
        Schedule("*/5 * * * *", job, name="every-five"),
        Schedule("30 0 3 * * *", broken, name="nightly")])], bootstrap=False)
    scheduler = app.extensions["transom"].extensions["scheduler"]
    assert not scheduler.running  # never started under TESTING unless asked
    assert [j.name for j in scheduler.jobs] == ["every-five", "nightly"]

    tz = dt.datetime.now().astimezone().tzinfo
    base = dt.datetime(2030, 1, 1, 2, 59, 0, tzinfo=tz)
    for j in scheduler.jobs:
        j.next_at = _next(j.schedule.cron, base)
    assert scheduler.run_pending(base) == []
    assert scheduler.run_pending(base + dt.timedelta(minutes=1)) == ["every-five"]
    assert scheduler.run_pending(base + dt.timedelta(minutes=1, seconds=30)) == ["nightly"]
    assert seen == [("every-five", True)]  # the failing job was logged, nothing raised

    with pytest.raises(StartupError, match="bad-cron"):
        make_app(plugins=[plugin("bad", register_schedules=lambda cms: Schedule(
            "every day", job, name="bad-cron"))], bootstrap=False)


def _next(cron: str, after: dt.datetime) -> dt.datetime:
    from transom.schedule import next_time

    return next_time(cron, after)


@pytest.mark.backends("sqlite")
def test_scheduler_thread_runs_jobs_when_asked(make_app):
    ran = threading.Event()
    app = make_app({"SCHEDULER": "true"}, plugins=[plugin("tick", register_schedules=lambda cms:
                   [Schedule("* * * * * *", lambda context: ran.set(), name="tick")])],
                   bootstrap=False)
    cms = app.extensions["transom"]
    scheduler = cms.extensions["scheduler"]
    assert scheduler.running
    assert ran.wait(3)
    cms.close()
    assert not scheduler.running
