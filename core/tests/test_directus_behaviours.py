"""Directus 11 behaviours Transom matches (issue #13), on every database of ``backend``."""

from __future__ import annotations

from typing import Any

import pytest

from transom.testing.helpers import call, data, setup_user


def get(client: Any, url: str, status: int = 200, **kw: Any) -> Any:
    return call(client, "get", url, status=status, **kw).get_json()


# -- groupBy with a date function ----------------------------------------------------------
@pytest.mark.parametrize("fn", ["year", "month", "week", "day", "weekday", "hour", "minute",
                                "second"])
def test_group_by_a_date_function_is_keyed_field_underscore_function(blog, client, fn):
    rows = get(client, f"/items/articles?aggregate[count]=*&groupBy[]={fn}(published_at)"
                       f"&sort={fn}(published_at)")["data"]
    assert rows and all(set(r) == {f"published_at_{fn}", "count"} for r in rows)
    assert sum(r["count"] for r in rows) == 12
    assert all(isinstance(r[f"published_at_{fn}"], int) for r in rows)


def test_group_by_year_counts_per_year(blog, client, admin_headers):
    rows = get(client, "/items/blog_posts?aggregate[count]=*&groupBy[]=year(published_at)"
                       "&sort=-published_at_year")["data"]
    assert rows == [{"published_at_year": 2024, "count": 3},
                    {"published_at_year": 2023, "count": 3},
                    {"published_at_year": 2022, "count": 2}]
    resp = client.post("/graphql", json={"query": '{ blog_posts_aggregated(groupBy: '
                                                  '["year(published_at)", "title"], sort: '
                                                  '["title"], limit: 2) { group countAll } }'},
                       headers=admin_headers)
    assert resp.get_json()["data"]["blog_posts_aggregated"] == [
        {"group": {"published_at_year": 2023, "title": "Post 1"}, "countAll": 1},
        {"group": {"published_at_year": 2024, "title": "Post 2"}, "countAll": 1}]


# -- timestamps with Z or an offset compare the instant --------------------------------------
@pytest.mark.parametrize("value", ["2024-02-02T12:00:00Z", "2024-02-02T12:00:00.000Z",
                                   "2024-02-02T14:00:00+02:00", "2024-02-02T07:30:00-04:30"])
def test_timestamp_eq_with_zone_compares_the_utc_instant(blog, client, value):
    q = value.replace("+", "%2B")
    rows = get(client, f"/items/articles?filter[published_at][_eq]={q}&fields=id")["data"]
    assert rows == [{"id": 1}]
    rows = get(client, f"/items/articles?filter[published_at][_neq]={q}&fields=id"
                       "&limit=-1")["data"]
    assert {r["id"] for r in rows} == set(range(2, 13))


@pytest.mark.parametrize(("op", "ids"), [("_gt", {2, 3}), ("_gte", {1, 2, 3}),
                                         ("_lt", set()), ("_lte", {1})])
def test_timestamp_comparisons_with_an_offset(blog, client, op, ids):
    rows = get(client, f"/items/articles?filter[published_at][{op}]=2024-02-02T14:00:00%2B02:00"
                       "&filter[id][_lte]=3&fields=id")["data"]
    assert {r["id"] for r in rows} == ids


def test_timestamp_between_and_in_with_offsets(blog, client):
    rows = get(client, "/items/articles?filter[published_at][_between]="
                       "2024-02-02T13:00:00%2B01:00,2024-03-03T12:00:00Z&fields=id")["data"]
    assert {r["id"] for r in rows} == {1, 2}
    rows = get(client, "/items/articles?filter[published_at][_in]="
                       "2024-02-02T09:00:00-03:00,2024-03-03T13:00:00%2B01:00&fields=id")["data"]
    assert {r["id"] for r in rows} == {1, 2}


# -- a sort_field the caller may not read ------------------------------------------------------
def _sorted_articles(client: Any) -> None:
    call(client, "patch", "/collections/articles", {"meta": {"sort_field": "rating"}})


