"""Reads of big collections: counts in one pass (and estimates on request), streamed
``limit=-1`` answers and JSON exports, on every backend and on the live server."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
import sqlalchemy as sa

from transom.query.export import export_items
from transom.testing.plugin import count_statements

N = 2_500


def _ok(client: Any, headers: dict[str, str], method: str, url: str, body: Any) -> Any:
    resp = getattr(client, method)(url, json=body, headers=headers)
    assert resp.status_code in (200, 204), resp.get_data(as_text=True)
    return resp.get_json()


POSTS_BODY = {"collection": "posts", "schema": {}, "fields": [
    {"field": "id", "type": "integer",
     "schema": {"is_primary_key": True, "has_auto_increment": True}},
    {"field": "title", "type": "string"},
    {"field": "status", "type": "string"},
    {"field": "rank", "type": "integer"},
    {"field": "owner", "type": "integer", "meta": {"special": ["m2o"]}},
]}
OWNERS_BODY = {"collection": "owners", "schema": {}, "fields": [
    {"field": "id", "type": "integer",
     "schema": {"is_primary_key": True, "has_auto_increment": True}},
    {"field": "name", "type": "string"},
]}
RELATION = {"collection": "posts", "field": "owner", "related_collection": "owners",
            "schema": {"on_delete": "SET NULL"}}


def post_rows(n: int = N) -> list[dict[str, Any]]:
    return [{"id": i, "title": f"Post {i} é", "status": "published" if i % 4 else "draft",
             "rank": i % 97, "owner": i % 10 + 1 if i % 7 else None} for i in range(1, n + 1)]


def owner_rows() -> list[dict[str, Any]]:
    return [{"id": i, "name": f"Owner {i}"} for i in range(1, 11)]


def insert(engine: sa.Engine, table: str, rows: list[dict[str, Any]]) -> None:
    t = sa.Table(table, sa.MetaData(), autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(t.insert(), rows)


@pytest.fixture
def posts(app: Any, client: Any, admin_headers: dict[str, str]) -> Any:
    _ok(client, admin_headers, "post", "/collections", OWNERS_BODY)
    _ok(client, admin_headers, "post", "/collections", POSTS_BODY)
    _ok(client, admin_headers, "post", "/relations", RELATION)
    engine = app.extensions["transom"].engine
    insert(engine, "owners", owner_rows())
    insert(engine, "posts", post_rows())
    return app


def content_selects(seen: list[str]) -> list[str]:
    return [s for s in seen if s.lstrip().upper().startswith("SELECT")
            and "directus_" not in s]


def test_both_counts_in_one_statement(posts, client, admin_headers):
    engine = posts.extensions["transom"].engine
    drafts = sum(1 for r in post_rows() if r["status"] == "draft")
    with count_statements(engine) as seen:
        resp = client.get("/items/posts?fields=id&limit=1&meta=total_count,filter_count"
                          "&filter[status][_eq]=draft", headers=admin_headers)
    body = resp.get_json()
    assert resp.status_code == 200
    assert body["meta"] == {"total_count": N, "filter_count": drafts}
    assert list(body) == ["meta", "data"]
    assert len(content_selects(seen)) == 2  # the page, then both counts at once
    # without a filter the two counts are one count
    with count_statements(engine) as seen:
        body = client.get("/items/posts?fields=id&limit=1&meta=*", headers=admin_headers
                          ).get_json()
    assert body["meta"] == {"total_count": N, "filter_count": N}
    assert len(content_selects(seen)) == 2
    body = client.get("/items/posts?limit=1&meta=filter_count&search=Post 12",
                      headers=admin_headers).get_json()
    assert body["meta"] == {"filter_count": sum(
        1 for r in post_rows() if "Post 12" in r["title"])}


def test_estimated_counts_are_opt_in(posts, client, admin_headers, backend):
    engine = posts.extensions["transom"].engine
    exact = client.get("/items/posts?limit=1&meta=total_count,filter_count"
                       "&filter[status][_eq]=published", headers=admin_headers).get_json()
    published = sum(1 for r in post_rows() if r["status"] == "published")
    assert exact["meta"] == {"total_count": N, "filter_count": published}
    if backend == "postgres":
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE posts"))
    url = ("/items/posts?limit=1&meta=total_count,filter_count&estimate=true"
           "&filter[status][_eq]=published")
    with count_statements(engine) as seen:
        body = client.get(url, headers=admin_headers).get_json()
    assert set(body["meta"]) == {"total_count", "filter_count"}
    if backend == "postgres":
        # the planner's figures: close, not exact, and no count(*) ran
        assert abs(body["meta"]["total_count"] - N) <= N * 0.2
        assert abs(body["meta"]["filter_count"] - published) <= published * 0.2
        assert not any("count(" in s.lower() for s in content_selects(seen))
        assert any(s.startswith("EXPLAIN") for s in seen)
    else:
        assert body["meta"] == exact["meta"]  # no estimates here: exact counts
    resp = client.get("/items/posts?meta=total_count&estimate=maybe", headers=admin_headers)
    assert resp.status_code == 400
    assert resp.get_json()["errors"][0]["extensions"]["code"] == "INVALID_QUERY"


@pytest.mark.backends("postgres")
def test_unanalysed_postgres_table_counts_exactly(posts, client, admin_headers):
    engine = posts.extensions["transom"].engine
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE fresh_rows (id integer primary key)"))
        conn.execute(sa.text("INSERT INTO fresh_rows SELECT generate_series(1, 321)"))
    posts.extensions["transom"].schema_changed()
    body = client.get("/items/fresh_rows?limit=1&meta=total_count&estimate=true",
                      headers=admin_headers).get_json()
    assert body["meta"] == {"total_count": 321}


def test_limit_minus_one_is_streamed_with_the_same_answer(posts, client, admin_headers):
    fields = "id,title,status,owner.name"
    streamed = client.get(f"/items/posts?fields={fields}&limit=-1&meta=total_count"
                          "&sort=-rank,id", headers=admin_headers)
    assert streamed.status_code == 200 and streamed.is_streamed
    assert streamed.headers["Content-Type"] == "application/json"
    body = json.loads(streamed.get_data())
    buffered = client.get(f"/items/posts?fields={fields}&limit={N}&sort=-rank,id",
                          headers=admin_headers).get_json()
    assert body == {"meta": {"total_count": N}, "data": buffered["data"]}
    assert len(body["data"]) == N
    assert body["data"][0]["owner"] == {"name": "Owner 7"} or body["data"][0]["owner"] is None
    empty = client.get("/items/posts?limit=-1&filter[id][_lt]=0", headers=admin_headers)
    assert json.loads(empty.get_data()) == {"data": []}


def test_streamed_bad_query_is_still_a_clear_4xx(posts, client, admin_headers):
    resp = client.get("/items/posts?fields=nope&limit=-1", headers=admin_headers)
    assert resp.status_code == 403
    assert resp.get_json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    resp = client.get("/items/posts?limit=-1&filter[rank][_eq]=abc", headers=admin_headers)
    assert resp.status_code == 400
    resp = client.get("/items/posts?export=json&filter[rank][_bogus]=1", headers=admin_headers)
    assert resp.status_code == 400


def test_json_export_streamed_matches_the_buffered_document(posts, client, admin_headers):
    resp = client.get("/items/posts?fields=id,title,owner.name&export=json&limit=-1",
                      headers=admin_headers)
    assert resp.status_code == 200 and resp.is_streamed
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="posts ')
    raw = resp.get_data()
    items = client.get(f"/items/posts?fields=id,title,owner.name&limit={N}",
                       headers=admin_headers).get_json()["data"]
    assert raw == export_items(items, "json")[0]  # byte for byte, pretty-printed
    empty = client.get("/items/posts?export=json&filter[id][_lt]=0", headers=admin_headers)
    assert empty.get_data() == export_items([], "json")[0]


def test_streaming_reads_in_chunks(posts, admin_headers):
    """Relations are fetched per chunk: statements grow with chunks, not with rows."""
    from transom.services.items import ItemsService

    cms = posts.extensions["transom"]
    svc = ItemsService(cms, "posts")
    with count_statements(cms.engine) as seen:
        chunks = list(svc.stream_by_query(
            {"fields": ["id", "owner.name", "owner.id"], "limit": -1, "sort": ["id"]},
            chunk_size=1000))
    assert [len(c) for c in chunks] == [1000, 1000, 500]
    assert len(content_selects(seen)) == 1  # the owner m2o is a join of the root
    assert chunks[2][-1]["id"] == N


def fill_posts(server: Any) -> None:
    """Create owners and posts on a live server and fill posts over HTTP, 500 at a time."""
    server.ok("POST", "/collections", OWNERS_BODY)
    server.ok("POST", "/collections", POSTS_BODY)
    server.ok("POST", "/relations", RELATION)
    for start in range(0, N, 500):
        server.ok("POST", "/items/posts", [
            {k: v for k, v in r.items() if k not in ("id", "owner")}
            for r in post_rows()[start:start + 500]])


def test_live_export_of_many_rows_streams(live_server, backend):
    server = live_server(backend, workers=2)
    fill_posts(server)
    req = urllib.request.Request(server.url("/items/posts?export=json&limit=-1&fields=id"),
                                 headers={"Authorization": f"Bearer {server.admin_token}"})
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - our server
        assert resp.headers.get("Transfer-Encoding") == "chunked"
        rows = json.loads(resp.read())
    assert len(rows) == N and rows[-1] == {"id": N}
    status, body = server.call("GET", "/items/posts?limit=-1&fields=id&meta=total_count")
    assert status == 200
    assert body["meta"] == {"total_count": N} and len(body["data"]) == N
    # keyset pages, each possibly answered by another worker
    ids: list[int] = []
    url = "/items/posts?fields=id&sort=-id&limit=1000&keyset=true"
    while url:
        status, body = server.call("GET", url)
        assert status == 200, body
        ids.extend(item["id"] for item in body["data"])
        cursor = body["meta"]["next_cursor"]
        url = f"/items/posts?fields=id&sort=-id&limit=1000&after={cursor}" if cursor else ""
    assert ids == list(range(N, 0, -1))


def test_keyset_pages_walk_the_whole_collection(posts, client, admin_headers):
    seen: list[int] = []
    url = "/items/posts?fields=title&sort=-id&limit=400&keyset=true"
    pages = 0
    while url:
        resp = client.get(url, headers=admin_headers)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        body = resp.get_json()
        assert set(body["meta"]) == {"next_cursor"}
        assert all(set(item) == {"title"} for item in body["data"])  # id only in the cursor
        seen.extend(int(item["title"].split()[1]) for item in body["data"])
        pages += 1
        cursor = body["meta"]["next_cursor"]
        url = f"/items/posts?fields=title&sort=-id&limit=400&after={cursor}" if cursor else ""
    assert seen == list(range(N, 0, -1))
    assert pages == -(-N // 400)


def test_keyset_with_filter_meta_and_a_non_unique_sort(posts, client, admin_headers):
    client_patch = client.patch("/fields/posts/rank", json={"schema": {"is_nullable": False}},
                                headers=admin_headers)
    assert client_patch.status_code == 200, client_patch.get_data(as_text=True)
    expected = [r["id"] for r in sorted(
        (r for r in post_rows() if r["status"] == "published"),
        key=lambda r: (-r["rank"], r["id"]))]
    got: list[int] = []
    after = ""
    while True:
        resp = client.get("/items/posts?fields=id,rank&sort=-rank&limit=333"
                          "&filter[status][_eq]=published&meta=filter_count"
                          + (f"&after={after}" if after else "&keyset=true"),
                          headers=admin_headers)
        body = resp.get_json()
        assert body["meta"]["filter_count"] == len(expected)
        got.extend(item["id"] for item in body["data"])
        after = body["meta"]["next_cursor"]
        if not after:
            break
    assert got == expected


def test_keyset_refuses_what_it_cannot_resume(posts, client, admin_headers):
    first = client.get("/items/posts?sort=id&limit=2&keyset=true", headers=admin_headers)
    cursor = first.get_json()["meta"]["next_cursor"]
    for url, message in (
        ("/items/posts?keyset=true&sort=title", "may be null"),
        ("/items/posts?keyset=true&sort=owner.name", "plain fields"),
        ("/items/posts?keyset=true&offset=5", "offset or page"),
        (f"/items/posts?after={cursor}&sort=-id", "another sort"),
        ("/items/posts?after=not-a-cursor!!", "not a valid cursor"),
        ("/items/posts?after=W251bGxd", "not a valid cursor"),  # base64 of [null]
        ("/items/posts?keyset=maybe", "boolean"),
    ):
        resp = client.get(url, headers=admin_headers)
        assert resp.status_code == 400, (url, resp.get_data(as_text=True))
        error = resp.get_json()["errors"][0]
        assert error["extensions"]["code"] == "INVALID_QUERY"
        assert message in error["message"], (url, error["message"])
    second = client.get(f"/items/posts?sort=id&limit=2&after={cursor}&fields=id",
                        headers=admin_headers).get_json()
    assert second["data"] == [{"id": 3}, {"id": 4}]
