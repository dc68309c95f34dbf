"""Tests of the plugin through the ``transom.testing`` fixtures (``make_app``, ``client``,
``admin_headers``...), which come with the ``transom`` package. Install the plugin first
(``pip install -e '.[test]'``): the app finds it through its entry point, as in production."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
import transom_example_visits as visits

# The fixtures run each test on SQLite, PostgreSQL and MySQL/MariaDB, skipping servers that
# are not reachable; this plugin is database-neutral, so SQLite is enough here.
pytestmark = pytest.mark.backends("sqlite")


def make_page_visits(app: Any) -> None:
    cms = app.extensions["transom"]
    md = sa.MetaData()
    sa.Table(visits.COLLECTION, md,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("path", sa.String(255)),
             sa.Column("count", sa.Integer))
    with cms.engine.begin() as conn:
        md.create_all(conn)
    cms.refresh_schema()


def test_found_through_its_entry_point(app):
    info = app.extensions["transom"].plugins["example_visits"]
    assert info.distribution == "transom-example-visits"
    assert "register_blueprints" in info.hooks


def test_stats_visits_sums_counts(app, client, admin_headers):
    make_page_visits(app)
    client.post("/items/page_visits", json=[{"path": "/", "count": 10},
                                            {"path": "/about", "count": 5}],
                headers=admin_headers)
    resp = client.get("/stats/visits", headers=admin_headers)
    assert resp.get_json() == {"data": {"total": 15, "pages": 2}}
    # as the caller: the public policy may not read page_visits
    assert client.get("/stats/visits").status_code == 403


def test_negative_counts_are_rejected_and_changes_counted(app, client, admin_headers):
    make_page_visits(app)
    cms = app.extensions["transom"]
    resp = client.post("/items/page_visits", json={"path": "/", "count": -1},
                       headers=admin_headers)
    assert resp.status_code == 400
    assert resp.get_json()["errors"][0]["extensions"]["code"] == "INVALID_PAYLOAD"
    assert visits.changes(cms) == 0  # nothing was committed, so no action fired
    key = client.post("/items/page_visits", json={"path": "/", "count": 1},
                      headers=admin_headers).get_json()["data"]["id"]
    assert client.patch(f"/items/page_visits/{key}", json={"count": -5},
                        headers=admin_headers).status_code == 400
    client.patch(f"/items/page_visits/{key}", json={"count": 2}, headers=admin_headers)
    assert visits.changes(cms) == 2
