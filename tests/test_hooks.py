"""One test per core hook spec, each through a small fixture plugin (no mocks)."""

from __future__ import annotations

import types
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Blueprint

from transom import hookimpl
from transom.accountability import Accountability
from transom.config import Setting
from transom.errors import InvalidPayloadError, StartupError
from transom.events import Filter, Listener
from transom.health import HealthCheck
from transom.http.pipeline import RequestStep
from transom.permissions.rules import Rule
from transom.system.migrations import Migration

pytestmark = pytest.mark.backends("sqlite")


def plugin(name: str, **hooks: Any) -> types.SimpleNamespace:
    """A plugin object whose attributes are hook implementations."""
    ns = types.SimpleNamespace(name=name)
    for hook_name, fn in hooks.items():
        setattr(ns, hook_name, hookimpl(fn) if not hasattr(fn, "transom_impl") else fn)
    return ns


def make_articles(app: Any) -> None:
    cms = app.extensions["transom"]
    with cms.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE articles (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                             "title VARCHAR(100) NOT NULL, slug VARCHAR(100), "
                             "status VARCHAR(20) DEFAULT 'draft')")
        conn.exec_driver_sql("INSERT INTO articles (title, status) VALUES "
                             "('one', 'published'), ('two', 'draft')")
    cms.refresh_schema()


def test_hook_add_hookspecs(make_app):
    specs = types.ModuleType("my_specs")
    marker = __import__("pluggy").HookspecMarker("transom")

    @marker
    def my_plugin_greeting(name):
        """A plugin-owned hook."""

    specs.my_plugin_greeting = my_plugin_greeting
    owner = plugin("owner", add_hookspecs=lambda pm: pm.add_hookspecs(specs))
    other = plugin("other", my_plugin_greeting=lambda name: f"hello {name}")
    app = make_app(plugins=[owner, other], bootstrap=False)
    assert app.extensions["transom"].hook.my_plugin_greeting(name="ada") == ["hello ada"]


def test_hook_register_settings(make_app):
    p = plugin("settings", register_settings=lambda: [Setting("MY_LIMIT", 5, "int")])
    app = make_app({"MY_LIMIT": "12"}, plugins=[p], bootstrap=False)
    assert app.extensions["transom"].config["MY_LIMIT"] == 12
    with pytest.raises(StartupError, match="MY_LIMIT"):
        make_app({"MY_LIMIT": "twelve"}, plugins=[plugin("settings2", register_settings=lambda:
                 [Setting("MY_LIMIT", 5, "int")])], bootstrap=False)


def test_hook_register_dialects(make_app, db_url):
    from transom_dialect_sqlite.dialect import SQLiteDialect

    class RenamedSQLite(SQLiteDialect):
        name = "renamed"
        distribution = "transom-dialect-renamed"
        db_clients = ("renamed-sqlite",)
        url_schemes = ()

    p = plugin("renamed", register_dialects=lambda: [RenamedSQLite])
    app = make_app({"DB_URL": "", "DB_CLIENT": "renamed-sqlite",
                    "DB_FILENAME": db_url.database}, plugins=[p], bootstrap=False)
    assert app.extensions["transom"].dialect.name == "renamed"

    clash = type("Clash", (SQLiteDialect,), {"distribution": "transom-dialect-clash"})
    with pytest.raises(StartupError, match="both claim"):
        make_app(plugins=[plugin("clash", register_dialects=lambda: [clash])], bootstrap=False)


def test_hook_prepare_connection(make_app):
    def prepare(cms, connection, dialect):
        connection.create_function("shout", 1, lambda s: (s or "").upper())

    app = make_app(plugins=[plugin("fn", prepare_connection=prepare)], bootstrap=False)
    with app.extensions["transom"].connect() as conn:
        assert conn.execute(sa.text("SELECT shout('hi')")).scalar_one() == "HI"


def test_hook_extend_schema(make_app, client=None):
    overlay = {"fields": [{"collection": "articles", "field": "title",
                           "interface": "input-rich-text-md", "special": None}],
               "collections": [{"collection": "articles", "icon": "article", "singleton": False,
                                "accountability": "all"}]}
    app = make_app(plugins=[plugin("overlay", extend_schema=lambda cms, schema: overlay)])
    make_articles(app)
    coll = app.extensions["transom"].schema.get("articles")
    assert coll.fields["title"].meta["interface"] == "input-rich-text-md"
    assert coll.meta["icon"] == "article"


