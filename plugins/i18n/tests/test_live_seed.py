"""The seed article's i18n snippet, verbatim, with Python ``requests`` against the real
server (``transom start``, 2 workers), on every backend."""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.live


def test_seed_snippet_over_http(live_server, backend):
    server = live_server()
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {server.admin_token}"
    base = server.base_url

    r = api.post(f"{base}/collections", json={
        "collection": "blog_posts", "schema": {},
        "fields": [{"field": "id", "type": "integer",
                    "schema": {"is_primary_key": True, "has_auto_increment": True}},
                   {"field": "title", "type": "string"}]})
    assert r.status_code == 200, r.text
    r = api.post(f"{base}/items/blog_posts", json={"title": "Hello"})
    assert r.status_code == 200, r.text
    post = r.json()["data"]["id"]

    # the article's snippet, as written there
    r = api.patch(f"{base}/collections/blog_posts", json={"schema": {"fields": [
        {"field": "title", "type": "string", "translatable": True, "required": True}]}})
    assert r.status_code == 200, r.text
    r = api.get(f"{base}/fields/blog_posts/title")
    assert r.json()["data"]["translatable"] is True

    # a Spanish write goes to the Spanish row ...
    r = api.patch(f"{base}/items/blog_posts/{post}", json={"title": "Hola"},
                  headers={"Content-Language": "es"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Language"] == "es"
    # ... and never overwrites the English title, on any worker
    for _ in range(4):
        r = api.get(f"{base}/items/blog_posts/{post}?fields=id,title")
        assert r.json() == {"data": {"id": post, "title": "Hello"}}
        r = api.get(f"{base}/items/blog_posts/{post}?fields=id,title",
                    headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"})
        assert r.json() == {"data": {"id": post, "title": "Hola"}}
        assert r.headers["Content-Language"] == "es"
        assert "Accept-Language" in r.headers["Vary"]
    r = api.get(f"{base}/items/blog_posts?lang=es&fields=title")
    assert r.json() == {"data": [{"title": "Hola"}]}
    r = api.post(f"{base}/graphql", json={"query": "{ blog_posts { title } }"},
                 headers={"Accept-Language": "es"})
    assert r.json() == {"data": {"blog_posts": [{"title": "Hola"}]}}
    # the Directus-style o2m is still there for existing front ends
    r = api.get(f"{base}/items/blog_posts/{post}?fields=translations.languages_code,"
                "translations.title&deep[translations][_sort]=languages_code")
    assert r.json() == {"data": {"translations": [
        {"languages_code": "en-US", "title": "Hello"},
        {"languages_code": "es", "title": "Hola"}]}}
