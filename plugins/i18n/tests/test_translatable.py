"""``translatable: true`` fields: storage, writes by ``Content-Language`` and reads by
``Accept-Language``, through real requests on every backend."""

from __future__ import annotations

from typing import Any

import pytest
from transom_i18n.negotiate import parse_accept_language, with_fallbacks

from transom.testing.helpers import setup_user

SEED_SNIPPET = {"schema": {"fields": [
    {"field": "title", "type": "string", "translatable": True, "required": True}]}}


def call(client: Any, method: str, url: str, headers: dict[str, str], body: Any = None,
         status: int = 200, **extra: str) -> Any:
    r = client.open(url, method=method, json=body, headers={**headers, **extra})
    assert r.status_code == status, r.get_data(as_text=True)
    return r


@pytest.fixture
def blog(client: Any, admin_headers: dict[str, str]) -> Any:
    """``blog_posts`` (id, title, slug) with one English post, then the seed's snippet."""
    call(client, "POST", "/collections", admin_headers, {
        "collection": "blog_posts", "schema": {},
        "fields": [{"field": "id", "type": "integer",
                    "schema": {"is_primary_key": True, "has_auto_increment": True}},
                   {"field": "title", "type": "string"},
                   {"field": "slug", "type": "string"}]})
    call(client, "POST", "/items/blog_posts", admin_headers,
         {"title": "Hello", "slug": "hello"})
    call(client, "PATCH", "/collections/blog_posts", admin_headers, SEED_SNIPPET)
    return client


def test_negotiation():
    assert parse_accept_language("es-MX,es;q=0.9,en;q=0.5") == ["es-MX", "es", "en"]
    assert parse_accept_language("en;q=0.2, fr, *;q=0.1, de;q=0") == ["fr", "en"]
    assert parse_accept_language("bad code;q=1, x;q=abc") == []
    assert with_fallbacks(["es-MX", "fr"], "en-US") == ["es-MX", "es", "fr", "en-US"]


def test_seed_snippet_builds_directus_storage(blog, admin_headers):
    h = admin_headers
    field = call(blog, "GET", "/fields/blog_posts/title", h).get_json()["data"]
    assert field["translatable"] is True
    assert field["meta"]["options"]["translatable"] is True
    assert field["meta"]["required"] is True
    fields = {f["field"]: f for f in call(blog, "GET", "/fields/blog_posts", h)
              .get_json()["data"]}
    assert "translatable" not in fields["slug"]
    assert fields["translations"]["meta"]["special"] == ["translations"]
    junction = {f["field"] for f in call(blog, "GET", "/fields/blog_posts_translations", h)
                .get_json()["data"]}
    assert {"id", "blog_posts_id", "languages_code", "title"} <= junction
    langs = call(blog, "GET", "/items/languages", h).get_json()["data"]
    assert [lang["code"] for lang in langs] == ["en-US"]
    rel = call(blog, "GET", "/relations/blog_posts_translations/blog_posts_id", h).get_json()
    assert rel["data"]["meta"]["one_field"] == "translations"
    # the existing value was copied to the default language's row
    rows = call(blog, "GET", "/items/blog_posts_translations?fields=blog_posts_id,"
                "languages_code,title", h).get_json()["data"]
    assert rows == [{"blog_posts_id": 1, "languages_code": "en-US", "title": "Hello"}]
    # without any language the answer is Directus's: the o2m of junction keys
    plain = call(blog, "GET", "/items/blog_posts/1", h)
    assert plain.get_json()["data"] == {"id": 1, "title": "Hello", "slug": "hello",
                                        "translations": [1]}
    assert "Content-Language" not in plain.headers
    assert "Accept-Language" in plain.headers.get("Vary", "")