def test_unreadable_sort_field_falls_back_to_the_primary_key(blog, client, admin_headers):
    _sorted_articles(client)
    user = setup_user(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["id", "title"]}])
    rows = get(client, "/items/articles?limit=3", headers=user["headers"])["data"]
    assert rows == [{"id": 1, "title": "Article 1"}, {"id": 2, "title": "Article 2"},
                    {"id": 3, "title": "Article 3"}]
    # the admin still gets the collection's sort_field order
    rows = get(client, "/items/articles?limit=3&fields=id,rating")["data"]
    assert [r["rating"] for r in rows] == sorted(r["rating"] for r in get(
        client, "/items/articles?limit=-1&fields=rating")["data"])[:3]
    # an explicit sort on the forbidden field is still a 403
    call(client, "get", "/items/articles?sort=rating", status=403, headers=user["headers"])


def test_unreadable_sort_field_and_key_fall_back_to_a_readable_field(blog, client,
                                                                     admin_headers):
    _sorted_articles(client)
    user = setup_user(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["title"]}])
    rows = get(client, "/items/articles?limit=-1", headers=user["headers"])["data"]
    assert len(rows) == 12 and all(set(r) == {"title"} for r in rows)


def test_unreadable_sort_field_for_the_public_role_and_graphql(blog, client, admin_headers):
    _sorted_articles(client)
    public = get(client, "/policies?filter[name][_eq]=$t:public_label&fields=id")["data"]
    call(client, "post", "/permissions", {"policy": public[0]["id"], "collection": "articles",
                                          "action": "read", "fields": ["id", "title"]})
    rows = client.get("/items/articles?limit=2").get_json()
    assert rows["data"] == [{"id": 1, "title": "Article 1"}, {"id": 2, "title": "Article 2"}]
    resp = client.post("/graphql", json={"query": "{ articles(limit: 2) { id title } }"})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["data"]["articles"] == [{"id": "1", "title": "Article 1"},
                                                    {"id": "2", "title": "Article 2"}]


# -- nested paths into relations the caller may not read --------------------------------------
def test_nested_path_into_an_unreadable_relation_is_dropped(blog, client, admin_headers):
    user = setup_user(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["id", "title", "author"]}])
    rows = get(client, "/items/articles?fields=id,author.name&limit=2",
               headers=user["headers"])["data"]
    assert rows == [{"id": 1}, {"id": 2}]
    rows = get(client, "/items/articles?fields=*,author.*&limit=1",
               headers=user["headers"])["data"]
    assert rows == [{"id": 1, "title": "Article 1"}]
    rows = get(client, "/items/articles?fields=id,author&limit=1", headers=user["headers"])
    assert rows["data"] == [{"id": 1, "author": 2}]
    # a forbidden field itself is still a 403
    call(client, "get", "/items/articles?fields=id,rating", status=403, headers=user["headers"])
    call(client, "get", "/items/articles?fields=id,author.nope", status=200,
         headers=user["headers"])


# -- /server/info and the OpenAPI document ---------------------------------------------------
def test_server_info_reports_a_directus_11_version(blog, client):
    from transom import __version__

    info = get(client, "/server/info")["data"]
    major, minor, patch = info["version"].split(".")
    assert major == "11" and minor.isdigit() and patch.isdigit()
    assert info["transom_version"] == __version__
    public = client.get("/server/info").get_json()["data"]
    assert "version" not in public and "transom_version" not in public


def test_openapi_lists_system_routes_next_to_items(blog, client):
    paths = get(client, "/server/specs/oas")["paths"]
    for path in ("/auth/login", "/auth/refresh", "/users", "/users/me", "/roles", "/files",
                 "/collections", "/fields", "/relations", "/server/info",
                 "/items/articles", "/items/articles/{id}", "/items/authors"):
        assert path in paths, path
    assert "post" in paths["/auth/login"] and "get" in paths["/users"]


