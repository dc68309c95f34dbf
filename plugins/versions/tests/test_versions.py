"""Content versions through real requests on every backend: create, save, compare,
promote, ``?version=`` reads, permissions and bad input."""

from __future__ import annotations

from typing import Any

import pytest

from transom.testing.helpers import setup_user


def call(client: Any, method: str, url: str, headers: dict[str, str], body: Any = None,
         status: int = 200) -> Any:
    r = client.open(url, method=method, json=body, headers=headers)
    assert r.status_code == status, r.get_data(as_text=True)
    return r.get_json() if r.status_code != 204 else None


def code(body: Any) -> str:
    return body["errors"][0]["extensions"]["code"]


@pytest.fixture
def posts(client: Any, admin_headers: dict[str, str]) -> Any:
    """``posts`` (versioning on) with two items, and ``notes`` (versioning off)."""
    h = admin_headers
    for name, versioning in (("posts", True), ("notes", False)):
        call(client, "POST", "/collections", h, {
            "collection": name, "meta": {"versioning": versioning}, "schema": {},
            "fields": [{"field": "id", "type": "integer",
                        "schema": {"is_primary_key": True, "has_auto_increment": True}},
                       {"field": "title", "type": "string"},
                       {"field": "body", "type": "text"}]})
    call(client, "POST", "/items/posts", h, [{"title": "One", "body": "first"},
                                             {"title": "Two", "body": "second"}])
    call(client, "POST", "/items/notes", h, {"title": "Note"})
    return client


def new_version(client: Any, h: dict[str, str], item: Any = 1, key: str = "draft") -> Any:
    return call(client, "POST", "/versions", h, {"key": key, "name": "Draft",
                                                 "collection": "posts", "item": item})["data"]


def test_save_compare_promote(posts, admin_headers):
    h = admin_headers
    version = new_version(posts, h)
    assert version["key"] == "draft" and version["item"] == "1"
    assert version["delta"] is None and len(version["hash"]) >= 16
    vid = version["id"]
    merged = call(posts, "POST", f"/versions/{vid}/save", h, {"title": "One v2"})["data"]
    assert merged == {"id": 1, "title": "One v2", "body": "first"}
    merged = call(posts, "POST", f"/versions/{vid}/save", h, {"body": "edited"})["data"]
    assert merged == {"id": 1, "title": "One v2", "body": "edited"}
    # the main item is untouched; ?version= shows the version
    assert call(posts, "GET", "/items/posts/1", h)["data"]["title"] == "One"
    assert call(posts, "GET", "/items/posts/1?version=draft&fields=id,title", h) == {
        "data": {"id": 1, "title": "One v2"}}
    assert call(posts, "GET", "/items/posts/1?version=main", h)["data"]["title"] == "One"
    # an unknown key is 403, as Directus 11.12+
    bad = call(posts, "GET", "/items/posts/1?version=nope", h, status=403)
    assert code(bad) == "FORBIDDEN"
    call(posts, "GET", "/items/posts/2?version=draft", h, status=403)

    cmp = call(posts, "GET", f"/versions/{vid}/compare", h)["data"]
    assert cmp["outdated"] is False and cmp["mainHash"] == version["hash"]
    assert cmp["current"] == {"title": "One v2", "body": "edited"}
    assert cmp["main"] == {"id": 1, "title": "One", "body": "first"}
    # the main item changes: the version is outdated, promoting with the old hash is a 400
    call(posts, "PATCH", "/items/posts/1", h, {"body": "changed on main"})
    cmp = call(posts, "GET", f"/versions/{vid}/compare", h)["data"]
    assert cmp["outdated"] is True and cmp["mainHash"] != version["hash"]
    stale = call(posts, "POST", f"/versions/{vid}/promote", h,
                 {"mainHash": version["hash"]}, status=400)
    assert "changed" in stale["errors"][0]["message"]
    assert call(posts, "GET", "/items/posts/1", h)["data"]["title"] == "One"
    # a subset of the fields, with the current hash
    key = call(posts, "POST", f"/versions/{vid}/promote", h,
               {"mainHash": cmp["mainHash"], "fields": ["title"]})["data"]
    assert key == 1
    assert call(posts, "GET", "/items/posts/1", h)["data"] == {
        "id": 1, "title": "One v2", "body": "changed on main"}
    # then everything, without a hash check
    call(posts, "POST", f"/versions/{vid}/promote", h, {})
    assert call(posts, "GET", "/items/posts/1", h)["data"]["body"] == "edited"
    # the promote went through the items service: a revision of the main item
    revs = call(posts, "GET", "/revisions?filter[collection][_eq]=posts"
                "&filter[item][_eq]=1&fields=delta&sort=-id&limit=1", h)["data"]
    assert revs[0]["delta"]["body"] == "edited"
    # the CRUD routes are the core's
    listed = call(posts, "GET", "/versions?fields=key,collection,item", h)["data"]
    assert listed == [{"key": "draft", "collection": "posts", "item": "1"}]
    call(posts, "PATCH", f"/versions/{vid}", h, {"name": "Renamed"})
    call(posts, "DELETE", f"/versions/{vid}", h, status=204)
    call(posts, "GET", "/items/posts/1?version=draft", h, status=403)


