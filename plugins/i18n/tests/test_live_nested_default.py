"""Nested translations and the project's ``default_language`` over HTTP against the real
server (``transom start``, 2 workers): a ``PATCH /settings`` is honoured by every worker
from the next request on."""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.live


def test_nested_and_default_language_over_http(live_server, backend):
    server = live_server(workers=2)
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {server.admin_token}"
    base = server.base_url

    def ok(r: requests.Response) -> requests.Response:
        assert r.status_code in (200, 204), r.text
        return r

    pk = {"field": "id", "type": "integer",
          "schema": {"is_primary_key": True, "has_auto_increment": True}}
    ok(api.post(f"{base}/collections", json={
        "collection": "authors", "schema": {}, "fields": [pk, {"field": "name",
                                                               "type": "string"}]}))
    ok(api.post(f"{base}/collections", json={
        "collection": "books", "schema": {},
        "fields": [pk, {"field": "title", "type": "string"},
                   {"field": "author", "type": "integer", "meta": {"special": ["m2o"]}}]}))
    ok(api.post(f"{base}/relations", json={"collection": "books", "field": "author",
                                           "related_collection": "authors"}))
    ok(api.post(f"{base}/items/authors", json={"name": "Ann"}))
    ok(api.post(f"{base}/items/books", json={"title": "Sea", "author": 1}))
    for coll, name in (("authors", "name"), ("books", "title")):
        ok(api.patch(f"{base}/collections/{coll}", json={"schema": {"fields": [
            {"field": name, "type": "string", "translatable": True}]}}))
    ok(api.patch(f"{base}/items/authors/1", json={"name": "Ana"},
                 headers={"Content-Language": "es"}))
    ok(api.patch(f"{base}/items/books/1", json={"title": "Mar"},
                 headers={"Content-Language": "es"}))
    url = f"{base}/items/books/1?fields=title,author.name"
    for _ in range(4):
        r = ok(api.get(url, headers={"Accept-Language": "es"}))
        assert r.json() == {"data": {"title": "Mar", "author": {"name": "Ana"}}}
        r = ok(api.get(url, headers={"Accept-Language": "fr"}))
        assert r.json() == {"data": {"title": "Sea", "author": {"name": "Ann"}}}
    ok(api.patch(f"{base}/settings", json={"default_language": "es"}))
    # every worker, from the next request on: French readers now fall back to Spanish
    for _ in range(6):
        r = ok(api.get(url, headers={"Accept-Language": "fr"}))
        assert r.json() == {"data": {"title": "Mar", "author": {"name": "Ana"}}}
        assert r.headers["Content-Language"] == "es"
    ok(api.patch(f"{base}/settings", json={"default_language": "en-US"}))
    for _ in range(6):
        r = ok(api.get(url, headers={"Accept-Language": "fr"}))
        assert r.json()["data"]["title"] == "Sea"
