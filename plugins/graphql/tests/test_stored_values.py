"""Issue #12: a GraphQL read never fails because of a stored value. SQLite (the only
database that lets such values in) with rows written by raw SQL: values a scalar refuses
are converted when nothing is lost, else that one field is null with an
``UNREPRESENTABLE_VALUE`` error naming it, the rest of the item and list intact, and a log
line naming collection, field and key."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.backends("sqlite")


@pytest.fixture
def odd(app: Any, client: Any, admin_headers: dict[str, str]) -> Any:
    r = client.post("/collections", json={"collection": "odd", "fields": [
        {"field": "id", "type": "integer",
         "schema": {"is_primary_key": True, "has_auto_increment": True}},
        {"field": "n", "type": "integer"},
        {"field": "ratio", "type": "float"},
        {"field": "flag", "type": "boolean"},
        {"field": "amount", "type": "decimal",
         "schema": {"numeric_precision": 10, "numeric_scale": 2}},
        {"field": "title", "type": "string"}]}, headers=admin_headers)
    assert r.status_code == 200, r.get_json()
    cms = app.extensions["transom"]
    with cms.engine.begin() as conn:  # behind Transom's back, as a legacy app would
        conn.execute(sa.text(
            "INSERT INTO odd (id, n, ratio, flag, amount, title) VALUES "
            "(1, '42', '3.5', '1', '12.50', 'lossless'), "
            "(2, 'abc', 'x', 'maybe', 'abc', 'odd'), "
            "(3, 7, 1.25, 0, 2, 'plain'), "
            "(4, ' 8 ', '2', 'false', '3.10', 'spaced'), "
            "(5, 9999999999, 2.5, 1, 1, 'wide')"))
    return client


QUERY = "{ odd(sort: [\"id\"]) { id n ratio flag amount title } }"


def test_lossless_values_are_converted(odd, admin_headers):
    r = odd.post("/graphql", json={"query": QUERY}, headers=admin_headers)
    assert r.status_code == 200, r.get_data(True)[:500]
    rows = {row["id"]: row for row in r.get_json()["data"]["odd"]}
    assert rows["1"] == {"id": "1", "n": 42, "ratio": 3.5, "flag": True, "amount": 12.5,
                         "title": "lossless"}
    assert rows["3"] == {"id": "3", "n": 7, "ratio": 1.25, "flag": False, "amount": 2.0,
                         "title": "plain"}
    assert rows["4"] == {"id": "4", "n": 8, "ratio": 2.0, "flag": False, "amount": 3.1,
                         "title": "spaced"}


def test_unrepresentable_values_are_null_with_a_clear_error(odd, admin_headers, caplog):
    with caplog.at_level(logging.WARNING, logger="transom.graphql"):
        r = odd.post("/graphql", json={"query": QUERY}, headers=admin_headers)
    assert r.status_code == 200, r.get_data(True)[:500]
    body = r.get_json()
    rows = body["data"]["odd"]
    assert [row["id"] for row in rows] == ["1", "2", "3", "4", "5"]  # the list is intact
    assert rows[1] == {"id": "2", "n": None, "ratio": None, "flag": None, "amount": None,
                       "title": "odd"}  # the rest of the item too
    assert rows[4]["n"] is None and rows[4]["title"] == "wide"  # beyond Int's 32 bits
    errors = body["errors"]
    assert {tuple(e["path"]) for e in errors} == {
        ("odd", 1, "n"), ("odd", 1, "ratio"), ("odd", 1, "flag"), ("odd", 1, "amount"),
        ("odd", 4, "n")}
    for e in errors:
        assert e["extensions"]["code"] == "UNREPRESENTABLE_VALUE"
        assert e["extensions"]["collection"] == "odd"
        assert e["extensions"]["field"] == e["path"][-1]
        assert f'"odd.{e["path"][-1]}"' in e["message"]
    n_error = next(e for e in errors if e["path"] == ["odd", 1, "n"])
    assert n_error["message"] == \
        'The stored value \'abc\' of "odd.n" can\'t be represented as Int.'
    lines = [rec.getMessage() for rec in caplog.records if "GraphQL" in rec.getMessage()]
    assert any("odd.n" in line and "key 2" in line for line in lines), lines
    assert any("odd.n" in line and "key 5" in line for line in lines), lines


def test_single_item_and_rest_agree(odd, admin_headers):
    r = odd.post("/graphql", json={"query": "{ odd_by_id(id: 2) { id n title } }"},
                 headers=admin_headers)
    body = r.get_json()
    assert body["data"]["odd_by_id"] == {"id": "2", "n": None, "title": "odd"}
    assert body["errors"][0]["extensions"]["code"] == "UNREPRESENTABLE_VALUE"
    rest = odd.get("/items/odd/2?fields=n,title", headers=admin_headers).get_json()["data"]
    assert rest == {"n": "abc", "title": "odd"}  # REST serves it as stored
