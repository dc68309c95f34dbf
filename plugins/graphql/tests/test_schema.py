"""Per-caller schemas: what a reader sees, the schema cache, the SDL download."""

from __future__ import annotations

import pytest
from transom_graphql.state import SchemaCache, get_state

TYPE_FIELDS = '{ __type(name: "%s") { fields { name } } }'


def type_fields(gql, name, headers=None):
    data = gql.data(TYPE_FIELDS % name, headers=headers)
    t = data["__type"]
    return None if t is None else [f["name"] for f in t["fields"]]


def test_reader_sees_only_allowed_types_and_fields(gql, make_user):
    reader = make_user([
        {"collection": "articles", "action": "read", "fields": ["id", "title", "author"],
         "permissions": {"status": {"_eq": "published"}}},
        {"collection": "authors", "action": "read", "fields": ["id", "name"]},
    ])
    h = reader["headers"]
    assert type_fields(gql, "articles", h) == ["id", "title", "author"]
    assert type_fields(gql, "authors", h) == ["id", "name"]
    assert type_fields(gql, "comments", h) is None
    query_fields = type_fields(gql, "Query", h)
    assert "comments" not in query_fields and "articles_by_id" in query_fields
    assert gql.data('{ __type(name: "Mutation") { name } }', headers=h) == {"__type": None}
    data = gql.data('{ articles(sort: ["id"], limit: 2) { id title author { name } } }',
                    headers=h)
    assert data == {"articles": [
        {"id": "3", "title": "Article 3", "author": {"name": "Ada Lovelace"}},
        {"id": "6", "title": "Article 6", "author": {"name": "Ada Lovelace"}}]}
    r = gql("{ articles { body } }", headers=h)
    assert r.status_code == 400
    assert r.get_json()["errors"][0]["extensions"]["errors"][0]["message"] == (
        'Cannot query field "body" on type "articles".')
    r = gql('{ articles(filter: { rating: { _gt: 1 } }) { id } }', headers=h)
    assert r.status_code == 400  # an unreadable field can't be filtered on either
    # a hidden row looks missing
    r = gql('{ articles_by_id(id: 1) { id } }', headers=h)
    assert r.get_json()["data"] == {"articles_by_id": None}
    assert r.get_json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_m2o_into_unreadable_collection_is_its_key(gql, make_user):
    reader = make_user([{"collection": "articles", "action": "read", "fields": ["*"]}])
    data = gql.data('{ articles(limit: 1, sort: ["id"]) { id author } }',
                    headers=reader["headers"])
    assert data == {"articles": [{"id": "1", "author": 2}]}


@pytest.mark.backends("sqlite")
def test_users_with_the_same_policies_share_one_schema(gql, make_user, blog):
    cms = blog.extensions["transom"]
    state = get_state(blog)
    first = make_user([{"collection": "articles", "action": "read", "fields": ["*"]}])
    second = make_user([], policy_id=first["policy_id"])
    other = make_user([{"collection": "authors", "action": "read", "fields": ["*"]}])
    gql.data("{ articles(limit: 1) { id } }", headers=first["headers"])
    builds = state.schemas.builds
    gql.data("{ articles(limit: 1) { id } }", headers=second["headers"])
    assert state.schemas.builds == builds  # reused
    gql.data("{ authors(limit: 1) { id } }", headers=other["headers"])
    assert state.schemas.builds == builds + 1

    def acc(user):
        return cms.access.for_user(user["user"]["id"], user["role"]["id"])

    s1 = state.schema_for(cms, acc(first), "items")
    s2 = state.schema_for(cms, acc(second), "items")
    assert s1 is s2
    assert s1.get_type("authors") is None
    admin_acc = _admin_accountability(cms)
    admin = state.schema_for(cms, admin_acc, "items")
    assert admin is not s1 and admin.get_type("authors") is not None
    assert state.schema_for(cms, admin_acc, "items") is admin
    assert state.schema_for(cms, admin_acc, "system") is not admin


def _admin_accountability(cms):
    from transom.accountability import Accountability

    return Accountability(user="admin", admin=True, app=True)


