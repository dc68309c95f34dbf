"""Tests through the ``transom.testing`` pytest plugin, installed with ``transom``: ``app``,
``client``, ``admin_headers``, ``make_app(config, plugins, ...)``, ``backend``...

Install the plugin in development mode first (``pip install -e '.[test]'``): the app built by
the fixtures finds it through its entry point, exactly as a deployment would.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import transom_PLUGINNAME as plugin

# Each test runs on SQLite, PostgreSQL and MySQL/MariaDB (servers that are not reachable are
# skipped); keep SQLite only unless the plugin touches SQL itself.
pytestmark = pytest.mark.backends("sqlite")


def test_the_plugin_is_loaded(app):
    assert "PLUGINNAME" in app.extensions["transom"].plugins


def test_settings_are_upper_case_environment_variables(app):
    names = [setting.name for setting in plugin.register_settings()]
    assert names and all(n.isupper() and n.startswith("PLUGINUPPER_") for n in names), names
    assert set(names) <= set(app.extensions["transom"].config.declared())


def test_greeting_is_read_from_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("PLUGINUPPER_GREETING", "from the environment")
    client = make_app().test_client()
    assert client.get("/PLUGINNAME/hello").get_json()["data"]["greeting"] == \
        "from the environment"


def test_hello(make_app, admin_headers):
    client = make_app({"PLUGINUPPER_GREETING": "hi"}).test_client()
    assert client.get("/PLUGINNAME/hello").get_json() == {"data": {"greeting": "hi",
                                                                   "user": None}}
    body = client.get("/PLUGINNAME/hello", headers=admin_headers).get_json()
    assert body["data"]["user"] is not None


def test_filter_refuses_shouting(app, client, admin_headers):
    cms = app.extensions["transom"]
    with cms.engine.begin() as conn:
        sa.Table("notes", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("title", sa.String(100))).create(conn)
    cms.refresh_schema()
    resp = client.post("/items/notes", json={"title": "HELLO THERE"}, headers=admin_headers)
    assert resp.status_code == 400
    resp = client.post("/items/notes", json={"title": "Hello there"}, headers=admin_headers)
    assert resp.status_code == 200
