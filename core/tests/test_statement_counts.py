"""Relational reads run a fixed number of SQL statements per level, whatever the page size,
and relations created through ``/relations`` get an index on their key column.

The schema is built through the REST API (so the index comes from Transom), the rows are
inserted in bulk, and every read is counted with SQLAlchemy's ``before_cursor_execute``.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from transom.testing.plugin import count_statements

N_ARTICLES = 500


def _pk() -> dict[str, Any]:
    return {"field": "id", "type": "integer",
            "schema": {"is_primary_key": True, "has_auto_increment": True}}


def _m2o(name: str) -> dict[str, Any]:
    return {"field": name, "type": "integer", "meta": {"special": ["m2o"]}}


def _ok(client: Any, headers: dict[str, str], method: str, url: str, body: Any) -> Any:
    resp = getattr(client, method)(url, json=body, headers=headers)
    assert resp.status_code in (200, 204), resp.get_data(as_text=True)
    return resp.get_json()


def build_library(client: Any, headers: dict[str, str]) -> None:
    """countries <- authors <- articles -> comments (o2m), articles <-> tags (m2m)."""
    for name, fields in (
        ("countries", [{"field": "name", "type": "string"}]),
        ("authors", [{"field": "name", "type": "string"}, _m2o("country")]),
        ("articles", [{"field": "title", "type": "string"}, _m2o("author"),
                      {"field": "comments", "type": "alias", "meta": {"special": ["o2m"]}},
                      {"field": "tags", "type": "alias", "meta": {"special": ["m2m"]}}]),
        ("comments", [{"field": "text", "type": "string"}, _m2o("article")]),
        ("tags", [{"field": "name", "type": "string"}]),
        ("articles_tags", [{"field": "articles_id", "type": "integer"},
                           {"field": "tags_id", "type": "integer"}]),
    ):
        _ok(client, headers, "post", "/collections",
            {"collection": name, "schema": {}, "fields": [_pk(), *fields]})
    on_delete = {"on_delete": "SET NULL"}
    for body in (
        {"collection": "authors", "field": "country", "related_collection": "countries"},
        {"collection": "articles", "field": "author", "related_collection": "authors"},
        {"collection": "comments", "field": "article", "related_collection": "articles",
         "meta": {"one_field": "comments"}},
        {"collection": "articles_tags", "field": "tags_id", "related_collection": "tags",
         "meta": {"junction_field": "articles_id"}},
        {"collection": "articles_tags", "field": "articles_id",
         "related_collection": "articles",
         "meta": {"one_field": "tags", "junction_field": "tags_id"}},
    ):
        _ok(client, headers, "post", "/relations", {**body, "schema": on_delete})


def seed_library(engine: sa.Engine, n: int = N_ARTICLES) -> None:
    md = sa.MetaData()
    tables = {name: sa.Table(name, md, autoload_with=engine) for name in
              ("countries", "authors", "articles", "comments", "tags", "articles_tags")}
    with engine.begin() as conn:
        conn.execute(tables["countries"].insert(),
                     [{"id": i, "name": f"Country {i}"} for i in range(1, 4)])
        conn.execute(tables["authors"].insert(),
                     [{"id": i, "name": f"Author {i}", "country": i % 3 + 1}
                      for i in range(1, 31)])
        conn.execute(tables["tags"].insert(),
                     [{"id": i, "name": f"tag{i}"} for i in range(1, 21)])
        conn.execute(tables["articles"].insert(),
                     [{"id": i, "title": f"Article {i}", "author": i % 30 + 1}
                      for i in range(1, n + 1)])
        conn.execute(tables["comments"].insert(),
                     [{"id": i, "text": f"Comment {i}", "article": (i + 1) // 2}
                      for i in range(1, 2 * n + 1)])
        conn.execute(tables["articles_tags"].insert(),
                     [{"id": i, "articles_id": (i + 2) // 3, "tags_id": i % 20 + 1}
                      for i in range(1, 3 * n + 1)])


@pytest.fixture
def library(app: Any, client: Any, admin_headers: dict[str, str]) -> Any:
    build_library(client, admin_headers)
    seed_library(app.extensions["transom"].engine)
    return app


def data_selects(statements: list[str]) -> list[str]:
    """The statements that read content (not the kernel's own system-table reads)."""
    return [s for s in statements
            if s.lstrip().upper().startswith(("SELECT", "WITH")) and "directus_" not in s]


def read(app: Any, client: Any, headers: dict[str, str], url: str) -> tuple[list[Any], int]:
    with count_statements(app.extensions["transom"].engine) as seen:
        resp = client.get(url, headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["data"], len(data_selects(seen))


#: fields -> statements: the root, plus one per relational node that is not a LEFT JOIN
SHAPES = [
    ("id,author.name", 1),                          # m2o: joined into the root statement
    ("id,author.name,author.country.name", 3),      # m2o of an m2o: root, authors, countries
    ("id,comments.text", 2),                        # o2m: root, comments
    ("id,tags.tags_id.name", 3),                    # m2m: root, junction, tags
    ("id,title,author.country.name,comments.text,tags.tags_id.name", 6),  # 3 levels
]


@pytest.mark.parametrize(("fields", "expected"), SHAPES, ids=[s[0] for s in SHAPES])
def test_statements_per_level_do_not_grow_with_the_page(library, client, admin_headers,
                                                        fields, expected):
    small, n_small = read(library, client, admin_headers,
                          f"/items/articles?fields={fields}&limit=25&sort=id")
    big, n_big = read(library, client, admin_headers,
                      f"/items/articles?fields={fields}&limit=-1&sort=id")
    assert len(small) == 25 and len(big) == N_ARTICLES
    assert n_small == n_big == expected
    assert big[:25] == small  # the same items, whatever the page size
    last = big[-1]
    assert last["id"] == N_ARTICLES
    if "comments" in fields:
        assert [c["text"] for c in last["comments"]] == [
            f"Comment {2 * N_ARTICLES - 1}", f"Comment {2 * N_ARTICLES}"]
    if "tags" in fields:
        assert len(last["tags"]) == 3 and all(t["tags_id"]["name"] for t in last["tags"])
    if "country" in fields:
        assert last["author"]["country"] == {"name": f"Country {(N_ARTICLES % 30 + 1) % 3 + 1}"}


def test_big_in_lists_are_batched(library, client, admin_headers, monkeypatch):
    """Children of many parents are fetched in bounded ``IN`` lists: one statement per
    chunk, the same answer as a single list."""
    from transom.compiler import reader

    url = "/items/articles?fields=id,comments.text,tags.tags_id.name&limit=-1&sort=id"
    whole, n_whole = read(library, client, admin_headers, url)
    assert n_whole == 4
    monkeypatch.setattr(reader, "IN_CHUNK", 100)
    chunked, n_chunked = read(library, client, admin_headers, url)
    # comments: 5 chunks of 100 articles; junction: 5 chunks; tags: 20 keys, one chunk
    assert n_chunked == 1 + 5 + 5 + 1
    assert chunked == whole


def _indexed_first_columns(engine: sa.Engine, table: str) -> set[str]:
    insp = sa.inspect(engine)
    return {ix["column_names"][0] for ix in insp.get_indexes(table) if ix["column_names"]}


def test_relations_get_an_index_on_their_key(library, client, admin_headers):
    engine = library.extensions["transom"].engine
    assert "author" in _indexed_first_columns(engine, "articles")
    assert "country" in _indexed_first_columns(engine, "authors")
    assert "article" in _indexed_first_columns(engine, "comments")
    assert {"articles_id", "tags_id"} <= _indexed_first_columns(engine, "articles_tags")
    # a relation on a column that already has an index adds none
    _ok(client, admin_headers, "post", "/collections", {
        "collection": "notes", "schema": {}, "fields": [
            _pk(), {"field": "article", "type": "integer", "schema": {"is_indexed": True}}]})
    _ok(client, admin_headers, "post", "/relations",
        {"collection": "notes", "field": "article", "related_collection": "articles",
         "schema": {"on_delete": "SET NULL"}})
    indexes = [ix for ix in sa.inspect(engine).get_indexes("notes")
               if ix["column_names"] == ["article"]]
    assert len(indexes) == 1
    # deleting the relation keeps reads working and the index (it still serves filters)
    resp = client.delete("/relations/notes/article", headers=admin_headers)
    assert resp.status_code == 204
    assert "article" in _indexed_first_columns(engine, "notes")