def test_hook_register_migrations(make_app):
    def up(conn, dialect):
        conn.exec_driver_sql("CREATE TABLE my_plugin_log (id INTEGER PRIMARY KEY, msg TEXT)")

    p = plugin("migr", register_migrations=lambda cms: [Migration("20990101M", "log", up)])
    app = make_app(plugins=[p])
    cms = app.extensions["transom"]
    with cms.connect() as conn:
        versions = {r[0] for r in conn.exec_driver_sql("SELECT version FROM directus_migrations")}
        conn.exec_driver_sql("SELECT COUNT(*) FROM my_plugin_log")
    assert "20990101M" in versions
    from transom.system.bootstrap import bootstrap

    assert bootstrap(cms)["migrations"] == []  # idempotent


def test_hook_register_blueprints(make_app):
    bp = Blueprint("hello", __name__)
    bp.get("/hello")(lambda: {"data": "hi"})
    app = make_app(plugins=[plugin("hello", register_blueprints=lambda cms: (bp, "/ext"))],
                   bootstrap=False)
    assert app.test_client().get("/ext/hello").get_json() == {"data": "hi"}
    bp2 = Blueprint("transom_items", __name__)
    with pytest.raises(StartupError, match="transom_items"):
        make_app(plugins=[plugin("clash", register_blueprints=lambda cms: bp2)],
                 bootstrap=False)


def test_hook_init_app(make_app):
    def init(cms, app):
        app.extensions["transom_demo"] = {"kernel": cms}

    app = make_app(plugins=[plugin("demo", init_app=init)], bootstrap=False)
    assert app.extensions["transom_demo"]["kernel"] is app.extensions["transom"]


def test_hook_register_request_steps(make_app):
    seen: list[str] = []

    def steps(cms):
        # given out of order: the declarations decide
        return [
            RequestStep("audit", before=lambda: seen.append("audit"),
                        runs_after=("tenant", "rate_limit")),
            RequestStep("tenant", before=lambda: seen.append("tenant"),
                        after=lambda resp: seen.append("after") or resp,
                        requires=("request_id",), runs_before=("missing",)),
        ]

    def init(cms, app):
        app.before_request(lambda: seen.append("plugin before_request"))

    app = make_app(plugins=[plugin("steps", register_request_steps=steps, init_app=init)],
                   bootstrap=False)
    names = [f.__name__ for f in app.before_request_funcs[None]]
    assert names[:4] == ["transom_messenger_sync", "step_request_id", "step_tenant",
                         "step_audit"]
    app.test_client().get("/server/ping")
    assert seen == ["tenant", "audit", "plugin before_request", "after"]

    def cycle(cms):
        return [RequestStep("a", before=lambda: None, runs_after=("b",)),
                RequestStep("b", before=lambda: None, requires=("c",)),
                RequestStep("c", before=lambda: None, runs_before=("b",), runs_after=("a",))]

    with pytest.raises(StartupError, match=r"'a', 'b', 'c'.*cycle"):
        make_app(plugins=[plugin("cycle", register_request_steps=cycle)], bootstrap=False)
    with pytest.raises(StartupError, match="requires the step 'nope'"):
        make_app(plugins=[plugin("needy", register_request_steps=lambda cms: RequestStep(
            "needy", before=lambda: None, requires=("nope",)))], bootstrap=False)
    with pytest.raises(StartupError, match="Two request steps are named 'request_id'"):
        make_app(plugins=[plugin("twin", register_request_steps=lambda cms: RequestStep(
            "request_id", before=lambda: None))], bootstrap=False)


def test_hook_accountability_from_request(make_app):
    def resolve(cms, request):
        if request.headers.get("X-Api-Key") == "let-me-in":
            return Accountability(admin=True, app=True)
        return None

    app = make_app(plugins=[plugin("apikey", accountability_from_request=resolve)])
    client = app.test_client()
    assert "checks" not in client.get("/server/health").get_json()
    body = client.get("/server/health", headers={"X-Api-Key": "let-me-in"}).get_json()
    assert "checks" in body


def test_hook_permission_rules(make_app):
    def rules(cms, accountability, action, collection):
        if collection == "articles" and action == "read" and accountability.is_anonymous:
            return Rule("articles", "read", {"status": {"_eq": "published"}},
                        frozenset({"id", "title"}), reason="public reads published")
        return None

    app = make_app(plugins=[plugin("public", permission_rules=rules)])
    make_articles(app)
    client = app.test_client()
    assert client.get("/items/articles").get_json() == {"data": [{"id": 1, "title": "one"}]}
    assert client.get("/items/articles?fields=status").status_code == 403
    assert client.post("/items/articles", json={"title": "x"}).status_code == 403


