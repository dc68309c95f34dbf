"""The same answers on SQLite, PostgreSQL and MariaDB: timestamps past 2038 and before 1970
with milliseconds, and the aggregate matrix (count, countDistinct, sum, avg, min, max, with
and without groupBy, on integer, float and decimal fields) over REST and GraphQL."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from transom.testing.helpers import call, data


def ok(client, method: str, url: str, body=None):
    return data(call(client, method, url, body))

ROWS = [
    {"grp": "a", "n": 10, "x": 1.5, "d": "10.25"},
    {"grp": "a", "n": 31, "x": 2.25, "d": "3.50"},
    {"grp": "a", "n": 31, "x": None, "d": "1.00"},
    {"grp": "b", "n": 40, "x": 0.125, "d": "7.75"},
    {"grp": "b", "n": 22, "x": 10.0, "d": None},
    {"grp": "b", "n": 21, "x": 3.0, "d": "2.00"},
]


@pytest.fixture
def stats(client, admin_headers):
    ok(client, "post", "/collections", {"collection": "stats", "fields": [
        {"field": "id", "type": "integer",
         "schema": {"is_primary_key": True, "has_auto_increment": True}},
        {"field": "grp", "type": "string"},
        {"field": "n", "type": "integer"},
        {"field": "x", "type": "float"},
        {"field": "d", "type": "decimal", "schema": {"numeric_precision": 10,
                                                     "numeric_scale": 2}},
        {"field": "at", "type": "timestamp"},
    ]})
    ok(client, "post", "/items/stats", ROWS)
    return client


def _agg(client, admin_headers, query: str):
    return ok(client, "get", f"/items/stats?{query}")


def test_integer_aggregates_are_exact(stats, admin_headers):
    rows = _agg(stats, admin_headers, "aggregate[avg]=n&aggregate[sum]=n&aggregate[min]=n"
                "&aggregate[max]=n&aggregate[count]=n&aggregate[countDistinct]=n")
    assert rows == [{"avg": {"n": 25.833333333333332}, "sum": {"n": 155},
                     "min": {"n": 10}, "max": {"n": 40}, "count": {"n": 6},
                     "countDistinct": {"n": 5}}]
    assert isinstance(rows[0]["sum"]["n"], int)


def test_float_and_decimal_aggregates(stats, admin_headers):
    rows = _agg(stats, admin_headers, "aggregate[avg]=x&aggregate[sum]=x&aggregate[min]=x"
                "&aggregate[max]=x&aggregate[count]=x&aggregate[avg]=d&aggregate[sum]=d")
    got = rows[0]
    assert got["avg"]["x"] == pytest.approx(16.875 / 5)
    assert got["sum"]["x"] == 16.875 and got["min"]["x"] == 0.125 and got["max"]["x"] == 10.0
    assert got["count"]["x"] == 5
    assert float(got["sum"]["d"]) == 24.5
    assert float(got["avg"]["d"]) == pytest.approx(4.9)


def test_grouped_averages_match(stats, admin_headers):
    rows = _agg(stats, admin_headers, "aggregate[avg]=n&aggregate[sum]=n&groupBy[]=grp"
                "&sort=grp")
    assert rows == [{"grp": "a", "avg": {"n": 24.0}, "sum": {"n": 72}},
                    {"grp": "b", "avg": {"n": 27.666666666666668}, "sum": {"n": 83}}]


def test_graphql_aggregates_match_rest(stats, admin_headers):
    resp = stats.post("/graphql", json={"query": "{ stats_aggregated { avg { n } sum { n } "
                                                 "countDistinct { n } } }"},
                      headers=admin_headers)
    assert resp.status_code == 200, resp.get_json()
    got = resp.get_json()["data"]["stats_aggregated"][0]
    assert got["avg"]["n"] == 25.833333333333332
    assert got["sum"]["n"] == 155
    assert got["countDistinct"]["n"] == 5


def test_graphql_sum_of_integers_is_an_integer(stats, admin_headers):
    resp = stats.post("/graphql", json={"query": "{ stats_aggregated { sum { n x } "
                                                 "min { n } max { n } avg { n } } }"},
                      headers=admin_headers)
    got = resp.get_json()["data"]["stats_aggregated"][0]
    assert got["sum"]["n"] == 155 and isinstance(got["sum"]["n"], int)
    assert got["sum"]["x"] == 16.875
    assert (got["min"]["n"], got["max"]["n"]) == (10, 40)
    assert isinstance(got["min"]["n"], int)
    assert got["avg"]["n"] == 25.833333333333332 and isinstance(got["avg"]["n"], float)
    raw = resp.get_data(as_text=True)
    assert '"n":155' in raw.replace(" ", "")


@pytest.mark.parametrize("value", ["2099-01-01T00:00:00.000Z", "1901-01-01T00:00:00.000Z",
                                   "2024-02-29T13:14:15.678Z", "2038-01-19T03:14:08.001Z"])
def test_timestamps_round_trip_identically(stats, admin_headers, value):
    item = ok(stats, "post", "/items/stats", {"grp": "t", "n": 1, "at": value})
    assert item["at"] == value
    again = ok(stats, "get", f"/items/stats/{item['id']}?fields=at")
    assert again["at"] == value
    found = ok(stats, "get", f"/items/stats?filter[at][_eq]={value}&fields=id")
    assert [r["id"] for r in found] == [item["id"]]


def test_a_timestamp_offset_is_stored_as_the_same_instant(stats, admin_headers):
    item = ok(stats, "post", "/items/stats", {"grp": "t", "n": 1,
                                              "at": "2099-06-01T12:00:00.250+02:00"})
    assert item["at"] == "2099-06-01T10:00:00.250Z"


def test_a_timestamp_out_of_range_says_so(stats, admin_headers):
    resp = stats.post("/items/stats", json={"grp": "t", "n": 1, "at": "10000-01-01T00:00:00Z"},
                      headers=admin_headers)
    assert resp.status_code == 400
    error = resp.get_json()["errors"][0]
    assert error["extensions"]["code"] in ("FAILED_VALIDATION", "INVALID_PAYLOAD")
    assert "10000-01-01" in error["message"] or "date" in error["message"]


def test_grouped_float_and_decimal_matrix(stats, admin_headers):
    rows = _agg(stats, admin_headers, "aggregate[count]=x&aggregate[countDistinct]=x"
                "&aggregate[sum]=x&aggregate[avg]=x&aggregate[min]=x&aggregate[max]=x"
                "&aggregate[count]=d&aggregate[countDistinct]=d&aggregate[sum]=d"
                "&aggregate[avg]=d&aggregate[min]=d&aggregate[max]=d&groupBy[]=grp&sort=grp")
    assert [r["grp"] for r in rows] == ["a", "b"]
    a, b = rows
    assert a["count"] == {"x": 2, "d": 3} and b["count"] == {"x": 3, "d": 2}
    assert a["countDistinct"] == {"x": 2, "d": 3} and b["countDistinct"] == {"x": 3, "d": 2}
    assert a["sum"]["x"] == 3.75 and b["sum"]["x"] == 13.125
    assert a["avg"]["x"] == 1.875 and b["avg"]["x"] == 4.375
    assert isinstance(a["avg"]["x"], float)
    assert (a["min"]["x"], a["max"]["x"], b["min"]["x"], b["max"]["x"]) == (1.5, 2.25, 0.125,
                                                                             10.0)
    assert float(a["sum"]["d"]) == 14.75 and float(b["sum"]["d"]) == 9.75
    assert a["avg"]["d"] == pytest.approx(14.75 / 3) and b["avg"]["d"] == 4.875
    assert isinstance(a["avg"]["d"], float)
    assert (a["min"]["d"], a["max"]["d"], b["min"]["d"], b["max"]["d"]) == (1.0, 10.25, 2.0,
                                                                             7.75)
    assert all(isinstance(r[fn]["d"], float) for r in rows for fn in ("sum", "min", "max"))


def test_ungrouped_matrix_types(stats, admin_headers):
    rows = _agg(stats, admin_headers, "aggregate[avg]=n&aggregate[avgDistinct]=n"
                "&aggregate[sumDistinct]=n&aggregate[count]=*")
    assert rows == [{"avg": {"n": 25.833333333333332}, "avgDistinct": {"n": 24.8},
                     "sumDistinct": {"n": 124}, "count": 6}]
    assert isinstance(rows[0]["sumDistinct"]["n"], int)


def test_an_aggregate_exports_the_same_numbers(stats, admin_headers):
    resp = stats.get("/items/stats?aggregate[avg]=n&aggregate[sum]=n&groupBy[]=grp&sort=grp"
                     "&export=json", headers=admin_headers)
    assert resp.status_code == 200, resp.data
    assert json.loads(resp.data) == [
        {"grp": "a", "avg": {"n": 24.0}, "sum": {"n": 72}},
        {"grp": "b", "avg": {"n": 27.666666666666668}, "sum": {"n": 83}}]


def test_timestamp_filters_compare_instants(stats, admin_headers):
    item = ok(stats, "post", "/items/stats", {"grp": "t", "n": 1,
                                              "at": "2099-06-01T10:00:00.000Z"})
    for value in ("2099-06-01T10:00:00Z", "2099-06-01T12:00:00%2B02:00",
                  "2099-06-01T10:00:00.000Z"):
        found = ok(stats, "get", f"/items/stats?filter[at][_eq]={value}&fields=id")
        assert [r["id"] for r in found] == [item["id"]], value
    later = ok(stats, "get", "/items/stats?filter[at][_gte]=2099-06-01T10:00:00.000Z&fields=id")
    assert [r["id"] for r in later] == [item["id"]]
    earlier = ok(stats, "get", "/items/stats?filter[at][_lt]=2099-06-01T10:00:00.001Z"
                 "&filter[at][_gt]=2099-06-01T09:59:59.999Z&fields=id")
    assert [r["id"] for r in earlier] == [item["id"]]


@pytest.mark.backends("mysql")
def test_a_legacy_timestamp_column_keeps_working(app, client, admin_headers):
    cms = app.extensions["transom"]
    with cms.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE legacy_events (id INT AUTO_INCREMENT PRIMARY KEY, "
                             "happened TIMESTAMP NULL)"))
    cms.refresh_schema()
    field = ok(client, "get", "/fields/legacy_events/happened")
    assert field["type"] == "timestamp" and field["schema"]["data_type"] == "timestamp"
    item = ok(client, "post", "/items/legacy_events", {"happened": "2030-06-01T12:00:00.000Z"})
    assert item["happened"] == "2030-06-01T12:00:00.000Z"
    again = ok(client, "get", f"/items/legacy_events/{item['id']}")
    assert again["happened"] == "2030-06-01T12:00:00.000Z"
    found = ok(client, "get", "/items/legacy_events?filter[happened][_eq]="
               "2030-06-01T14:00:00%2B02:00&fields=id")
    assert [r["id"] for r in found] == [item["id"]]
    resp = client.post("/items/legacy_events", json={"happened": "2099-01-01T00:00:00.000Z"},
                       headers=admin_headers)
    assert resp.status_code == 400, resp.get_json()
    error = resp.get_json()["errors"][0]
    assert error["extensions"]["code"] == "FAILED_VALIDATION"
    assert error["extensions"]["field"] == "happened"
    assert "1970-01-01T00:00:01Z to 2038-01-19T03:14:07Z" in error["message"]
    with cms.engine.connect() as conn:  # the column was left as it was
        kind = conn.execute(sa.text("SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE "
                                    "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = "
                                    "'legacy_events' AND COLUMN_NAME = 'happened'")).scalar()
    assert kind == "timestamp"


@pytest.mark.backends("mysql")
def test_transom_creates_datetime3_on_mysql(stats, app, admin_headers):
    with app.extensions["transom"].engine.connect() as conn:
        kind = conn.execute(sa.text("SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE "
                                    "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'stats' AND "
                                    "COLUMN_NAME = 'at'")).scalar()
        zone = conn.execute(sa.text("SELECT @@session.time_zone")).scalar()
    assert kind == "datetime(3)" and zone == "+00:00"
    field = ok(stats, "get", "/fields/stats/at")
    assert field["type"] == "timestamp"