@pytest.mark.backends("sqlite")
def test_permission_changes_rebuild_the_schema(gql, make_user, client, admin_headers):
    reader = make_user([{"collection": "articles", "action": "read", "fields": ["*"]}])
    h = reader["headers"]
    assert gql("{ authors { name } }", headers=h).status_code == 400
    r = client.post("/permissions", json={"policy": reader["policy_id"], "collection": "authors",
                                          "action": "read", "fields": ["name"]},
                    headers=admin_headers)
    assert r.status_code == 200
    assert gql.data('{ authors(limit: 1, sort: ["name"]) { name } }', headers=h) == {
        "authors": [{"name": "Ada Lovelace"}]}


def test_schema_cache_is_a_bounded_lru():
    cache = SchemaCache(capacity=2)
    a, b, c = object(), object(), object()
    cache.put(("a",), a)  # type: ignore[arg-type]
    cache.put(("b",), b)  # type: ignore[arg-type]
    assert cache.get(("a",)) is a  # a is now the most recent
    cache.put(("c",), c)  # type: ignore[arg-type]
    assert len(cache) == 2
    assert cache.get(("b",)) is None and cache.get(("a",)) is a and cache.get(("c",)) is c
    assert cache.put(("c",), object()) is c  # a concurrent second build yields the first


@pytest.mark.backends("sqlite")
def test_cache_capacity_setting(make_app, make_user):
    app = make_app(config={"GRAPHQL_SCHEMA_CACHE_CAPACITY": "2"})
    assert get_state(app).schemas.capacity == 2
    assert app.extensions["transom"].state("transom_graphql") is get_state(app)


@pytest.mark.backends("sqlite")
def test_sdl_download(gql, client, admin_headers, make_user):
    r = client.get("/server/specs/graphql", headers=admin_headers)
    assert r.status_code == 200
    assert r.mimetype == "text/plain"
    assert r.headers["Content-Disposition"] == 'attachment; filename="items.graphql"'
    sdl = r.get_data(as_text=True)
    assert "type articles {" in sdl and "type authors {" in sdl
    assert "input articles_filter {" in sdl and "scalar JSON" in sdl
    assert "create_articles_item(data: create_articles_input!): articles" in sdl
    reader = make_user([{"collection": "articles", "action": "read", "fields": ["id"]}])
    sdl = client.get("/server/specs/graphql", headers=reader["headers"]).get_data(as_text=True)
    assert "type articles {\n  id: ID!\n}" in sdl and "type authors" not in sdl
    r = client.get("/server/specs/graphql/system", headers=admin_headers)
    assert r.headers["Content-Disposition"] == 'attachment; filename="system.graphql"'
    assert "type users {" in r.get_data(as_text=True)
    assert client.get("/server/specs/graphql/bogus", headers=admin_headers).status_code == 400


@pytest.mark.backends("sqlite")
def test_introspection_can_be_disabled(make_app):
    app = make_app(config={"GRAPHQL_INTROSPECTION": "false"})
    client = app.test_client()
    h = {"Authorization": "Bearer transom-test-admin-token"}
    r = client.post("/graphql", json={"query": "{ __schema { types { name } } }"}, headers=h)
    assert r.status_code == 400
    assert r.get_json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION"
    assert "introspection" in r.get_json()["errors"][0]["extensions"]["errors"][0]["message"]
    assert client.get("/server/specs/graphql", headers=h).status_code == 403
    r = client.post("/graphql", json={"query": "{ __typename }"}, headers=h)
    assert r.get_json() == {"data": {"__typename": "Query"}}


def test_document_cache_is_per_schema():
    from graphql import GraphQLField, GraphQLObjectType, GraphQLSchema, GraphQLString
    from transom_graphql.execute import DocumentCache

    def schema(field):
        return GraphQLSchema(GraphQLObjectType("Query", {field: GraphQLField(GraphQLString)}))

    cache, config = DocumentCache(capacity=2), {}
    a, b = schema("a"), schema("b")
    doc, errors = cache.get(a, "{ a }", config)
    assert errors == [] and cache.get(a, "{ a }", config)[0] is doc  # reused
    doc_b, errors_b = cache.get(b, "{ a }", config)
    assert doc_b is not doc and errors_b[0]["message"].startswith('Cannot query field "a"')
    cache.get(a, "{ __typename }", config)
    assert cache.get(a, "{ a }", config)[0] is not doc  # evicted (capacity 2)
