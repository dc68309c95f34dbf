"""The shapes of Directus 11's own GraphQL answers (samples 45-51), on every backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SAMPLES = Path("/work/shared/reference/directus11-samples/postgres")


def sample(number: int) -> dict[str, Any] | None:
    """The recorded Directus exchange, when the reference material is present."""
    found = sorted(SAMPLES.glob(f"{number}-*.json")) if SAMPLES.is_dir() else []
    return json.loads(found[0].read_text()) if found else None


def validation_error(message: str, line: int, column: int) -> dict[str, Any]:
    return {"errors": [{"message": "GraphQL validation error.", "extensions": {
        "errors": [{"message": message, "locations": [{"line": line, "column": column}]}],
        "code": "GRAPHQL_VALIDATION"}}]}


def test_45_list_with_filter_sort_and_m2o(gql):
    data = gql.data('query { articles(filter: { status: { _eq: "published" } }, '
                    'sort: ["-rating"], limit: 3) { id title rating author { id name } } }')
    assert data == {"articles": [
        {"id": "9", "title": "Article 9", "rating": 53, "author": {"id": "1",
                                                                   "name": "Ada Lovelace"}},
        {"id": "3", "title": "Article 3", "rating": 51, "author": {"id": "1",
                                                                   "name": "Ada Lovelace"}},
        {"id": "12", "title": "Article 12", "rating": 4, "author": {"id": "1",
                                                                    "name": "Ada Lovelace"}},
    ]}


def test_46_by_id_with_variables(gql, client, admin_headers):
    data = gql.data("query ($id: ID!) { articles_by_id(id: $id) { id title published_at } }",
                    {"id": 3})
    rest = client.get("/items/articles/3?fields=published_at",
                      headers=admin_headers).get_json()["data"]
    assert data == {"articles_by_id": {"id": "3", "title": "Article 3",
                                       "published_at": rest["published_at"]}}
    assert rest["published_at"].startswith("2024-04-04T12:00:00")


def test_47_aggregated_group_by(gql):
    data = gql.data('{ articles_aggregated(groupBy: ["status"]) '
                    '{ group count { id } avg { rating } } }')
    rows = data["articles_aggregated"]
    assert [r["group"] for r in rows] == [{"status": "archived"}, {"status": "draft"},
                                         {"status": "published"}]
    assert [r["count"] for r in rows] == [{"id": 4}, {"id": 4}, {"id": 4}]
    published = rows[2]["avg"]["rating"]
    assert published == pytest.approx((51 + 2 + 53 + 4) / 4)


def test_48_unknown_field_is_a_400(gql):
    r = gql("{ articles(limit: 1) { id nope } }")
    assert r.status_code == 400
    expected = validation_error('Cannot query field "nope" on type "articles".', 1, 27)
    assert r.get_json() == expected
    recorded = sample(48)
    if recorded is not None:
        assert recorded["body"] == expected


def test_49_no_token_sees_no_collection(gql):
    r = gql("{ articles(limit: 1) { id } }", headers={})
    assert r.status_code == 400
    expected = validation_error('Cannot query field "articles" on type "Query".', 1, 3)
    assert r.get_json() == expected
    recorded = sample(49)
    if recorded is not None:
        assert recorded["body"] == expected


def test_50_reader_cannot_see_forbidden_collection(gql, make_user):
    reader = make_user([
        {"collection": "articles", "action": "read", "fields": ["*"]}])
    r = gql("{ authors(limit: 1) { id } }", headers=reader["headers"])
    assert r.status_code == 400
    expected = validation_error('Cannot query field "authors" on type "Query".', 1, 3)
    assert r.get_json() == expected
    recorded = sample(50)
    if recorded is not None:
        assert recorded["body"] == expected
    assert gql.data("{ articles(limit: 1) { id } }", headers=reader["headers"]) == {
        "articles": [{"id": "1"}]}


def test_51_create_mutation(gql, client, admin_headers):
    r = gql('mutation { create_articles_item(data: { title: "gql", rating: 1 }) '
            '{ id title } }')
    assert r.status_code == 200
    assert r.get_json() == {"data": {"create_articles_item": {"id": "13", "title": "gql"}}}
    assert r.headers["Cache-Control"] == "no-cache"
    row = client.get("/items/articles/13", headers=admin_headers).get_json()["data"]
    assert row["status"] == "draft" and row["rating"] == 1
