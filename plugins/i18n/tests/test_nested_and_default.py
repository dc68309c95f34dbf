"""Related items' translations folded (m2o, o2m, deeper), exports in the asked language, and
the project setting ``default_language``, through real requests on every backend."""

from __future__ import annotations

import csv
import io
from typing import Any
from xml.etree import ElementTree

import pytest
import yaml

from transom.testing.helpers import setup_user

ES = {"Accept-Language": "es"}


def call(client: Any, method: str, url: str, headers: dict[str, str], body: Any = None,
         status: int = 200, **extra: str) -> Any:
    r = client.open(url, method=method, json=body, headers={**headers, **extra})
    assert r.status_code == status, r.get_data(as_text=True)
    return r


def pk(name: str = "id") -> dict[str, Any]:
    return {"field": name, "type": "integer",
            "schema": {"is_primary_key": True, "has_auto_increment": True}}


@pytest.fixture
def library(client: Any, admin_headers: dict[str, str]) -> Any:
    """``authors`` (name, bio translatable; o2m ``books``) and ``books`` (title
    translatable, m2o ``author``), each with an English and a Spanish version."""
    h = admin_headers
    call(client, "POST", "/collections", h, {
        "collection": "authors", "schema": {},
        "fields": [pk(), {"field": "name", "type": "string"},
                   {"field": "bio", "type": "text"}]})
    call(client, "POST", "/collections", h, {
        "collection": "books", "schema": {},
        "fields": [pk(), {"field": "title", "type": "string"},
                   {"field": "author", "type": "integer", "meta": {"special": ["m2o"]}}]})
    call(client, "POST", "/fields/authors", h, {"field": "books", "type": "alias",
                                                 "meta": {"special": ["o2m"]}})
    call(client, "POST", "/relations", h, {"collection": "books", "field": "author",
                                            "related_collection": "authors",
                                            "meta": {"one_field": "books"}})
    call(client, "POST", "/items/authors", h, {"name": "Ann", "bio": "Writer"})
    call(client, "POST", "/items/books", h, {"title": "Sea", "author": 1})
    call(client, "PATCH", "/collections/authors", h, {"schema": {"fields": [
        {"field": "name", "type": "string", "translatable": True},
        {"field": "bio", "type": "text", "translatable": True}]}})
    call(client, "PATCH", "/collections/books", h, {"schema": {"fields": [
        {"field": "title", "type": "string", "translatable": True}]}})
    call(client, "PATCH", "/items/authors/1", h, {"name": "Ana", "bio": "Escritora"},
         **{"Content-Language": "es"})
    call(client, "PATCH", "/items/books/1", h, {"title": "Mar"},
         **{"Content-Language": "es"})
    return client


def test_m2o_and_o2m_are_folded(library, admin_headers):
    h = admin_headers
    r = call(library, "GET", "/items/books/1?fields=id,title,author.name,author.bio", h, **ES)
    assert r.get_json() == {"data": {"id": 1, "title": "Mar",
                                     "author": {"name": "Ana", "bio": "Escritora"}}}
    assert r.headers["Content-Language"] == "es"
    full = call(library, "GET", "/items/books?fields=*,author.*", h, **ES).get_json()["data"]
    assert full[0]["title"] == "Mar" and "translations" not in full[0]
    assert full[0]["author"]["name"] == "Ana" and "translations" not in full[0]["author"]
    assert full[0]["author"]["id"] == 1
    # o2m, and two levels down: authors -> books -> author
    deep = call(library, "GET", "/items/authors/1?fields=name,books.title,"
                "books.author.bio", h, **ES).get_json()["data"]
    assert deep == {"name": "Ana", "books": [{"title": "Mar",
                                              "author": {"bio": "Escritora"}}]}
    # without a language, Directus's answer
    plain = call(library, "GET", "/items/books/1?fields=title,author.name", h).get_json()
    assert plain == {"data": {"title": "Sea", "author": {"name": "Ann"}}}
    # a language with no row falls back to the default one, nested too
    fr = call(library, "GET", "/items/books/1?fields=title,author.name", h,
              **{"Accept-Language": "fr"}).get_json()
    assert fr == {"data": {"title": "Sea", "author": {"name": "Ann"}}}


def test_related_collection_translated_alone(library, admin_headers):
    """The book's own collection need not be translated for its author to be."""
    h = admin_headers
    call(library, "POST", "/collections", h, {
        "collection": "quotes", "schema": {},
        "fields": [pk(), {"field": "text", "type": "string"},
                   {"field": "author", "type": "integer", "meta": {"special": ["m2o"]}}]})
    call(library, "POST", "/relations", h, {"collection": "quotes", "field": "author",
                                             "related_collection": "authors"})
    call(library, "POST", "/items/quotes", h, {"text": "Hi", "author": 1})
    r = call(library, "GET", "/items/quotes?fields=text,author.name", h, **ES)
    assert r.get_json() == {"data": [{"text": "Hi", "author": {"name": "Ana"}}]}
    # a reader who may not read the translations keeps the default values
    reader = setup_user(library, h, [
        {"collection": "quotes", "action": "read", "fields": ["*"]},
        {"collection": "authors", "action": "read", "fields": ["*"]}])["headers"]
    r = call(library, "GET", "/items/quotes?fields=text,author.name", reader, **ES)
    assert r.get_json() == {"data": [{"text": "Hi", "author": {"name": "Ann"}}]}