def test_hook_register_filters(make_app, admin_headers):
    def slug(payload, meta, context):
        if payload.get("title") == "forbidden":
            raise InvalidPayloadError("No forbidden titles")
        return {**payload, "slug": payload.get("title", "").lower().replace(" ", "-")}

    app = make_app(plugins=[plugin("slug", register_filters=lambda cms: [
        Filter("articles.items.create", slug)])])
    make_articles(app)
    client = app.test_client()
    resp = client.post("/items/articles", json={"title": "Hello World"}, headers=admin_headers)
    assert resp.status_code == 200 and resp.get_json()["data"]["slug"] == "hello-world"
    resp = client.post("/items/articles", json=[{"title": "ok"}, {"title": "forbidden"}],
                       headers=admin_headers)
    assert resp.status_code == 400
    titles = [a["title"] for a in client.get("/items/articles", headers=admin_headers)
              .get_json()["data"]]
    assert "ok" not in titles  # the whole batch rolled back


def test_hook_register_listeners(make_app, admin_headers):
    seen: list[Any] = []

    def on_create(meta, context):
        seen.append((meta["event"], meta["key"]))

    app = make_app(plugins=[plugin("listen", register_listeners=lambda cms: [
        Listener("items.create", on_create)])])
    make_articles(app)
    client = app.test_client()
    client.post("/items/articles", json={"title": "three"}, headers=admin_headers)
    assert seen == [("articles.items.create", 3)]
    client.post("/items/articles", json=[{"title": "a"}, {"title": None}],
                headers=admin_headers)
    assert len(seen) == 1  # the failed batch fired nothing


def test_hook_register_health_checks(make_app):
    def broken() -> None:
        raise ConnectionError("bucket unreachable")

    p = plugin("storage", register_health_checks=lambda cms: HealthCheck(
        "storage:s3:responseTime", broken, "storage", required=True))
    client = make_app(plugins=[p]).test_client()
    resp = client.get("/server/health")
    assert resp.status_code == 503 and resp.get_json() == {"status": "error"}
    p2 = plugin("optional", register_health_checks=lambda cms: HealthCheck(
        "email:connection", broken, "email", required=False))
    assert make_app(plugins=[p2]).test_client().get("/server/health").get_json() == {
        "status": "warn"}


def test_hook_send_email(make_app):
    sent: list[Any] = []
    p = plugin("mailer", send_email=lambda cms, message: sent.append(message) or True)
    app = make_app(plugins=[p], bootstrap=False)
    cms = app.extensions["transom"]
    assert cms.hook.send_email(cms=cms, message={"to": "a@example.com"}) is True
    assert sent == [{"to": "a@example.com"}]
    assert not cms.extensions.get("sent_mail")  # the log transport did not answer


def test_hook_startup(make_app):
    calls: list[str] = []
    make_app(plugins=[plugin("s", startup=lambda cms: calls.append(cms.dialect.name))],
             bootstrap=False)
    assert calls == ["sqlite"]


def test_hook_shutdown(make_app):
    calls: list[str] = []
    app = make_app(plugins=[plugin("s", shutdown=lambda cms: calls.append("closed"))],
                   bootstrap=False)
    app.extensions["transom"].close()
    assert calls == ["closed"]


def test_hook_register_commands(monkeypatch):
    import click

    from transom import logs
    from transom.cli import cli

    def add(cli):
        @cli.command("hello-plugin")
        def hello() -> None:
            click.echo("hello from a plugin")

    import pluggy

    from transom import hookspecs

    pm = pluggy.PluginManager("transom")
    pm.add_hookspecs(hookspecs)
    pm.register(plugin("cmd", register_commands=add))
    pm.hook.register_commands(cli=cli)
    # The group callback sets CONFIG_ENV_FILE and moves logs to stderr for the process;
    # restore both so later tests see the defaults.
    monkeypatch.setenv("CONFIG_ENV_FILE", ".env")
    monkeypatch.setattr(logs, "_target", logs._target)
    result = CliRunner().invoke(cli, ["hello-plugin"])
    assert result.exit_code == 0 and "hello from a plugin" in result.output


def test_hook_handle_exception(make_app):
    from flask import jsonify

    def handle(cms, request, exception):
        if isinstance(exception, ZeroDivisionError):
            return jsonify({"errors": [{"message": "math", "extensions": {"code": "MATH"}}]}), 418
        return None

    bp = Blueprint("div", __name__)
    bp.get("/div")(lambda: {"data": 1 / 0})
    app = make_app(plugins=[plugin("h", handle_exception=handle,
                                   register_blueprints=lambda cms: bp)], bootstrap=False)
    resp = app.test_client().get("/div")
    assert resp.status_code == 418 and resp.get_json()["errors"][0]["extensions"]["code"] == "MATH"
    assert app.test_client().get("/nope").status_code == 404
