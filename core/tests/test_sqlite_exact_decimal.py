"""Issue #12: decimals read back exactly what was written, compare, sort and aggregate as
numbers, on SQLite (text storage, ``DECIMAL_TEXT``), PostgreSQL and MariaDB alike."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

BIG = "12345678901234567890.12345"
#: written -> read back, on a decimal(25, 5) field
VALUES = [
    (BIG, BIG),
    ("-" + BIG, "-" + BIG),
    ("0", "0.00000"),
    (9, "9.00000"),
    ("10", "10.00000"),
    (100, "100.00000"),
    ("-5", "-5.00000"),
    ("0.00001", "0.00001"),
    ("-0.5", "-0.50000"),
    ("1.123455", "1.12346"),  # beyond the scale: rounded half away from zero, as PostgreSQL
    ("-1.123455", "-1.12346"),
    (1e-7, "0.00000"),
]


@pytest.fixture
def wide(client: Any, admin_headers: dict[str, str]) -> Any:
    r = client.post("/collections", json={"collection": "wide", "fields": [
        {"field": "id", "type": "integer",
         "schema": {"is_primary_key": True, "has_auto_increment": True}},
        {"field": "label", "type": "string"},
        {"field": "v", "type": "decimal",
         "schema": {"numeric_precision": 25, "numeric_scale": 5}}]}, headers=admin_headers)
    assert r.status_code == 200, r.get_json()
    for i, (written, _read) in enumerate(VALUES):
        r = client.post("/items/wide", json={"label": f"r{i}", "v": written},
                        headers=admin_headers)
        assert r.status_code == 200, (written, r.get_json())
    return client


def _values(client: Any, headers: dict[str, str], query: str) -> list[str]:
    r = client.get(f"/items/wide?fields=v&limit=-1&{query}", headers=headers)
    assert r.status_code == 200, r.get_json()
    return [row["v"] for row in r.get_json()["data"]]


def test_values_read_back_as_written(wide, admin_headers):
    r = wide.get("/items/wide?sort=id&fields=label,v&limit=-1", headers=admin_headers)
    got = [row["v"] for row in r.get_json()["data"]]
    assert got == [read for _w, read in VALUES]
    # the answer of the write itself, and of a single read, carry the same text
    r = wide.post("/items/wide", json={"v": BIG}, headers=admin_headers)
    assert r.get_json()["data"]["v"] == BIG
    key = r.get_json()["data"]["id"]
    assert wide.get(f"/items/wide/{key}", headers=admin_headers).get_json()["data"]["v"] == BIG
    r = wide.patch(f"/items/wide/{key}", json={"v": "-" + BIG}, headers=admin_headers)
    assert r.get_json()["data"]["v"] == "-" + BIG


def test_stored_exactly(app, wide, admin_headers):
    """On SQLite the column has TEXT affinity: the row holds the canonical text."""
    cms = app.extensions["transom"]
    with cms.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT label, v FROM wide ORDER BY id")).all()
    stored = {label: v for label, v in rows}
    assert str(stored["r0"]) == BIG and str(stored["r1"]) == "-" + BIG
    if cms.dialect.name == "sqlite":
        with cms.engine.connect() as conn:
            kinds = {k for (k,) in conn.execute(sa.text("SELECT typeof(v) FROM wide"))}
        assert kinds == {"text"}


@pytest.mark.parametrize("bad", ["123456789012345678901", "-123456789012345678901",
                                 "1e21", "NaN", "abc"])
def test_beyond_the_precision_is_a_clear_400(wide, admin_headers, bad):
    r = wide.post("/items/wide", json={"v": bad}, headers=admin_headers)
    assert r.status_code == 400, r.get_json()
    err = r.get_json()["errors"][0]
    assert err["extensions"]["code"] == "FAILED_VALIDATION"
    assert len(_values(wide, admin_headers, "")) == len(VALUES)


@pytest.mark.parametrize("flt, expected", [
    ({"_gt": 9}, {BIG, "10.00000", "100.00000"}),
    ({"_gte": "9"}, {BIG, "9.00000", "10.00000", "100.00000"}),
    ({"_lt": 0}, {"-" + BIG, "-5.00000", "-0.50000", "-1.12346"}),
    ({"_lte": "-5"}, {"-" + BIG, "-5.00000"}),
    ({"_between": [-1, 10]}, {"0.00000", "9.00000", "10.00000", "0.00001", "-0.50000",
                              "1.12346"}),
    ({"_nbetween": ["-1", "10"]}, {BIG, "-" + BIG, "100.00000", "-5.00000", "-1.12346"}),
    ({"_eq": BIG}, {BIG}),
    ({"_eq": "12345678901234567890.12346"}, set()),
    ({"_gt": "12345678901234567890.12344"}, {BIG}),
    ({"_lt": "-12345678901234567890.12344"}, {"-" + BIG}),
    ({"_eq": 10}, {"10.00000"}),
    ({"_eq": "1e1"}, {"10.00000"}),
    ({"_neq": 0}, {read for _w, read in VALUES if read != "0.00000"}),
    ({"_in": [9, "100", "0.00001"]}, {"9.00000", "100.00000", "0.00001"}),
    ({"_nin": "0,9,10,100"}, {BIG, "-" + BIG, "-5.00000", "0.00001", "-0.50000", "1.12346",
                              "-1.12346"}),
])
def test_filters_compare_numbers(wide, admin_headers, flt, expected):
    got = _values(wide, admin_headers, f"filter={json.dumps({'v': flt})}")
    assert set(got) == expected
    assert len(got) == sum(1 for _w, read in VALUES if read in expected)


def test_sort_is_numeric(wide, admin_headers):
    ordered = ["-" + BIG, "-5.00000", "-1.12346", "-0.50000", "0.00000", "0.00000", "0.00001",
               "1.12346", "9.00000", "10.00000", "100.00000", BIG]
    assert _values(wide, admin_headers, "sort=v") == ordered
    assert _values(wide, admin_headers, "sort=-v") == ordered[::-1]


def test_search_matches_a_decimal_exactly(wide, admin_headers):
    assert _values(wide, admin_headers, "search=100") == ["100.00000"]
    assert _values(wide, admin_headers, "search=-5") == ["-5.00000"]


def test_aggregates_are_numeric(wide, admin_headers):
    r = wide.get("/items/wide?aggregate[min]=v&aggregate[max]=v&aggregate[count]=v"
                 "&filter[v][_between]=-10,1000", headers=admin_headers)
    assert r.status_code == 200, r.get_json()
    data = r.get_json()["data"][0]
    assert data["min"]["v"] == -5.0 and data["max"]["v"] == 100.0
    assert int(data["count"]["v"]) == 10
    r = wide.get("/items/wide?aggregate[sum]=v&aggregate[avg]=v"
                 "&filter[v][_in]=9,10,100,-5", headers=admin_headers)
    data = r.get_json()["data"][0]
    assert data["sum"]["v"] == 114.0 and data["avg"]["v"] == 28.5
    r = wide.get("/items/wide?aggregate[count]=*&groupBy[]=v&sort=v"
                 "&filter[v][_in]=9,10,100,-5,0", headers=admin_headers)
    assert r.status_code == 200, r.get_json()
    groups = [(g["v"], int(g["count"])) for g in r.get_json()["data"]]
    assert groups == [("-5.00000", 1), ("0.00000", 2), ("9.00000", 1), ("10.00000", 1),
                      ("100.00000", 1)]


def test_fields_and_snapshot_still_say_decimal(wide, admin_headers):
    f = wide.get("/fields/wide/v", headers=admin_headers).get_json()["data"]
    assert f["type"] == "decimal"
    assert (f["schema"]["numeric_precision"], f["schema"]["numeric_scale"]) == (25, 5)
    snap = wide.get("/schema/snapshot", headers=admin_headers).get_json()["data"]
    f = next(x for x in snap["fields"] if x["collection"] == "wide" and x["field"] == "v")
    assert f["type"] == "decimal"
    assert (f["schema"]["numeric_precision"], f["schema"]["numeric_scale"]) == (25, 5)
    # the snapshot applied to the same database changes nothing
    r = wide.post("/schema/diff", json=snap, headers=admin_headers)
    assert r.status_code == 204, r.get_data(True)[:500]


def test_a_changed_precision_keeps_the_values(wide, admin_headers):
    r = wide.patch("/fields/wide/v", json={"schema": {"numeric_precision": 30,
                                                      "numeric_scale": 6}},
                   headers=admin_headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["data"]["schema"]["numeric_scale"] == 6
    got = _values(wide, admin_headers, "sort=id")
    assert got[:2] == [BIG + "0", "-" + BIG + "0"]
    r = wide.post("/items/wide", json={"v": "123456789012345678901234.123456"},
                  headers=admin_headers)
    assert r.status_code == 200 and r.get_json()["data"]["v"] == \
        "123456789012345678901234.123456"


@pytest.mark.backends("sqlite")
def test_sqlite_hand_made_numeric_columns_keep_fifteen_digits(app, client, admin_headers):
    """A NUMERIC column Transom did not create (never altered) keeps SQLite's REAL
    storage: more than 15 significant digits is a clear 400, not a silent loss."""
    cms = app.extensions["transom"]
    with cms.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE legacy (id INTEGER PRIMARY KEY, "
                             "v NUMERIC(30, 10))"))
    cms.refresh_schema()
    r = client.post("/items/legacy", json={"v": BIG}, headers=admin_headers)
    assert r.status_code == 400, r.get_json()
    assert "at most 15 significant digits" in r.get_json()["errors"][0]["message"]
    r = client.post("/items/legacy", json={"v": "12345.6789"}, headers=admin_headers)
    assert r.status_code == 200 and r.get_json()["data"]["v"] == "12345.6789000000"
    r = client.get("/fields/legacy/v", headers=admin_headers).get_json()["data"]
    assert r["type"] == "decimal" and r["schema"]["numeric_precision"] == 30