def test_bad_input(posts, admin_headers):
    h = admin_headers
    for body, status in (
            ({"key": "x", "collection": "posts"}, 400),  # no item
            ({"key": "main", "collection": "posts", "item": 1}, 400),
            ({"key": "x", "collection": "posts", "item": 1, "delta": {"a": 1}}, 400),
            ({"key": "x", "collection": "notes", "item": 1}, 422),  # versioning off
            ({"key": "x", "collection": "nope", "item": 1}, 403),
            ({"key": "x", "collection": "posts", "item": 99}, 403),  # no such item
    ):
        call(posts, "POST", "/versions", h, body, status=status)
    vid = new_version(posts, h)["id"]
    dup = call(posts, "POST", "/versions", h, {"key": "draft", "collection": "posts",
                                               "item": 1}, status=422)
    assert "already exists" in dup["errors"][0]["message"]
    new_version(posts, h, item=2)  # the same key on another item is fine
    assert code(call(posts, "POST", f"/versions/{vid}/save", h, [1], status=400)) == \
        "INVALID_PAYLOAD"
    call(posts, "POST", f"/versions/{vid}/save", h, {"nope": 1}, status=400)
    call(posts, "POST", f"/versions/{vid}/promote", h, {}, status=422)  # nothing saved
    call(posts, "POST", f"/versions/{vid}/save", h, {"title": "T"})
    call(posts, "POST", f"/versions/{vid}/promote", h, {"mainHash": 5}, status=400)
    call(posts, "POST", f"/versions/{vid}/promote", h, {"fields": "title"}, status=400)
    call(posts, "PATCH", f"/versions/{vid}", h, {"item": "2"}, status=400)
    call(posts, "PATCH", f"/versions/{vid}", h, {"delta": {"title": "x"}}, status=400)
    for path in ("save", "compare", "promote"):
        method = "GET" if path == "compare" else "POST"
        call(posts, method, f"/versions/00000000-0000-4000-8000-000000000000/{path}", h,
             {} if method == "POST" else None, status=403)
        call(posts, method, f"/versions/not-a-uuid/{path}", h,
             {} if method == "POST" else None, status=403)
    # nothing half-written: the failed calls left the version as it was
    cmp = call(posts, "GET", f"/versions/{vid}/compare", h)["data"]
    assert cmp["current"] == {"title": "T"}
    assert call(posts, "GET", "/items/posts/1", h)["data"]["title"] == "One"


