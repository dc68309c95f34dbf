"""Tests of the plugin through the ``transom.testing`` fixtures (``make_app``, ``client``,
``admin_headers``...), which come with the ``transom`` package. Install the plugin first
(``pip install -e '.[test]'``): the app finds it through its entry point, as in production."""

from __future__ import annotations

import json
from typing import Any

import pytest
import transom_example_color as color

# The fixtures run each test on SQLite, PostgreSQL and MySQL/MariaDB, skipping servers that
# are not reachable; the type is stored the same way everywhere, so SQLite is enough here.
pytestmark = pytest.mark.backends("sqlite")


def make_palette(client: Any, headers: dict[str, str]) -> None:
    resp = client.post("/collections", json={"collection": "palette", "fields": [
        {"field": "id", "type": "integer",
         "schema": {"is_primary_key": True, "has_auto_increment": True}},
        {"field": "c", "type": "color"}]}, headers=headers)
    assert resp.status_code == 200, resp.get_json()


def test_found_through_its_entry_point(app):
    cms = app.extensions["transom"]
    info = cms.plugins["example_color"]
    assert info.distribution == "transom-example-color"
    assert "register_field_types" in info.hooks
    assert cms.field_types["color"] is color.COLOR


def test_values_are_normalised_and_validated(client, admin_headers):
    make_palette(client, admin_headers)
    resp = client.post("/items/palette", json={"c": "#ABC"}, headers=admin_headers)
    assert resp.get_json()["data"]["c"] == "#aabbcc"
    resp = client.post("/items/palette", json={"c": "#12345z"}, headers=admin_headers)
    assert resp.status_code == 400
    assert resp.get_json()["errors"][0]["extensions"]["code"] == "FAILED_VALIDATION"


def test_only_equality_operators(client, admin_headers):
    make_palette(client, admin_headers)
    client.post("/items/palette", json={"c": "red"}, headers=admin_headers)
    ok = client.get("/items/palette", query_string={
        "filter": json.dumps({"c": {"_eq": "#FF0000"}})}, headers=admin_headers)
    assert [i["c"] for i in ok.get_json()["data"]] == ["#ff0000"]
    refused = client.get("/items/palette", query_string={
        "filter": json.dumps({"c": {"_gt": "#000000"}})}, headers=admin_headers)
    assert refused.status_code == 400
    assert refused.get_json()["errors"][0]["extensions"]["code"] == "INVALID_QUERY"
