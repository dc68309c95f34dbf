"""The kernel: configuration, the plugin manager, start-up errors, the error envelope."""

from __future__ import annotations

import types

import pytest

from transom import create_app, hookimpl
from transom.config import Config, Setting, parse_duration_ms
from transom.errors import StartupError

pytestmark = pytest.mark.backends("sqlite")


def test_config_env_file_and_overrides(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text("PORT=9000\nQUERY_LIMIT_DEFAULT=25\nLOG_LEVEL=debug\n")
    monkeypatch.setenv("QUERY_LIMIT_DEFAULT", "30")
    cfg = Config.load({"LOG_LEVEL": "warn"}, env_file=env)
    from transom.config import CORE_SETTINGS

    cfg.declare(CORE_SETTINGS)
    assert cfg["PORT"] == 9000  # from .env
    assert cfg["QUERY_LIMIT_DEFAULT"] == 30  # environment beats .env
    assert cfg["LOG_LEVEL"] == "warn"  # explicit config beats both
    assert cfg["HOST"] == "0.0.0.0"


def test_bad_setting_names_the_variable():
    cfg = Config({"PORT": "eighty", "LOG_LEVEL": "loud"})
    with pytest.raises(StartupError) as info:
        from transom.config import CORE_SETTINGS

        cfg.declare(CORE_SETTINGS)
    assert "PORT='eighty'" in str(info.value)
    assert "LOG_LEVEL" in str(info.value)


def test_required_setting_and_durations():
    cfg = Config({})
    with pytest.raises(StartupError, match="MY_TOKEN is required"):
        cfg.declare([Setting("MY_TOKEN", required=True)])
    assert parse_duration_ms("15m") == 900_000
    assert parse_duration_ms("7d") == 604_800_000
    assert parse_duration_ms(500) == 500


def test_unknown_db_client_is_a_startup_error(db_url):
    with pytest.raises(StartupError, match="DB_CLIENT='nosuchdb'"):
        create_app({"DB_CLIENT": "nosuchdb"}, env_file=None)


def test_missing_dialect_names_the_distribution(monkeypatch):
    with pytest.raises(StartupError, match="transom-dialect-mssql"):
        create_app({"DB_URL": "mssql+pyodbc://u:p@localhost/db"}, env_file=None,
                   load_entrypoints=False)


def test_disable_plugins_blocks_entry_points(make_app):
    app = make_app({"TRANSOM_DISABLE_PLUGINS": "auth_jwt,graphql"}, bootstrap=False)
    plugins = app.extensions["transom"].plugins
    assert "auth_jwt" not in plugins and "graphql" not in plugins
    assert "dialect_sqlite" in plugins


def test_allow_list_keeps_dialects(make_app):
    app = make_app({"TRANSOM_PLUGINS": "metrics"}, bootstrap=False)
    names = set(app.extensions["transom"].plugins)
    assert "dialect_sqlite" in names and "dialect_postgres" in names
    assert "auth_jwt" not in names


def test_unknown_hook_is_rejected(make_app):
    bad = types.SimpleNamespace(name="bad_plugin")

    @hookimpl
    def register_widgets() -> None:  # no such hook spec
        return None

    bad.register_widgets = register_widgets
    with pytest.raises(StartupError, match="does not exist"):
        make_app(plugins=[bad], bootstrap=False)


def test_duplicate_plugin_name(make_app):
    mod = types.ModuleType("twice")
    with pytest.raises(StartupError, match="registered twice"):
        make_app(plugins=[mod, mod], bootstrap=False)


def test_error_envelopes(client):
    resp = client.get("/this/route/does/not/exist")
    assert resp.status_code == 404
    assert resp.get_json() == {"errors": [{
        "message": "Route /this/route/does/not/exist doesn't exist.",
        "extensions": {"path": "/this/route/does/not/exist", "code": "ROUTE_NOT_FOUND"}}]}
    resp = client.post("/server/ping")
    assert resp.status_code == 405
    assert resp.get_json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in resp.headers["Allow"]


def test_unexpected_error_hides_details(make_app):
    from flask import Blueprint

    bp = Blueprint("boom", __name__)

    @bp.get("/boom")
    def boom():
        raise RuntimeError("SELECT secret FROM somewhere")

    plugin = types.SimpleNamespace(name="boom_plugin")
    plugin.register_blueprints = hookimpl(lambda cms: bp)
    client = make_app(plugins=[plugin]).test_client()
    resp = client.get("/boom")
    assert resp.status_code == 500
    body = resp.get_data(as_text=True)
    assert "SELECT" not in body and "RuntimeError" not in body
    assert resp.get_json() == {"errors": [{"message": "An unexpected error occurred.",
                                           "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}


def test_server_routes(client, admin_headers):
    assert client.get("/server/ping").get_data(as_text=True) == "pong"
    resp = client.get("/server/health")
    assert resp.status_code == 200
    assert resp.mimetype == "application/health+json"
    assert resp.get_json() == {"status": "ok"}
    for path in ("/server/health",):  # /status: tests/live/test_live_status.py
        body = client.get(path, headers=admin_headers).get_json()
        assert body["status"] == "ok"
        assert "sqlite:responseTime" in body["checks"]
    info = client.get("/server/info").get_json()["data"]
    assert set(info) == {"project", "setupCompleted"}
    assert info["project"]["project_name"] == "Transom"
    assert "version" in client.get("/server/info", headers=admin_headers).get_json()["data"]


def test_health_is_503_when_database_is_down(app, client):
    cms = app.extensions["transom"]
    cms.engine.dispose()
    import sqlalchemy as sa

    cms.engine = sa.create_engine("sqlite:////nonexistent-dir/x.db")
    resp = client.get("/server/health")
    assert resp.status_code == 503
    assert resp.get_json() == {"status": "error"}


def test_schema_changes_outside_transom_are_picked_up(make_app, admin_headers):
    import time

    app = make_app({"SCHEMA_REFRESH_INTERVAL": "0.1"})
    cms = app.extensions["transom"]
    cms.watch_schema()
    try:
        with cms.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
            conn.exec_driver_sql("INSERT INTO notes (id, body) VALUES (1, 'hi')")
        deadline = time.monotonic() + 5
        while cms.schema.get("notes") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        resp = app.test_client().get("/items/notes", headers=admin_headers)
        assert resp.get_json() == {"data": [{"id": 1, "body": "hi"}]}
    finally:
        cms.close()


def test_a_failing_schema_check_logs_its_traceback_once(make_app, caplog, monkeypatch):
    """An outage logs one traceback, then a line per poll at debug, then "recovered"."""
    import logging
    import time

    app = make_app({"SCHEMA_REFRESH_INTERVAL": "0.05"})
    cms = app.extensions["transom"]
    calls = {"n": 0}

    def check() -> None:
        calls["n"] += 1
        if calls["n"] <= 4:
            raise RuntimeError("database away")

    monkeypatch.setattr(cms, "check_catalogue", check)
    with caplog.at_level(logging.DEBUG, logger="transom"):
        cms.watch_schema()
        try:
            deadline = time.monotonic() + 10
            while calls["n"] < 6 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            cms.close()
    records = [r for r in caplog.records if "schema check" in r.getMessage()]
    tracebacks = [r for r in records if r.exc_info]
    assert calls["n"] >= 6 and len(tracebacks) == 1
    assert tracebacks[0].levelno == logging.WARNING
    assert [r.getMessage() for r in records if r.levelno == logging.DEBUG] == \
        ["schema check still failing: database away"] * 3
    assert [r.getMessage() for r in records if r.levelno == logging.INFO] == \
        ["schema check recovered"]