def test_spanish_write_never_overwrites_english(blog, admin_headers):
    h = admin_headers
    r = call(blog, "PATCH", "/items/blog_posts/1", h, {"title": "Hola"},
             **{"Content-Language": "es"})
    assert r.get_json()["data"]["title"] == "Hola"
    assert r.headers["Content-Language"] == "es"
    english = call(blog, "GET", "/items/blog_posts/1?fields=id,title", h)
    assert english.get_json() == {"data": {"id": 1, "title": "Hello"}}
    # q-values and region fallback: es-MX → es
    r = call(blog, "GET", "/items/blog_posts/1?fields=id,title", h,
             **{"Accept-Language": "es-MX,en;q=0.5"})
    assert r.get_json() == {"data": {"id": 1, "title": "Hola"}}
    assert r.headers["Content-Language"] == "es"
    # a language without a row falls back to the default
    r = call(blog, "GET", "/items/blog_posts?fields=title", h, **{"Accept-Language": "fr"})
    assert r.get_json() == {"data": [{"title": "Hello"}]}
    assert r.headers["Content-Language"] == "en-US"
    assert call(blog, "GET", "/items/blog_posts/1?lang=es&fields=*", h).get_json()[
        "data"]["title"] == "Hola"
    # a second Spanish write updates the Spanish row; English stays
    call(blog, "PATCH", "/items/blog_posts/1?lang=es", h, {"title": "Hola!"})
    rows = call(blog, "GET", "/items/blog_posts_translations?fields=languages_code,title"
                "&sort=languages_code", h).get_json()["data"]
    assert rows == [{"languages_code": "en-US", "title": "Hello"},
                    {"languages_code": "es", "title": "Hola!"}]
    # a write without a language goes to the parent and the default row
    call(blog, "PATCH", "/items/blog_posts/1", h, {"title": "Hello again"})
    rows = call(blog, "GET", "/items/blog_posts_translations?fields=languages_code,title"
                "&sort=languages_code", h).get_json()["data"]
    assert rows == [{"languages_code": "en-US", "title": "Hello again"},
                    {"languages_code": "es", "title": "Hola!"}]
    # the Directus-style o2m still reads every row
    nested = call(blog, "GET", "/items/blog_posts/1?fields=translations.languages_code"
                  "&deep[translations][_sort]=languages_code", h).get_json()["data"]
    assert nested == {"translations": [{"languages_code": "en-US"},
                                       {"languages_code": "es"}]}


def test_create_in_a_language_and_exports(blog, admin_headers):
    h = admin_headers
    r = call(blog, "POST", "/items/blog_posts", h, {"title": "Nuevo", "slug": "nuevo"},
             **{"Content-Language": "es"})
    key = r.get_json()["data"]["id"]
    assert r.get_json()["data"]["title"] == "Nuevo"
    langs = call(blog, "GET", f"/items/blog_posts_translations?filter[blog_posts_id][_eq]={key}"
                 "&fields=languages_code", h).get_json()["data"]
    assert langs == [{"languages_code": "es"}]
    call(blog, "PATCH", "/items/blog_posts/1", h, {"title": "Hola"},
         **{"Content-Language": "es"})
    csv = call(blog, "GET", "/items/blog_posts?fields=id,title&sort=id&export=csv", h,
               **{"Accept-Language": "es"})
    text = csv.get_data(as_text=True)
    assert "Hola" in text and "Hello" not in text
    assert csv.headers["Content-Language"] == "es"
    data = call(blog, "GET", "/items/blog_posts?fields=id,title&sort=id&export=json", h,
                **{"Accept-Language": "es"}).get_json()
    assert [row["title"] for row in data] == ["Hola", "Nuevo"]


def test_graphql_follows_accept_language(blog, admin_headers):
    h = admin_headers
    call(blog, "PATCH", "/items/blog_posts/1", h, {"title": "Hola"},
         **{"Content-Language": "es"})
    query = {"query": "{ blog_posts { id title } }"}
    r = call(blog, "POST", "/graphql", h, query, **{"Accept-Language": "es-ES"})
    assert r.get_json() == {"data": {"blog_posts": [{"id": "1", "title": "Hola"}]}}
    r = call(blog, "POST", "/graphql", h, query)
    assert r.get_json() == {"data": {"blog_posts": [{"id": "1", "title": "Hello"}]}}