# -- schema services emit Directus's event names ---------------------------------------------
def test_schema_services_emit_directus_event_names(app, client):
    from transom.events import Filter, Listener

    bus = app.extensions["transom"].events
    seen: list[tuple[str, Any]] = []
    scopes = ("collections", "fields", "relations")
    for scope in scopes:
        for action in ("create", "update", "delete"):
            bus.add_listener(Listener(f"{scope}.{action}", lambda meta, ctx: seen.append(
                (meta["event"], meta.get("key", meta.get("keys"))))))

    def rename_note(payload: Any, meta: dict[str, Any], ctx: Any) -> Any:
        return {**payload, "meta": {**(payload.get("meta") or {}), "note": "via filter"}}

    bus.add_filter(Filter("fields.create", rename_note))
    call(client, "post", "/collections", {"collection": "shelves", "fields": [
        {"field": "id", "type": "integer", "schema": {"is_primary_key": True,
                                                      "has_auto_increment": True}}]})
    call(client, "post", "/collections", {"collection": "books", "fields": [
        {"field": "id", "type": "integer", "schema": {"is_primary_key": True,
                                                      "has_auto_increment": True}}]})
    call(client, "post", "/fields/books", {"field": "shelf", "type": "integer"})
    assert data(call(client, "get", "/fields/books/shelf"))["meta"]["note"] == "via filter"
    call(client, "patch", "/fields/books/shelf", {"meta": {"note": "changed"}})
    call(client, "post", "/relations", {"collection": "books", "field": "shelf",
                                        "related_collection": "shelves"})
    call(client, "patch", "/relations/books/shelf", {"meta": {"one_deselect_action": "delete"}})
    call(client, "patch", "/collections/books", {"meta": {"note": "shelved"}})
    call(client, "delete", "/relations/books/shelf", status=204)
    call(client, "delete", "/fields/books/shelf", status=204)
    call(client, "delete", "/collections/books", status=204)
    assert seen == [
        ("collections.create", "shelves"), ("collections.create", "books"),
        ("fields.create", "shelf"), ("fields.update", ["shelf"]),
        ("relations.create", "shelf"), ("relations.update", ["shelf"]),
        ("collections.update", ["books"]), ("relations.delete", ["shelf"]),
        ("fields.delete", ["shelf"]), ("collections.delete", ["books"])]


def test_a_schema_filter_can_cancel_a_change(app, client, admin_headers):
    from transom.errors import InvalidPayloadError
    from transom.events import Filter

    def refuse(payload: Any, meta: dict[str, Any], ctx: Any) -> Any:
        raise InvalidPayloadError("no new collections today")

    app.extensions["transom"].events.add_filter(Filter("collections.create", refuse))
    resp = client.post("/collections", json={"collection": "nope"},
                       headers=admin_headers)
    assert resp.status_code == 400
    assert "no new collections today" in resp.get_json()["errors"][0]["message"]
    assert client.get("/collections/nope", headers=admin_headers
                      ).status_code in (403, 404)


# -- date-updated, csv_utf8, sessions in GraphQL ---------------------------------------------
def test_date_updated_is_set_on_update_only(app, client):
    call(client, "post", "/collections", {"collection": "notes", "fields": [
        {"field": "id", "type": "integer", "schema": {"is_primary_key": True,
                                                      "has_auto_increment": True}},
        {"field": "text", "type": "string"},
        {"field": "date_created", "type": "timestamp", "meta": {"special": ["date-created"]}},
        {"field": "date_updated", "type": "timestamp", "meta": {"special": ["date-updated"]}},
    ]})
    made = data(call(client, "post", "/items/notes", {"text": "a"}))
    assert made["date_created"] is not None and made["date_updated"] is None
    changed = data(call(client, "patch", f"/items/notes/{made['id']}", {"text": "b"}))
    assert changed["date_updated"] is not None and changed["date_updated"] >= made["date_created"]


