"""Error paths, depth and cost limits, batched relations and cursor pagination."""

from __future__ import annotations

import json

import pytest

from transom.testing.plugin import count_statements


def validation_messages(r):
    assert r.status_code == 400, r.get_json()
    [error] = r.get_json()["errors"]
    assert error["message"] == "GraphQL validation error."
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION"
    return [e["message"] for e in error["extensions"]["errors"]]


@pytest.mark.backends("sqlite")
def test_request_errors_are_400(gql, client):
    assert validation_messages(gql("{ articles { id }")) == [
        "Syntax Error: Expected Name, found <EOF>."]
    assert validation_messages(gql('{ articles(limit: "abc") { id } }')) == [
        'Int cannot represent non-integer value: "abc"']
    assert validation_messages(gql("query ($id: ID!) { articles_by_id(id: $id) { id } }")) == [
        'Variable "$id" of required type "ID!" was not provided.']
    assert validation_messages(gql("query ($n: Int) { articles(limit: $n) { id } }",
                                   {"n": "x"}))[0].startswith('Variable "$n" got invalid value')
    assert validation_messages(gql("{ articles { author } }")) == [
        'Field "author" of type "authors" must have a selection of subfields. '
        'Did you mean "author { ... }"?']
    r = client.post("/graphql", data="{not json", headers={**gql.headers,
                                                           "Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.get_json()["errors"][0]["extensions"]["code"] == "INVALID_PAYLOAD"
    r = client.post("/graphql", json={"variables": {}}, headers=gql.headers)
    assert r.get_json()["errors"][0]["extensions"]["code"] == "INVALID_PAYLOAD"
    r = client.post("/graphql", data="{ articles(limit: 1) { id } }",
                    headers={**gql.headers, "Content-Type": "application/graphql"})
    assert r.get_json() == {"data": {"articles": [{"id": "1"}]}}


def test_resolver_errors_keep_their_transom_code(gql):
    r = gql("{ articles(limit: -5) { id } authors_by_id(id: 1) { name } }")
    assert r.status_code == 200
    body = r.get_json()
    assert body["data"] is None  # the list is non-null, as in Directus
    [error] = body["errors"]
    assert error["extensions"]["code"] == "INVALID_QUERY"
    assert error["path"] == ["articles"]
    assert error["locations"] == [{"line": 1, "column": 3}]
    r = gql('{ articles_connection(after: "nope") { edges { cursor } } }')
    assert r.get_json()["errors"][0]["extensions"]["code"] == "INVALID_QUERY"


@pytest.mark.backends("sqlite")
def test_depth_limit(gql, make_app):
    def nested(depth):  # articles { comments { article { comments ... { id } } } }
        names = ["articles(limit: 1)"] + ["comments(limit: 1)" if i % 2 else "article"
                                          for i in range(1, depth)]
        return "{ " + " { ".join(names) + " { id" + " }" * depth + " }"

    gql.data(nested(9))  # depth 10 is allowed
    deep = nested(10)
    messages = validation_messages(gql(deep))
    assert messages == ["Query depth of 11 exceeds the maximum depth of 10 "
                        "(GRAPHQL_MAX_DEPTH)."]
    # introspection is not counted: GraphQL tools' full introspection query passes
    from graphql import get_introspection_query

    assert gql.data(get_introspection_query())["__schema"]["queryType"]["name"] == "Query"


@pytest.mark.backends("sqlite")
def test_cost_limit(gql):
    query = ("query ($n: Int) { articles(limit: $n) { comments(limit: 100) { article { "
             "comments(limit: 100) { id } } } } }")
    messages = validation_messages(gql(query, {"n": 100}))
    assert messages == ["Query cost of 1020101 exceeds the maximum cost of 100000 "
                        "(GRAPHQL_MAX_COST)."]
    assert gql.data(query, {"n": 1})["articles"][0]["comments"][0]["article"]["comments"]


@pytest.mark.backends("sqlite")
def test_limits_are_settings(make_app, admin_headers):
    app = make_app(config={"GRAPHQL_MAX_DEPTH": "2", "GRAPHQL_MAX_COST": "5",
                           "GRAPHQL_QUERY_TOKEN_LIMIT": "20"})
    client = app.test_client()

    def post(query):
        return client.post("/graphql/system", json={"query": query}, headers=admin_headers)

    assert validation_messages(post("{ users { role { name } } }")) == [
        "Query depth of 3 exceeds the maximum depth of 2 (GRAPHQL_MAX_DEPTH).",
        "Query cost of 201 exceeds the maximum cost of 5 (GRAPHQL_MAX_COST)."]
    assert validation_messages(post("{ roles(limit: 10) { name } }")) == [
        "Query cost of 11 exceeds the maximum cost of 5 (GRAPHQL_MAX_COST)."]
    assert post("{ roles(limit: 4) { name } }").status_code == 200
    assert validation_messages(post("{ " + "server_ping " * 30 + "}")) == [
        "Syntax Error: Document contains more than 20 tokens. Parsing aborted."]


def test_relations_are_batched(gql, blog):
    cms = blog.extensions["transom"]
    query = "{ articles(limit: %d, sort: [\"id\"]) { id author { name } comments { text } } }"
    gql.data(query % 1)  # warm up: schema built, caches filled
    counts = []
    for limit in (2, 12):
        with count_statements(cms.engine) as seen:
            data = gql.data(query % limit)
        assert len(data["articles"]) == limit
        counts.append(len([s for s in seen if s.lstrip().upper().startswith("SELECT")]))
    assert counts[0] == counts[1]
    assert counts[0] <= 6  # root, m2o, o2m + authentication lookups


def test_key_only_m2o_needs_no_join(gql, blog):
    cms = blog.extensions["transom"]
    gql.data('{ articles(limit: 1) { id } }')
    with count_statements(cms.engine) as plain:
        gql.data('{ articles(limit: 5) { id } }')
    with count_statements(cms.engine) as keyed:
        data = gql.data('{ articles(limit: 2, sort: ["id"]) { id author { id } } }')
    assert data == {"articles": [{"id": "1", "author": {"id": "2"}},
                                 {"id": "2", "author": {"id": "3"}}]}
    assert len(keyed) == len(plain)


def test_cursor_pagination(gql):
    query = """query ($after: String) {
      articles_connection(first: 5, after: $after, sort: ["id"],
                          filter: { rating: { _gte: 0 } }) {
        totalCount
        edges { cursor node { id author { name } } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      } }"""
    pages, after = [], None
    while True:
        conn = gql.data(query, {"after": after})["articles_connection"]
        assert conn["totalCount"] == 12
        pages.append([int(e["node"]["id"]) for e in conn["edges"]])
        assert conn["pageInfo"]["startCursor"] == conn["edges"][0]["cursor"]
        assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert pages == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12]]
    empty = gql.data('{ articles_connection(first: 0) { edges { cursor } '
                     'pageInfo { hasNextPage endCursor } } }')["articles_connection"]
    assert empty == {"edges": [], "pageInfo": {"hasNextPage": True, "endCursor": None}}
    assert json.dumps(after)  # cursors are plain strings
