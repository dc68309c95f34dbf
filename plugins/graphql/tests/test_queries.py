"""Reads: filters, sort, pagination, relations both ways, aggregation, functions, m2a,
fragments and aliases, GET requests, the system scope; on every backend."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest
import sqlalchemy as sa


def ids(items):
    return [int(i["id"]) for i in items]


def test_filters_logical_and_relational(gql):
    data = gql.data('{ articles(filter: { _or: [ { rating: { _gte: 80 } }, '
                    '{ _and: [ { status: { _eq: "draft" } }, { title: { _contains: "1" } } ] } ]'
                    ' }, sort: ["id"]) { id } }')
    # ratings >= 80: 5 (85), 11 (87); drafts containing "1": 1, 10
    assert ids(data["articles"]) == [1, 5, 10, 11]
    data = gql.data('{ articles(filter: { author: { name: { _eq: "Alan Turing" } } }, '
                    'sort: ["id"]) { id author { name } } }')
    assert ids(data["articles"]) == [1, 4, 7, 10]
    data = gql.data('{ articles(filter: { comments: { text: { _icontains: "great" } } }) '
                    '{ id } }')
    assert ids(data["articles"]) == [1]
    data = gql.data('{ articles(filter: { comments: { _none: { id: { _nnull: true } } }, '
                    'id: { _lte: 4 } }, sort: ["id"]) { id } }')
    assert ids(data["articles"]) == [4]
    data = gql.data('{ articles(filter: { id: { _in: ["2", "3"] } }, sort: ["-id"]) { id } }')
    assert ids(data["articles"]) == [3, 2]


def test_function_filters_and_fields(gql):
    data = gql.data('{ articles(filter: { published_at_func: { month: { _eq: 4 } } }) '
                    '{ id published_at_func { month year } } }')
    assert data["articles"] == [{"id": "3", "published_at_func": {"month": 4, "year": 2024}}]
    data = gql.data('{ articles(filter: { comments_func: { count: { _gt: 1 } } }) '
                    '{ id comments_func { count } } }')
    assert data["articles"] == [{"id": "1", "comments_func": {"count": 2}}]


def test_sort_limit_offset_page_search(gql):
    assert ids(gql.data('{ articles(sort: ["-rating", "id"], limit: 2) { id } }')[
        "articles"]) == [11, 5]
    assert ids(gql.data('{ articles(sort: ["id"], limit: 3, offset: 3) { id } }')[
        "articles"]) == [4, 5, 6]
    assert ids(gql.data('{ articles(sort: ["id"], limit: 5, page: 2) { id } }')[
        "articles"]) == [6, 7, 8, 9, 10]
    assert ids(gql.data('{ articles(search: "flask", sort: ["id"]) { id } }')[
        "articles"]) == [2, 4, 6, 8, 10, 12]


def test_relations_both_ways_with_nested_arguments(gql):
    data = gql.data('{ articles(filter: { id: { _lte: 2 } }, sort: ["id"]) { id '
                    'comments(sort: ["-id"], limit: 1) { text article { id } } '
                    'all: comments(sort: ["id"]) { text } } }')
    assert data["articles"] == [
        {"id": "1", "comments": [{"text": "Great read", "article": {"id": "1"}}],
         "all": [{"text": "First!"}, {"text": "Great read"}]},
        {"id": "2", "comments": [{"text": "Hmm", "article": {"id": "2"}}],
         "all": [{"text": "Hmm"}]},
    ]
    data = gql.data('{ comments(sort: ["id"], limit: 1) { text article { title '
                    'author { name } } } }')
    assert data["comments"] == [{"text": "First!", "article": {
        "title": "Article 1", "author": {"name": "Alan Turing"}}}]
    data = gql.data('{ articles(filter: { id: { _eq: 1 } }) { id '
                    'comments(filter: { text: { _starts_with: "F" } }) { text } } }')
    assert data["articles"] == [{"id": "1", "comments": [{"text": "First!"}]}]


def test_same_relation_twice_under_aliases(gql):
    data = gql.data('{ articles(limit: 1, sort: ["id"]) { a: author { name } '
                    'b: author { id email } author { id } } }')
    assert data["articles"] == [{"a": {"name": "Alan Turing"},
                                 "b": {"id": "2", "email": "alan@example.com"},
                                 "author": {"id": "2"}}]


def test_fragments_variables_and_directives(gql):
    query = """
    query Articles($limit: Int, $withAuthor: Boolean!, $filter: articles_filter) {
      articles(limit: $limit, sort: ["id"], filter: $filter) {
        ...Basic
        author @include(if: $withAuthor) { ... on authors { name } }
        rating @skip(if: true)
      }
    }
    fragment Basic on articles { id title }
    """
    data = gql.data(query, {"limit": 2, "withAuthor": True,
                            "filter": {"status": {"_neq": "archived"}}})
    assert data["articles"] == [
        {"id": "1", "title": "Article 1", "author": {"name": "Alan Turing"}},
        {"id": "3", "title": "Article 3", "author": {"name": "Ada Lovelace"}}]
    data = gql.data(query, {"limit": 1, "withAuthor": False})
    assert data["articles"] == [{"id": "1", "title": "Article 1"}]


def test_operation_name_picks_the_operation(client, gql):
    body = {"query": "query A { articles(limit: 1, sort: [\"id\"]) { id } } "
                     "query B { authors(limit: 1, sort: [\"id\"]) { name } }",
            "operationName": "B"}
    r = client.post("/graphql", json=body, headers=gql.headers)
    assert r.get_json() == {"data": {"authors": [{"name": "Ada Lovelace"}]}}


def test_aggregated_functions(gql):
    data = gql.data('{ articles_aggregated(filter: { status: { _eq: "published" } }) '
                    '{ countAll count { rating } countDistinct { author } '
                    'sum { rating } min { rating } max { rating } } }')
    assert data["articles_aggregated"] == [{
        "countAll": 4, "count": {"rating": 4}, "countDistinct": {"author": 1},
        "sum": {"rating": 110.0}, "min": {"rating": 2.0}, "max": {"rating": 53.0}}]
    data = gql.data('{ articles_aggregated(groupBy: ["author"], sort: ["-author"], limit: 2) '
                    '{ group countAll } }')
    assert data["articles_aggregated"] == [{"group": {"author": 3}, "countAll": 4},
                                           {"group": {"author": 2}, "countAll": 4}]


def test_by_id_missing_is_null_with_forbidden_error(gql):
    r = gql('{ articles_by_id(id: 999) { id } first: articles_by_id(id: "1") { title } }')
    assert r.status_code == 200
    body = r.get_json()
    assert body["data"] == {"articles_by_id": None, "first": {"title": "Article 1"}}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["path"] == ["articles_by_id"]
    assert error["locations"] == [{"line": 1, "column": 3}]
    assert gql.data('{ articles(filter: { id: { _eq: 999 } }) { id } }') == {"articles": []}


def test_json_scalars_and_the_blog_posts_example(gql):
    data = gql.data('{ blog_posts(limit: 5, filter: {published_at: {_gt: "2023-01-01"}}) '
                    '{ title slug content tags } }')
    assert data["blog_posts"] == [
        {"title": "Post 1", "slug": "post-1", "content": "Content 1", "tags": ["x"]},
        {"title": "Post 2", "slug": "post-2", "content": "Content 2", "tags": ["x", "y"]},
        {"title": "Post 4", "slug": "post-4", "content": "Content 4", "tags": ["x"]},
        {"title": "Post 5", "slug": "post-5", "content": "Content 5", "tags": ["x", "y"]},
        {"title": "Post 7", "slug": "post-7", "content": "Content 7", "tags": ["x"]},
    ]
    data = gql.data('{ articles(filter: { id: { _eq: 3 } }) { tags tags_func { count } } }')
    assert data["articles"] == [{"tags": ["a", "b", "c"], "tags_func": {"count": 3}}]


def test_get_requests(client, gql):
    r = client.get("/graphql", query_string={
        "query": "query ($n: Int) { articles(limit: $n, sort: [\"id\"]) { id } }",
        "variables": '{"n": 2}'}, headers=gql.headers)
    assert r.get_json() == {"data": {"articles": [{"id": "1"}, {"id": "2"}]}}
    r = client.get("/graphql", query_string={
        "query": 'mutation { delete_articles_item(id: 1) { id } }'}, headers=gql.headers)
    assert r.status_code == 405
    assert r.get_json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


def test_m2a_union(m2a, client, admin_headers):
    r = client.post("/graphql", json={"query": """
      { pages { title blocks(sort: ["sort"]) { collection item {
          __typename ... on headings { title } } } } }"""}, headers=admin_headers)
    assert r.get_json() == {"data": {"pages": [{"title": "Home", "blocks": [
        {"collection": "headings", "item": {"__typename": "headings", "title": "Welcome"}},
        {"collection": "texts", "item": {"__typename": "texts"}},
    ]}]}}


def test_m2a_filter(m2a, client, admin_headers):
    r = client.post("/graphql", json={"query": """
      { pages_blocks(filter: { item__texts: { body: { _contains: "Hello" } } }) {
          id item { ... on texts { body } } } }"""}, headers=admin_headers)
    assert r.get_json() == {"data": {"pages_blocks": [
        {"id": "2", "item": {"body": "Hello there"}}]}}


@pytest.mark.backends("sqlite")
def test_m2a_union_with_several_members(m2a, client, admin_headers):
    r = client.post("/graphql", json={"query": """
      { pages { blocks(sort: ["sort"]) { item {
          ... on headings { title } ... on texts { body } } } } }"""}, headers=admin_headers)
    assert r.get_json() == {"data": {"pages": [{"blocks": [
        {"item": {"title": "Welcome"}}, {"item": {"body": "Hello there"}}]}]}}


def test_system_scope(client, gql):
    r = client.post("/graphql/system", json={"query": "{ users_me { email } server_ping "
                                             "roles(limit: 1) { name } }"},
                    headers=gql.headers)
    body = r.get_json()
    assert body["data"]["users_me"] == {"email": "admin@example.com"}
    assert body["data"]["server_ping"] == "pong"
    assert len(body["data"]["roles"]) == 1
    # system collections are not part of the items scope, and the reverse
    assert gql("{ users { id } }").status_code == 400
    assert client.post("/graphql/system", json={"query": "{ articles { id } }"},
                       headers=gql.headers).status_code == 400


@pytest.mark.backends("sqlite")
def test_singleton(blog, client, admin_headers):
    cms = blog.extensions["transom"]
    with cms.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE site (id INTEGER PRIMARY KEY, name VARCHAR(50))")
        conn.exec_driver_sql("INSERT INTO directus_collections (collection, singleton) "
                             "VALUES ('site', 1)")
    cms.refresh_schema()
    r = client.post("/graphql", json={"query": 'mutation { update_site(data: {name: "S"}) '
                                               '{ name } }'}, headers=admin_headers)
    assert r.get_json() == {"data": {"update_site": {"name": "S"}}}
    r = client.post("/graphql", json={"query": "{ site { id name } }"}, headers=admin_headers)
    assert r.get_json() == {"data": {"site": {"id": "1", "name": "S"}}}


@pytest.mark.backends("sqlite", "postgres")
def test_scalar_types(blog, client, admin_headers):
    cms = blog.extensions["transom"]

    md = sa.MetaData()
    things = sa.Table("things", md,
                      sa.Column("id", sa.String(36), primary_key=True),
                      sa.Column("big", sa.BigInteger),
                      sa.Column("price", sa.Numeric(10, 2)),
                      sa.Column("flag", sa.Boolean),
                      sa.Column("day", sa.Date),
                      sa.Column("at", sa.Time),
                      sa.Column("ratio", sa.Float))
    with cms.engine.begin() as conn:
        md.create_all(conn)
        conn.execute(things.insert(), [
            {"id": "a", "big": 9007199254740993, "price": decimal.Decimal("12.50"),
             "flag": True, "day": dt.date(2024, 2, 29), "at": dt.time(10, 30), "ratio": 0.5},
            {"id": "b", "big": 1, "price": decimal.Decimal("3.00"), "flag": False,
             "day": dt.date(2023, 1, 1), "at": dt.time(23, 0), "ratio": 1.5},
        ])
    cms.refresh_schema()
    r = client.post("/graphql", json={"query": """{
        things(filter: { flag: { _eq: true }, big: { _gt: "100" },
                         day_func: { year: { _eq: 2024 } } }) {
          id big price flag day at ratio day_func { month day } } }"""}, headers=admin_headers)
    assert r.get_json() == {"data": {"things": [{
        "id": "a", "big": "9007199254740993", "price": 12.5, "flag": True,
        "day": "2024-02-29", "at": "10:30:00", "ratio": 0.5,
        "day_func": {"month": 2, "day": 29}}]}}
    r = client.post("/graphql", json={"query": """mutation {
        create_things_item(data: {id: "c", big: "42", price: 1.25, flag: false,
                                  day: "2020-05-05"}) { id big price day } }"""},
        headers=admin_headers)
    assert r.get_json() == {"data": {"create_things_item": {
        "id": "c", "big": "42", "price": 1.25, "day": "2020-05-05"}}}