def test_permissions(posts, admin_headers):
    h = admin_headers
    vid = new_version(posts, h)["id"]
    call(posts, "POST", f"/versions/{vid}/save", h, {"title": "Draft title"})
    versions_rw = [{"collection": "directus_versions", "action": a, "fields": ["*"]}
                   for a in ("read", "create", "update")]
    reader = setup_user(posts, h, [*versions_rw, {"collection": "posts", "action": "read",
                                                  "fields": ["*"]}])["headers"]
    # read on the collection: compare and ?version=, but no save or promote
    assert call(posts, "GET", f"/versions/{vid}/compare", reader)["data"]["current"] == {
        "title": "Draft title"}
    assert call(posts, "GET", "/items/posts/1?version=draft", reader)["data"][
        "title"] == "Draft title"
    call(posts, "POST", f"/versions/{vid}/save", reader, {"title": "x"}, status=403)
    call(posts, "POST", f"/versions/{vid}/promote", reader, {}, status=403)
    assert call(posts, "GET", "/items/posts/1", h)["data"]["title"] == "One"
    # an editor limited to item 2 may version item 2 only
    editor = setup_user(posts, h, [
        *versions_rw,
        {"collection": "posts", "action": "read", "fields": ["*"]},
        {"collection": "posts", "action": "update", "fields": ["*"],
         "permissions": {"id": {"_eq": 2}}}])["headers"]
    call(posts, "POST", f"/versions/{vid}/save", editor, {"title": "x"}, status=403)
    other = new_version(posts, editor, item=2)["id"]
    call(posts, "POST", f"/versions/{other}/save", editor, {"title": "Two v2"})
    call(posts, "POST", f"/versions/{other}/promote", editor, {})
    assert call(posts, "GET", "/items/posts/2", h)["data"]["title"] == "Two v2"
    # nobody without read on the collection may create a version of its items
    stranger = setup_user(posts, h, versions_rw)["headers"]
    call(posts, "POST", "/versions", stranger, {"key": "k", "collection": "posts",
                                                "item": 1}, status=403)
    call(posts, "GET", f"/versions/{vid}/compare", stranger, status=403)
    # and without read on directus_versions, the version is not there
    plain = setup_user(posts, h, [{"collection": "posts", "action": "read",
                                   "fields": ["*"]}])["headers"]
    call(posts, "GET", f"/versions/{vid}/compare", plain, status=403)


def test_graphql_by_version(posts, admin_headers):
    h = admin_headers
    vid = new_version(posts, h)["id"]
    call(posts, "POST", f"/versions/{vid}/save", h, {"title": "GraphQL draft"})
    query = '{ posts_by_version(id: 1, version: "%s") { id title body } }'
    r = call(posts, "POST", "/graphql", h, {"query": query % "draft"})
    assert r == {"data": {"posts_by_version": {"id": "1", "title": "GraphQL draft",
                                               "body": "first"}}}
    r = call(posts, "POST", "/graphql", h, {"query": query % "nope"})
    assert r["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    r = call(posts, "POST", "/graphql", h, {"query": "{ posts_by_id(id: 1) { title } }"})
    assert r == {"data": {"posts_by_id": {"title": "One"}}}


def test_singleton_versions(client, admin_headers):
    h = admin_headers
    call(client, "POST", "/collections", h, {
        "collection": "home", "meta": {"versioning": True, "singleton": True}, "schema": {},
        "fields": [{"field": "id", "type": "integer",
                    "schema": {"is_primary_key": True, "has_auto_increment": True}},
                   {"field": "headline", "type": "string"}]})
    call(client, "PATCH", "/items/home", h, {"headline": "Welcome"})
    vid = call(client, "POST", "/versions", h, {"key": "next", "collection": "home",
                                                "item": "1"})["data"]["id"]
    merged = call(client, "POST", f"/versions/{vid}/save", h, {"headline": "Hello"})["data"]
    assert merged["headline"] == "Hello"
    assert call(client, "GET", "/items/home?version=next", h)["data"]["headline"] == "Hello"
    assert call(client, "GET", "/items/home", h)["data"]["headline"] == "Welcome"
    call(client, "GET", "/items/home?version=other", h, status=403)
    r = call(client, "POST", "/graphql", h,
             {"query": '{ home_by_version(version: "next") { headline } }'})
    assert r == {"data": {"home_by_version": {"headline": "Hello"}}}
    call(client, "POST", f"/versions/{vid}/promote", h, {})
    assert call(client, "GET", "/items/home", h)["data"]["headline"] == "Hello"