def test_csv_utf8_export_names_one_charset(blog, client):
    resp = call(client, "get", "/items/articles?export=csv_utf8&fields=id,title&limit=2")
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.headers["Content-Type"].count("charset") == 1
    assert resp.get_data().startswith("\ufeff".encode())
    plain = call(client, "get", "/items/articles?export=csv&fields=id&limit=1")
    assert plain.headers["Content-Type"].count("charset") <= 1


def test_graphql_sessions_conceal_refresh_tokens(blog, client, admin_headers):
    from transom.testing.plugin import ADMIN_EMAIL, ADMIN_PASSWORD

    login = data(call(client, "post", "/auth/login",
                      {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, headers={}))
    resp = client.post("/graphql/system", json={"query": "{ sessions { token next_token "
                                                         "expires user { id } } }"},
                       headers=admin_headers)
    body = resp.get_json()
    assert resp.status_code == 200 and "errors" not in body, body
    sessions = body["data"]["sessions"]
    assert sessions and all(s["token"] == "**********" for s in sessions)
    assert login["refresh_token"] not in resp.get_data(as_text=True)
    # the refresh token itself still works
    again = data(call(client, "post", "/auth/refresh",
                      {"refresh_token": login["refresh_token"], "mode": "json"}, headers={}))
    assert again["refresh_token"] != login["refresh_token"]


# -- views and tables without a primary key are read-only collections in GraphQL -----------
@pytest.fixture
def keyless(blog):
    import sqlalchemy as sa

    cms = blog.extensions["transom"]
    with cms.engine.begin() as conn:
        conn.execute(sa.text("CREATE VIEW article_titles AS SELECT id, title, rating "
                             "FROM articles WHERE id <= 3"))
        conn.execute(sa.text("CREATE TABLE tallies (label VARCHAR(20), n INTEGER)"))
        conn.execute(sa.text("INSERT INTO tallies (label, n) VALUES ('a', 2), ('b', 40)"))
    cms.refresh_schema()
    yield blog
    with cms.engine.begin() as conn:
        conn.execute(sa.text("DROP VIEW article_titles"))
        conn.execute(sa.text("DROP TABLE tallies"))


def _gql(client: Any, query: str, headers: dict[str, str]) -> dict[str, Any]:
    resp = client.post("/graphql", json={"query": query}, headers=headers)
    return resp.get_json()


def test_views_and_keyless_tables_are_readable_in_graphql(keyless, client, admin_headers):
    rest = get(client, "/items/tallies?sort=label")["data"]
    assert rest == [{"label": "a", "n": 2}, {"label": "b", "n": 40}]
    body = _gql(client, "{ article_titles(sort: [\"id\"]) { id title } "
                        "tallies(sort: [\"label\"]) { label n } "
                        "tallies_aggregated { sum { n } count { label } } }", admin_headers)
    assert "errors" not in body, body
    got = body["data"]
    assert [r["title"] for r in got["article_titles"]] == ["Article 1", "Article 2",
                                                           "Article 3"]
    assert got["tallies"] == rest
    assert got["tallies_aggregated"] == [{"sum": {"n": 42}, "count": {"label": 2}}]
    filtered = _gql(client, '{ tallies(filter: {n: {_gt: 10}}) { label } }', admin_headers)
    assert filtered["data"]["tallies"] == [{"label": "b"}]


def test_views_and_keyless_tables_are_read_only_in_graphql(keyless, client, admin_headers):
    body = _gql(client, '{ __schema { mutationType { fields { name } } '
                        'queryType { fields { name } } } }', admin_headers)
    mutations = {f["name"] for f in body["data"]["__schema"]["mutationType"]["fields"]}
    queries = {f["name"] for f in body["data"]["__schema"]["queryType"]["fields"]}
    assert "create_articles_item" in mutations
    assert not {m for m in mutations if "tallies" in m or "article_titles" in m}
    assert {"tallies", "tallies_aggregated", "article_titles"} <= queries
    assert "tallies_by_id" not in queries
    body = _gql(client, 'mutation { create_tallies_item(data: {label: "c"}) }', admin_headers)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION"
    assert 'Cannot query field "create_tallies_item"' in str(body["errors"])
    for method, url, body in [("post", "/items/tallies", {"label": "c"}),
                              ("patch", "/items/tallies", {"query": {"filter": {"n": {
                                  "_eq": 2}}}, "data": {"label": "z"}}),
                              ("delete", "/items/tallies", {"query": {"limit": -1}}),
                              ("post", "/items/article_titles", {"title": "x"})]:
        resp = getattr(client, method)(url, json=body, headers=admin_headers)
        assert resp.status_code == 400, (method, url, resp.get_json())
        assert "read-only" in resp.get_json()["errors"][0]["message"]
    assert get(client, "/items/tallies?sort=label")["data"] == [{"label": "a", "n": 2},
                                                                {"label": "b", "n": 40}]


# -- backlink=false, _json, json(field, path), $FOLLOW -----------------------------------------
def test_backlink_false_drops_the_reverse_relation_from_wildcards(blog_o2m, client):
    full = get(client, "/items/comments?fields=*.*&sort=id&limit=1")["data"][0]
    assert full["article"]["comments"] == [1, 2]
    lean = get(client, "/items/comments?fields=*.*&sort=id&limit=1&backlink=false")["data"][0]
    assert "comments" not in lean["article"]
    assert {k: v for k, v in full["article"].items() if k != "comments"} == lean["article"]
    # from the o2m side, the m2o pointing back to the article goes
    art = get(client, "/items/articles/1?fields=*.*&backlink=false")["data"]
    assert art["comments"] and all("article" not in c for c in art["comments"])
    assert all("article" in c for c in get(client, "/items/articles/1?fields=*.*")
               ["data"]["comments"])
    # a field asked for by name is kept
    named = get(client, "/items/comments/1?fields=article.comments&backlink=false")["data"]
    assert named == {"article": {"comments": [1, 2]}}


def test_json_function_in_fields_and_filters(blog, client):
    rows = get(client, "/items/articles?fields=id,json(data,n),json(data,tags[0])&limit=2"
                       "&sort=id")["data"]
    assert [set(r) for r in rows] == [{"id", "data_n_json", "data_tags_0_json"}] * 2
    assert str(rows[1]["data_n_json"]) == "2" and rows[0]["data_tags_0_json"] == "a"
    rows = get(client, "/items/articles?filter[json(data,n)][_eq]=3&fields=id")["data"]
    assert rows == [{"id": 3}]
    rows = get(client, "/items/articles?filter[json(data,n)][_gt]=10&fields=id")["data"]
    assert rows == [{"id": 11}, {"id": 12}]
    rows = get(client, '/items/articles?filter={"json(data,tags[2])":{"_eq":"c"}}'
                       "&fields=id")["data"]
    assert rows == []
    rows = get(client, '/items/articles?filter={"json(data,tags[1])":{"_eq":"b"}}'
                       "&fields=id")["data"]
    assert rows == [{"id": 2}, {"id": 5}, {"id": 8}, {"id": 11}]


def test_json_filter_operator(blog, client, admin_headers):
    def ids(flt: str) -> set[int]:
        return {r["id"] for r in get(client, f"/items/articles?filter={flt}&fields=id"
                                             "&limit=-1")["data"]}

    assert ids('{"data":{"_json":{"n":{"_eq":2}}}}') == {2}
    assert ids('{"data":{"_json":{"n":{"_gt":10}}}}') == {11, 12}
    assert ids('{"data":{"_json":{"n":{"_between":[3,5]}}}}') == {3, 4, 5}
    assert ids('{"data":{"_json":{"tags[1]":{"_eq":"b"}}}}') == {2, 5, 8, 11}
    assert ids('{"data":{"_json":{"n":{"_lt":3},"tags[0]":{"_eq":"a"}}}}') == {1, 2}
    assert get(client, "/items/articles?filter[data][_json][n][_gte]=12&fields=id")[
        "data"] == [{"id": 12}]
    bad = client.get('/items/articles?filter={"data":{"_json":5}}',
                     headers=admin_headers)
    assert bad.status_code == 400
    bad = client.get('/items/articles?filter={"title":{"_json":{"a":{"_eq":1}}}}',
                     headers=admin_headers)
    assert bad.status_code == 400


def test_follow_filters_a_reverse_relation_without_alias(blog, client, admin_headers):
    def ids(flt: str, **kw: Any) -> set[int]:
        return {r["id"] for r in get(client, f"/items/authors?filter={flt}&fields=id", **kw)
                ["data"]}

    # ratings (i*17)%100 for articles 1..12; authors by i%3 -> AUTHORS[i%3]
    rated = get(client, "/items/articles?filter[rating][_gte]=80&fields=author&limit=-1")[
        "data"]
    expected = {r["author"] for r in rated}
    assert expected
    assert ids('{"$FOLLOW(articles,author)":{"rating":{"_gte":80}}}') == expected
    assert ids('{"$FOLLOW(articles, author)":{"_some":{"rating":{"_gte":80}}}}') == expected
    every = {r["id"] for r in get(client, "/items/authors?fields=id")["data"]}
    assert ids('{"$FOLLOW(articles,author)":{"_none":{"rating":{"_gte":80}}}}') == \
        every - expected
    for flt in ('{"$FOLLOW(articles,title)":{"id":{"_eq":1}}}',
                '{"$FOLLOW(nope,author)":{"id":{"_eq":1}}}',
                '{"$FOLLOW(articles)":{"id":{"_eq":1}}}'):
        call(client, "get", f"/items/authors?filter={flt}", status=400)
    user = setup_user(client, admin_headers, [
        {"collection": "authors", "action": "read", "fields": ["*"]}])
    call(client, "get", '/items/authors?filter={"$FOLLOW(articles,author)":{"id":{"_eq":1}}}',
         status=403, headers=user["headers"])


# -- the same over the real server (gunicorn, two workers) -------------------------------------
@pytest.mark.live
def test_behaviours_on_the_live_server(backend, live_server):
    import urllib.request

    server = live_server(backend)
    server.ok("POST", "/collections", {"collection": "posts", "meta": {"sort_field": "rank"},
                                       "fields": [
        {"field": "id", "type": "integer", "schema": {"is_primary_key": True,
                                                      "has_auto_increment": True}},
        {"field": "title", "type": "string"}, {"field": "rank", "type": "integer"},
        {"field": "published_at", "type": "timestamp"}]})
    server.ok("POST", "/items/posts", [
        {"title": "b", "rank": 1, "published_at": "2023-05-01T10:00:00Z"},
        {"title": "a", "rank": 2, "published_at": "2024-05-01T10:00:00Z"}])
    public = server.ok("GET", "/policies?filter[name][_eq]=$t:public_label&fields=id")[0]
    server.ok("POST", "/permissions", {"policy": public["id"], "collection": "posts",
                                       "action": "read", "fields": ["id", "title"]})
    status, body = server.call("GET", "/items/posts", token=None)
    assert status == 200 and body["data"] == [{"id": 1, "title": "b"}, {"id": 2, "title": "a"}]
    assert server.ok("GET", "/items/posts?fields=title")[0]["title"] == "b"  # rank order
    rows = server.ok("GET", "/items/posts?aggregate[count]=*&groupBy[]=year(published_at)"
                            "&sort=published_at_year")
    assert rows == [{"published_at_year": 2023, "count": 1},
                    {"published_at_year": 2024, "count": 1}]
    found = server.ok("GET", "/items/posts?filter[published_at][_eq]=2024-05-01T12:00:00%2B02:00"
                             "&fields=id")
    assert found == [{"id": 2}]
    info = server.ok("GET", "/server/info")
    assert info["version"].startswith("11.") and info["transom_version"]
    req = urllib.request.Request(server.url("/items/posts?export=csv_utf8"),
                                 headers={"Authorization": f"Bearer {server.admin_token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
