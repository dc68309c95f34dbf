"""``<collection>_page``: keyset pagination over GraphQL, the same cursors as REST's
``?keyset=true`` (ItemsService.read_page), on every backend and over HTTP."""

from __future__ import annotations

from typing import Any

PAGE = """query ($after: String, $limit: Int, $sort: [String], $filter: articles_filter) {
  articles_page(after: $after, limit: $limit, sort: $sort, filter: $filter) {
    items { id title author { name } }
    next_cursor
  }
}"""


def walk(fetch: Any, **variables: Any) -> tuple[list[dict[str, Any]], int]:
    """Every item, page after page, and how many pages it took."""
    items: list[dict[str, Any]] = []
    after, pages = None, 0
    while True:
        page = fetch({**variables, "after": after})["articles_page"]
        items.extend(page["items"])
        pages += 1
        after = page["next_cursor"]
        if after is None:
            return items, pages


def test_pages_walk_the_collection_in_order(gql, client, admin_headers):
    items, pages = walk(lambda v: gql.data(PAGE, v), limit=5, sort=["-id"])
    assert [it["id"] for it in items] == [str(i) for i in range(12, 0, -1)]  # ID: strings
    assert pages == 3  # 5 + 5 + 2: the short page is the last
    assert items[0]["title"] == "Article 12" and items[0]["author"]["name"]
    rest = client.get("/items/articles?sort=-id&limit=12&fields=id,title,author.name",
                      headers=admin_headers).get_json()["data"]
    assert [it["title"] for it in items] == [it["title"] for it in rest]


def test_cursor_is_the_rest_cursor(gql, client, admin_headers):
    page = gql.data(PAGE, {"limit": 4, "sort": ["id"]})["articles_page"]
    rest = client.get("/items/articles?sort=id&limit=4&fields=id,title,author.name"
                      "&keyset=true", headers=admin_headers).get_json()
    assert page["next_cursor"] == rest["meta"]["next_cursor"]
    nxt = client.get(f"/items/articles?sort=id&limit=4&fields=title&after="
                     f"{page['next_cursor']}", headers=admin_headers).get_json()["data"]
    assert [it["title"] for it in nxt] == [f"Article {i}" for i in range(5, 9)]


def test_filter_and_no_selected_key(gql):
    flt = {"title": {"_in": ["Article 2", "Article 5", "Article 9"]}}
    items, _ = walk(lambda v: gql.data(PAGE, v), limit=2, sort=["id"], filter=flt)
    assert [it["title"] for it in items] == ["Article 2", "Article 5", "Article 9"]
    data = gql.data("{ articles_page(limit: 3) { next_cursor } }")["articles_page"]
    assert isinstance(data["next_cursor"], str)


def test_bad_cursor_and_sort_are_clear_errors(gql):
    for variables, needle in (({"after": "%%%", "sort": ["id"]}, "cursor"),
                              ({"sort": ["rating"]}, "may be null"),
                              ({"sort": ["author.name"]}, "plain fields")):
        body = gql(PAGE, variables).get_json()
        assert body["data"] is None, body
        error = body["errors"][0]
        assert error["extensions"]["code"] == "INVALID_QUERY" and needle in error["message"]
    cursor = gql.data(PAGE, {"limit": 2, "sort": ["id"]})["articles_page"]["next_cursor"]
    body = gql(PAGE, {"after": cursor, "sort": ["-id"]}).get_json()
    assert "another sort" in body["errors"][0]["message"]


def test_pages_live(live_server, backend):
    server = live_server(backend, workers=2)
    server.ok("POST", "/collections", {"collection": "notes", "schema": {}, "fields": [
        {"field": "id", "type": "integer",
         "schema": {"is_primary_key": True, "has_auto_increment": True}},
        {"field": "body", "type": "string"}]})
    server.ok("POST", "/items/notes", [{"body": f"note {i}"} for i in range(1, 251)])
    query = ("query ($after: String) { notes_page(limit: 40, sort: [\"id\"], after: $after)"
             " { items { id body } next_cursor } }")
    seen: list[str] = []
    after = None
    while True:  # each page possibly answered by the other worker
        status, body = server.call("POST", "/graphql",
                                   {"query": query, "variables": {"after": after}})
        assert status == 200 and "errors" not in body, body
        page = body["data"]["notes_page"]
        seen.extend(it["body"] for it in page["items"])
        after = page["next_cursor"]
        if after is None:
            break
    assert seen == [f"note {i}" for i in range(1, 251)]