def test_exports_and_graphql_follow_the_language(library, admin_headers):
    h = admin_headers
    url = "/items/books?fields=id,title,author.name&export="
    rows = list(csv.DictReader(io.StringIO(
        call(library, "GET", url + "csv", h, **ES).get_data(as_text=True))))
    assert rows[0]["title"] == "Mar" and "Ana" in rows[0]["author.name"] + str(rows[0])
    as_json = call(library, "GET", url + "json", h, **ES).get_json()
    assert as_json == [{"id": 1, "title": "Mar", "author": {"name": "Ana"}}]
    as_yaml = yaml.safe_load(call(library, "GET", url + "yaml", h, **ES).get_data())
    assert as_yaml == [{"id": 1, "title": "Mar", "author": {"name": "Ana"}}]
    xml = ElementTree.fromstring(call(library, "GET", url + "xml", h, **ES).get_data())
    texts = [el.text for el in xml.iter()]
    assert "Mar" in texts and "Ana" in texts and "Sea" not in texts and "Ann" not in texts
    for kind in ("csv", "json", "xml", "yaml"):
        english = call(library, "GET", url + kind, h).get_data(as_text=True)
        assert "Sea" in english and "Mar" not in english
    query = {"query": "{ books { title author { name } } authors { books { title } } }"}
    r = call(library, "POST", "/graphql", h, query, **ES)
    assert r.get_json() == {"data": {"books": [{"title": "Mar", "author": {"name": "Ana"}}],
                                     "authors": [{"books": [{"title": "Mar"}]}]}}
    r = call(library, "POST", "/graphql", h,
             {"query": '{ books(lang: "es") { author { name } } }'})
    assert r.get_json() == {"data": {"books": [{"author": {"name": "Ana"}}]}}


def test_default_language_comes_from_project_settings(library, admin_headers):
    h = admin_headers
    # English is the default: a French reader gets it
    r = call(library, "GET", "/items/books/1?fields=title", h, **{"Accept-Language": "fr"})
    assert r.get_json()["data"]["title"] == "Sea"
    assert r.headers["Content-Language"] == "en-US"
    call(library, "PATCH", "/settings", h, {"default_language": "es"})
    r = call(library, "GET", "/items/books/1?fields=title,author.name", h,
             **{"Accept-Language": "fr"})
    assert r.get_json()["data"] == {"title": "Mar", "author": {"name": "Ana"}}
    assert r.headers["Content-Language"] == "es"
    # a write without a language now goes to the Spanish row; English stays
    call(library, "PATCH", "/items/books/1", h, {"title": "Mar!"})
    rows = call(library, "GET", "/items/books_translations?fields=languages_code,title"
                "&sort=languages_code", h).get_json()["data"]
    assert rows == [{"languages_code": "en-US", "title": "Sea"},
                    {"languages_code": "es", "title": "Mar!"}]
    call(library, "PATCH", "/settings", h, {"default_language": "en-US"})
    r = call(library, "GET", "/items/books/1?fields=title", h, **{"Accept-Language": "fr"})
    assert r.get_json()["data"]["title"] == "Sea"


def test_m2m_is_folded(library, admin_headers):
    h = admin_headers
    call(library, "POST", "/collections", h, {
        "collection": "tags", "schema": {}, "fields": [pk(), {"field": "name",
                                                              "type": "string"}]})
    call(library, "POST", "/collections", h, {
        "collection": "books_tags", "schema": {},
        "fields": [pk(), {"field": "books_id", "type": "integer"},
                   {"field": "tags_id", "type": "integer"}]})
    call(library, "POST", "/fields/books", h, {"field": "tags", "type": "alias",
                                                "meta": {"special": ["m2m"]}})
    call(library, "POST", "/relations", h, {
        "collection": "books_tags", "field": "books_id", "related_collection": "books",
        "meta": {"one_field": "tags", "junction_field": "tags_id"}})
    call(library, "POST", "/relations", h, {
        "collection": "books_tags", "field": "tags_id", "related_collection": "tags",
        "meta": {"junction_field": "books_id"}})
    call(library, "POST", "/items/tags", h, {"name": "Poetry"})
    call(library, "POST", "/items/books_tags", h, {"books_id": 1, "tags_id": 1})
    call(library, "PATCH", "/collections/tags", h, {"schema": {"fields": [
        {"field": "name", "type": "string", "translatable": True}]}})
    call(library, "PATCH", "/items/tags/1", h, {"name": "Poesía"},
         **{"Content-Language": "es"})
    r = call(library, "GET", "/items/books/1?fields=title,tags.tags_id.name", h, **ES)
    assert r.get_json() == {"data": {"title": "Mar", "tags": [{"tags_id": {"name": "Poesía"}}]}}
    r = call(library, "GET", "/items/books/1?fields=title,tags.tags_id.name", h)
    assert r.get_json() == {"data": {"title": "Sea", "tags": [{"tags_id": {"name": "Poetry"}}]}}
