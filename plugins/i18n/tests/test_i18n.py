"""``?lang=`` over the items routes, on every backend, through real requests."""

from __future__ import annotations

from typing import Any

import pytest
from transom_i18n.translate import (
    TranslationsField,
    find_translations_field,
    flatten_item,
    narrow_query,
)

from transom.query.model import Query
from transom.testing.plugin import count_statements

GERMAN = [
    {"id": 1, "title": "Hallo", "slug": "hello", "body": "Text DE"},
    {"id": 2, "title": "World", "slug": "world"},
]


def get(client: Any, url: str, headers: dict[str, str]) -> Any:
    r = client.get(url, headers=headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_without_lang_the_answer_is_directus(i18n_client, admin_headers):
    body = get(i18n_client, "/items/articles?fields=*&sort=id", admin_headers)
    assert body == {"data": [
        {"id": 1, "title": "Hello", "slug": "hello", "translations": [1, 2]},
        {"id": 2, "title": "World", "slug": "world", "translations": [3]},
    ]}


def test_lang_flattens_the_translation(i18n_client, admin_headers):
    body = get(i18n_client, "/items/articles?sort=id&lang=de-DE", admin_headers)
    assert body == {"data": GERMAN}
    body = get(i18n_client, "/items/articles?fields=*&sort=id&lang=de-DE", admin_headers)
    assert body == {"data": GERMAN}


def test_missing_language_keeps_the_parent(i18n_client, admin_headers):
    body = get(i18n_client, "/items/articles?sort=id&lang=fr-FR", admin_headers)
    assert body == {"data": [
        {"id": 1, "title": "Hello", "slug": "hello"},
        {"id": 2, "title": "World", "slug": "world"},
    ]}


def test_fallback_language(make_i18n_app, admin_headers):
    client = make_i18n_app({"I18N_FALLBACK_LANG": "en-US"}).test_client()
    body = get(client, "/items/articles?sort=id&lang=fr-FR", admin_headers)
    assert body["data"] == [
        {"id": 1, "title": "Hello EN", "slug": "hello", "body": "Text EN"},
        {"id": 2, "title": "World EN", "slug": "world", "body": "World text"},
    ]
    body = get(client, "/items/articles?sort=id&lang=de-DE", admin_headers)
    assert body["data"] == [
        {"id": 1, "title": "Hallo", "slug": "hello", "body": "Text DE"},
        {"id": 2, "title": "World EN", "slug": "world", "body": "World text"},
    ]


@pytest.mark.parametrize("lang", ["de DE", "x'--", "a" * 17, "", "de.DE"])
def test_bad_lang_is_invalid_query(i18n_client, admin_headers, lang):
    r = i18n_client.get("/items/articles", query_string={"lang": lang}, headers=admin_headers)
    assert r.status_code == 400
    error = r.get_json()["errors"][0]
    assert error["extensions"]["code"] == "INVALID_QUERY"


def test_single_item_route(i18n_client, admin_headers):
    body = get(i18n_client, "/items/articles/1?lang=de-DE", admin_headers)
    assert body == {"data": GERMAN[0]}
    body = get(i18n_client, "/items/articles/2?lang=en-US&fields=slug,translations",
               admin_headers)
    assert body == {"data": {"slug": "world", "title": "World EN", "body": "World text"}}


def test_meta_gets_lang_only_when_present(i18n_client, admin_headers):
    body = get(i18n_client, "/items/articles?sort=id&lang=de-DE&meta=total_count",
               admin_headers)
    assert body["meta"] == {"total_count": 2, "lang": "de-DE"}
    assert body["data"] == GERMAN
    assert "meta" not in get(i18n_client, "/items/articles?lang=de-DE", admin_headers)


def test_nested_fields_and_caller_deep(i18n_client, admin_headers):
    body = get(i18n_client, "/items/articles?sort=id&lang=de-DE&fields=id,translations.title",
               admin_headers)
    assert body["data"] == [{"id": 1, "title": "Hallo"}, {"id": 2}]
    # the caller's own deep filter still applies, AND-ed with the language
    url = ("/items/articles?sort=id&lang=de-DE"
           "&deep[translations][_filter][title][_eq]=nothing")
    body = get(i18n_client, url, admin_headers)
    assert body["data"] == [
        {"id": 1, "title": "Hello", "slug": "hello"},
        {"id": 2, "title": "World", "slug": "world"},
    ]


def test_search_route(i18n_client, admin_headers):
    r = i18n_client.open("/items/articles?lang=de-DE", method="SEARCH", headers=admin_headers,
                         json={"query": {"filter": {"id": {"_eq": 1}}}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"data": [GERMAN[0]]}


def test_collection_without_translations_ignores_lang(i18n_client, admin_headers):
    plain = get(i18n_client, "/items/languages?sort=code", admin_headers)
    assert get(i18n_client, "/items/languages?sort=code&lang=de-DE", admin_headers) == plain
    assert len(plain["data"]) == 3


def test_custom_param_name(make_i18n_app, admin_headers):
    client = make_i18n_app({"I18N_PARAM": "locale"}).test_client()
    assert get(client, "/items/articles?sort=id&locale=de-DE", admin_headers)["data"] == GERMAN
    untouched = get(client, "/items/articles?sort=id&lang=de-DE", admin_headers)["data"]
    assert untouched[0]["translations"] == [1, 2]


def test_same_number_of_statements(i18n_app, admin_headers):
    client = i18n_app.test_client()
    engine = i18n_app.extensions["transom"].engine
    get(client, "/items/articles?fields=*,translations.*", admin_headers)  # warm caches
    with count_statements(engine) as plain:
        get(client, "/items/articles?fields=*,translations.*", admin_headers)
    with count_statements(engine) as with_lang:
        get(client, "/items/articles?lang=de-DE", admin_headers)
    with count_statements(engine) as ids_only:
        get(client, "/items/articles?fields=*", admin_headers)
    assert len(with_lang) == len(plain) == len(ids_only)


def test_writes_are_untouched(i18n_client, admin_headers):
    r = i18n_client.post("/items/articles?lang=de-DE", headers=admin_headers,
                         json={"title": "New", "slug": "new"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["data"]["translations"] == []


@pytest.mark.backends("sqlite")
def test_query_helpers(i18n_app):
    schema = i18n_app.extensions["transom"].schema
    tf = find_translations_field(schema, "articles")
    assert tf == TranslationsField("translations", "articles_translations", "articles_id",
                                   "languages_code", "id")
    assert find_translations_field(schema, "languages") is None
    q = narrow_query(Query(fields=["title", "translations"]), tf, ["de-DE", "en-US"])
    assert q.fields == ["title", "translations.*"]
    assert q.deep["translations"].filter == {"languages_code": {"_in": ["de-DE", "en-US"]}}
    item = {"id": 1, "translations": [{"id": 9, "articles_id": 1, "languages_code": "en-US",
                                       "id_like": 1, "title": "T"}]}
    assert flatten_item(item, tf, "id", ["de-DE", "en-US"]) == {"id": 1, "id_like": 1,
                                                                "title": "T"}