def test_flag_on_field_routes_and_bad_input(client, admin_headers):
    h = admin_headers
    call(client, "POST", "/collections", h, {
        "collection": "pages", "schema": {},
        "fields": [{"field": "id", "type": "integer",
                    "schema": {"is_primary_key": True, "has_auto_increment": True}},
                   {"field": "body", "type": "text", "meta": {"translatable": True}}]})
    assert call(client, "GET", "/fields/pages/body", h).get_json()["data"]["translatable"]
    r = call(client, "POST", "/fields/pages", h,
             {"field": "headline", "type": "string", "schema": {"translatable": True}})
    assert r.get_json()["data"]["translatable"] is True
    call(client, "PATCH", "/fields/pages/headline", h, {"translatable": False})
    assert "translatable" not in call(client, "GET", "/fields/pages/headline", h).get_json()[
        "data"]
    bad = call(client, "PATCH", "/fields/pages/body", h, {"translatable": "yes"}, status=400)
    assert bad.get_json()["errors"][0]["extensions"]["code"] == "INVALID_PAYLOAD"
    r = call(client, "PATCH", "/items/pages", h, [], status=400,
             **{"Content-Language": "bad code"})
    assert r.get_json()["errors"][0]["extensions"]["code"] == "INVALID_QUERY"


def test_graphql_lang_argument(blog, admin_headers):
    h = admin_headers
    call(blog, "PATCH", "/items/blog_posts/1", h, {"title": "Hola"},
         **{"Content-Language": "es"})
    query = {"query": '{ blog_posts(lang: "es") { title } en: blog_posts_by_id(id: 1) '
                      "{ title } }"}
    r = call(blog, "POST", "/graphql", h, query)
    assert r.get_json() == {"data": {"blog_posts": [{"title": "Hola"}],
                                     "en": {"title": "Hello"}}}
    query = {"query": '{ blog_posts_by_id(id: 1, lang: "en-US") { title } }'}
    assert call(blog, "POST", "/graphql", h, query).get_json() == {
        "data": {"blog_posts_by_id": {"title": "Hello"}}}
    bad = call(blog, "POST", "/graphql", h, {"query": '{ blog_posts(lang: "a b") { id } }'})
    assert bad.get_json()["errors"][0]["extensions"]["code"] == "INVALID_QUERY"


def test_permissions_apply(blog, admin_headers):
    h = admin_headers
    call(blog, "PATCH", "/items/blog_posts/1", h, {"title": "Hola"},
         **{"Content-Language": "es"})
    reader = setup_user(blog, h, [
        {"collection": "blog_posts", "action": "read", "fields": ["*"]},
        {"collection": "blog_posts", "action": "update", "fields": ["*"]}])["headers"]
    # without the right to read the translations, a browser's header changes nothing
    r = call(blog, "GET", "/items/blog_posts/1?fields=id,title", reader,
             **{"Accept-Language": "es"})
    assert r.get_json() == {"data": {"id": 1, "title": "Hello"}}
    # and a Spanish write needs the rights a nested translations write needs
    r = call(blog, "PATCH", "/items/blog_posts/1", reader, {"title": "Adiós"}, status=403,
             **{"Content-Language": "es"})
    assert r.get_json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    translator = setup_user(blog, h, [
        {"collection": "blog_posts", "action": "read", "fields": ["*"]},
        {"collection": "blog_posts", "action": "update", "fields": ["*"]},
        {"collection": "blog_posts_translations", "action": "read", "fields": ["*"]},
        {"collection": "blog_posts_translations", "action": "update", "fields": ["*"]},
        {"collection": "languages", "action": "read", "fields": ["*"]}])["headers"]
    call(blog, "PATCH", "/items/blog_posts/1", translator, {"title": "Adiós"},
         **{"Content-Language": "es"})
    r = call(blog, "GET", "/items/blog_posts/1?fields=title", translator,
             **{"Accept-Language": "es"})
    assert r.get_json() == {"data": {"title": "Adiós"}}
    assert call(blog, "GET", "/items/blog_posts/1?fields=title", h).get_json() == {
        "data": {"title": "Hello"}}


def test_accept_language_leaves_other_collections_alone(blog, admin_headers):
    h = admin_headers
    call(blog, "POST", "/collections", h, {"collection": "notes", "schema": {},
                                           "fields": [{"field": "text", "type": "string"}]})
    call(blog, "POST", "/items/notes", h, {"text": "plain"})
    r = call(blog, "GET", "/items/notes", h, **{"Accept-Language": "es"})
    assert r.get_json() == {"data": [{"id": 1, "text": "plain"}]}
    assert "Content-Language" not in r.headers
