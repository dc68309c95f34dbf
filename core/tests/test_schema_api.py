"""``/collections``, ``/fields`` and ``/relations`` over REST, then items through them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from transom.services.schema import FieldsService

SAMPLES = (Path(__file__).resolve().parents[2].parent / "shared" / "reference"
           / "directus11-samples" / "postgres")

#: Keys of Directus 11's answers (samples 56-58), kept here so the test runs without them.
COLLECTION_META_KEYS = {
    "collection", "icon", "note", "display_template", "hidden", "singleton", "translations",
    "archive_field", "archive_app_filter", "archive_value", "unarchive_value", "sort_field",
    "accountability", "color", "item_duplication_fields", "sort", "group", "collapse",
    "preview_url", "versioning",
}
FIELD_SCHEMA_KEYS = {
    "name", "table", "data_type", "default_value", "generation_expression", "max_length",
    "numeric_precision", "numeric_scale", "is_generated", "is_nullable", "is_unique",
    "is_indexed", "is_primary_key", "has_auto_increment", "foreign_key_schema",
    "foreign_key_table", "foreign_key_column", "comment",
}
FIELD_META_KEYS = {
    "id", "collection", "field", "special", "interface", "options", "display",
    "display_options", "readonly", "hidden", "sort", "width", "translations", "note",
    "conditions", "required", "group", "validation", "validation_message", "searchable",
}
RELATION_SCHEMA_KEYS = {
    "constraint_name", "table", "column", "foreign_key_schema", "foreign_key_table",
    "foreign_key_column", "on_update", "on_delete",
}
RELATION_META_KEYS = {
    "id", "many_collection", "many_field", "one_collection", "one_field",
    "one_collection_field", "one_allowed_collections", "junction_field", "sort_field",
    "one_deselect_action",
}


def test_key_sets_match_directus_samples() -> None:
    if not SAMPLES.exists():
        pytest.skip("Directus samples not available")
    coll = json.loads((SAMPLES / "56-collections-articles.json").read_text())["body"]["data"]
    field = json.loads((SAMPLES / "57-fields-articles.json").read_text())["body"]["data"][0]
    rel = json.loads((SAMPLES / "58-relations-articles.json").read_text())["body"]["data"][0]
    assert set(coll) == {"collection", "meta", "schema"}
    assert set(coll["meta"]) == COLLECTION_META_KEYS
    assert set(field) == {"collection", "field", "type", "schema", "meta"}
    assert set(field["schema"]) == FIELD_SCHEMA_KEYS
    assert set(field["meta"]) == FIELD_META_KEYS
    assert set(rel) == {"collection", "field", "related_collection", "schema", "meta"}
    assert set(rel["schema"]) == RELATION_SCHEMA_KEYS
    assert set(rel["meta"]) == RELATION_META_KEYS


# -- helpers ---------------------------------------------------------------------------------
class Api:
    """The test client with the admin token and JSON bodies."""

    def __init__(self, client: Any, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def call(self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
             ) -> tuple[int, Any]:
        kw: dict[str, Any] = {"headers": headers or self.headers}
        if body is not None:
            kw["json"] = body
        resp = getattr(self.client, method)(url, **kw)
        return resp.status_code, resp.get_json(silent=True)

    def ok(self, method: str, url: str, body: Any = None, status: int = 200) -> Any:
        code, data = self.call(method, url, body)
        assert code == status, (method, url, code, data)
        return data["data"] if data is not None else None


@pytest.fixture
def api(client: Any, admin_headers: dict[str, str]) -> Api:
    return Api(client, admin_headers)


def code_of(body: Any) -> str:
    return body["errors"][0]["extensions"]["code"]


def pk_field(name: str = "id") -> dict[str, Any]:
    return {"field": name, "type": "integer",
            "schema": {"is_primary_key": True, "has_auto_increment": True},
            "meta": {"hidden": True, "interface": "input", "readonly": True}}


def make_collection(api: Api, name: str, *fields: dict[str, Any]) -> None:
    api.ok("post", "/collections", {"collection": name, "meta": {"icon": "box"},
                                    "schema": {}, "fields": [pk_field(), *fields]})


def table_names(app: Any) -> set[str]:
    with app.extensions["transom"].engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def meta_rows(app: Any, table: str, collection: str) -> list[Any]:
    column = "many_collection" if table == "directus_relations" else "collection"
    with app.extensions["transom"].engine.connect() as conn:
        return list(conn.execute(sa.text(f"SELECT * FROM {table} WHERE {column} = :c"),
                                 {"c": collection}))


# -- collections -----------------------------------------------------------------------------
def test_create_collection_directus_form_then_items(app, api):
    body = {
        "collection": "articles",
        "meta": {"icon": "article", "note": "Posts", "accountability": "all"},
        "schema": {},
        "fields": [
            pk_field(),
            {"field": "title", "type": "string",
             "schema": {"max_length": 120, "is_nullable": False},
             "meta": {"interface": "input", "required": True, "width": "full"}},
            {"field": "body", "type": "text", "meta": {"interface": "input-multiline"}},
            {"field": "views", "type": "integer", "schema": {"default_value": 0}},
            {"field": "data", "type": "json"},
            {"field": "published", "type": "boolean", "schema": {"default_value": False}},
        ],
    }
    data = api.ok("post", "/collections", body)
    assert set(data) == {"collection", "meta", "schema"}
    assert data["collection"] == "articles"
    assert set(data["meta"]) == COLLECTION_META_KEYS
    assert data["meta"]["icon"] == "article" and data["meta"]["note"] == "Posts"
    assert data["meta"]["hidden"] is False and data["meta"]["collapse"] == "open"
    assert data["schema"]["name"] == "articles"
    assert set(data["schema"]) <= {"name", "schema", "comment", "sql"}
    assert api.ok("get", "/collections/articles") == data
    assert "articles" in [c["collection"] for c in api.ok("get", "/collections")]

    fields = {f["field"]: f for f in api.ok("get", "/fields/articles")}
    assert list(fields) == ["id", "title", "body", "views", "data", "published"]
    for f in fields.values():
        assert set(f) == {"collection", "field", "type", "schema", "meta"}
        assert set(f["schema"]) == FIELD_SCHEMA_KEYS
        assert set(f["meta"]) == FIELD_META_KEYS
    assert fields["id"]["schema"]["is_primary_key"] is True
    assert fields["id"]["schema"]["has_auto_increment"] is True
    assert fields["title"]["schema"]["max_length"] == 120
    assert fields["title"]["schema"]["is_nullable"] is False
    assert fields["title"]["meta"]["required"] is True
    assert fields["body"]["meta"]["interface"] == "input-multiline"
    assert fields["data"]["type"] == "json" and fields["data"]["meta"]["special"] == ["cast-json"]
    assert fields["published"]["type"] == "boolean"
    assert [f["meta"]["sort"] for f in fields.values()] == [1, 2, 3, 4, 5, 6]

    item = api.ok("post", "/items/articles", {"title": "Hello", "data": {"a": [1, 2]}})
    assert item["id"] == 1 and item["views"] == 0 and item["published"] is False
    assert item["data"] == {"a": [1, 2]}
    api.ok("post", "/items/articles", [{"title": "Two"}, {"title": "Three"}])
    rows = api.ok("get", "/items/articles?fields=id,title&sort=id")
    assert rows == [{"id": 1, "title": "Hello"}, {"id": 2, "title": "Two"},
                    {"id": 3, "title": "Three"}]
    status, body = api.call("post", "/items/articles", {"body": "no title"})
    assert status == 400


def test_create_collection_simple_form(app, api, backend):
    body = {
        "collection": "blog_posts",
        "meta": {"icon": "article"},
        "schema": {"name": "blog_posts", "fields": [
            {"field": "id", "type": "integer", "primary_key": True, "auto_increment": True},
            {"field": "title", "type": "string", "max_length": 255, "required": True,
             "unique": True, "interface": "input"},
            {"field": "status", "type": "string", "max_length": 20, "default": "draft"},
            {"field": "score", "type": "decimal", "precision": 8, "scale": 2},
            {"field": "published_on", "type": "date", "nullable": True},
        ]},
    }
    data = api.ok("post", "/collections", body)
    assert data["meta"]["icon"] == "article"
    fields = {f["field"]: f for f in api.ok("get", "/fields/blog_posts")}
    assert list(fields) == ["id", "title", "status", "score", "published_on"]
    title = fields["title"]
    assert title["schema"]["is_nullable"] is False and title["schema"]["is_unique"] is True
    assert title["meta"]["required"] is True and title["meta"]["interface"] == "input"
    assert fields["status"]["schema"]["default_value"] == "draft"
    assert fields["score"]["type"] == "decimal"
    assert fields["score"]["schema"]["numeric_precision"] == 8

    item = api.ok("post", "/items/blog_posts", {"title": "First"})
    assert item["status"] == "draft" and item["id"] == 1
    scored = api.ok("patch", "/items/blog_posts/1", {"score": "1.5"})
    assert scored["score"] == "1.50"  # every backend, SQLite's text decimals included
    status, err = api.call("post", "/items/blog_posts", {"title": "First"})
    assert status == 400 and code_of(err) == "RECORD_NOT_UNIQUE"

    # No primary key given: Directus's default "id" is added; a uuid key gets special uuid.
    api.ok("post", "/collections", {"collection": "notes", "schema": {},
                                    "fields": [{"field": "text", "type": "text"}]})
    notes = {f["field"]: f for f in api.ok("get", "/fields/notes")}
    assert list(notes) == ["id", "text"]
    assert notes["id"]["schema"]["is_primary_key"] and notes["id"]["meta"]["hidden"]
    assert api.ok("post", "/items/notes", {"text": "x"})["id"] == 1

    api.ok("post", "/collections", {"collection": "tokens", "schema": {}, "fields": [
        {"field": "id", "type": "uuid", "schema": {"is_primary_key": True}},
        {"field": "label", "type": "string"}]})
    tid = api.ok("get", "/fields/tokens/id")
    assert tid["type"] == "uuid" and tid["meta"]["special"] == ["uuid"]
    token = api.ok("post", "/items/tokens", {"label": "t"})
    assert uuid.UUID(token["id"])


def test_collection_errors_and_folders(app, api):
    make_collection(api, "things", {"field": "name", "type": "string"})
    status, err = api.call("post", "/collections", {"collection": "things", "schema": {}})
    assert status == 400 and code_of(err) == "INVALID_PAYLOAD"
    assert 'Collection "things" already exists' in err["errors"][0]["message"]
    for bad in ("directus_things", "1abc", "a-b", "a b", "x" * 65, "", None):
        status, err = api.call("post", "/collections", {"collection": bad, "schema": {}})
        assert status == 400 and code_of(err) == "INVALID_PAYLOAD", bad
    status, err = api.call("get", "/collections/nope")
    assert status == 403 and code_of(err) == "FORBIDDEN"
    status, err = api.call("post", "/collections", {"collection": "bad_type", "schema": {},
                                                    "fields": [{"field": "x", "type": "nope"}]})
    assert status == 400 and "unknown type" in err["errors"][0]["message"]

    # Arrays create and update several at once.
    data = api.ok("post", "/collections", [{"collection": "one", "schema": {}},
                                           {"collection": "two", "schema": {}}])
    assert [d["collection"] for d in data] == ["one", "two"]
    data = api.ok("patch", "/collections", [{"collection": "one", "meta": {"note": "1"}},
                                            {"collection": "two", "meta": {"note": "2"}}])
    assert [d["meta"]["note"] for d in data] == ["1", "2"]

    # A folder: metadata only, schema null, no items route.
    data = api.ok("post", "/collections", {"collection": "content", "schema": None,
                                           "meta": {"icon": "folder"}})
    assert data["schema"] is None and data["meta"]["icon"] == "folder"
    assert "content" not in table_names(app)
    api.ok("patch", "/collections/things", {"meta": {"group": "content", "note": "n"}})
    assert api.ok("get", "/collections/things")["meta"]["group"] == "content"
    status, _ = api.call("get", "/items/content")
    assert status == 403
    api.ok("delete", "/collections/content", status=204)
    assert api.ok("get", "/collections/things")["meta"]["group"] is None
    status, _ = api.call("get", "/collections/content")
    assert status == 403


def test_failed_create_leaves_nothing(app, api, monkeypatch):
    body = {"collection": "broken", "schema": {}, "fields": [
        {"field": "title", "type": "string"}, {"field": "oops", "type": "strnig"}]}
    status, err = api.call("post", "/collections", body)
    assert status == 400 and code_of(err) == "INVALID_PAYLOAD"
    assert "broken" not in table_names(app)
    assert meta_rows(app, "directus_collections", "broken") == []
    assert meta_rows(app, "directus_fields", "broken") == []

    # A failure after CREATE TABLE (here: writing the second field's meta row) is undone
    # too: rolled back where DDL is transactional, compensated where it is not.
    original = FieldsService.field_row
    calls = {"n": 0}

    def failing_field_row(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise sa.exc.OperationalError("INSERT", {}, Exception("simulated failure"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FieldsService, "field_row", failing_field_row)
    body["fields"][1]["type"] = "string"
    status, err = api.call("post", "/collections", body)
    assert status == 400 and "simulated failure" in err["errors"][0]["message"]
    assert calls["n"] == 2
    assert "broken" not in table_names(app)
    assert meta_rows(app, "directus_collections", "broken") == []
    assert meta_rows(app, "directus_fields", "broken") == []
    status, _ = api.call("get", "/collections/broken")
    assert status == 403
    monkeypatch.undo()
    api.ok("post", "/collections", body)
    assert "broken" in table_names(app)


def test_db_only_table_has_null_meta(app, api):
    cms = app.extensions["transom"]
    md = sa.MetaData()
    sa.Table("legacy", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("name", sa.String(50)))
    md.create_all(cms.engine)
    cms.refresh_schema()
    data = api.ok("get", "/collections/legacy")
    assert data["meta"] is None and data["schema"]["name"] == "legacy"
    assert api.ok("get", "/fields/legacy/name")["meta"] is None
    data = api.ok("patch", "/collections/legacy", {"meta": {"icon": "history", "note": "old"}})
    assert data["meta"]["icon"] == "history" and set(data["meta"]) == COLLECTION_META_KEYS
    f = api.ok("patch", "/fields/legacy/name", {"meta": {"interface": "input", "note": "n"}})
    assert f["meta"]["note"] == "n" and f["meta"]["interface"] == "input"


# -- fields ----------------------------------------------------------------------------------
def test_fields_add_update_delete(app, api, backend):
    make_collection(api, "products", {"field": "name", "type": "string"})
    api.ok("post", "/items/products", {"name": "pen"})

    f = api.ok("post", "/fields/products", {
        "field": "price", "type": "decimal",
        "schema": {"numeric_precision": 10, "numeric_scale": 2, "default_value": 1.5},
        "meta": {"interface": "input", "note": "EUR"}})
    assert f["schema"]["numeric_scale"] == 2 and f["meta"]["note"] == "EUR"
    assert f["meta"]["sort"] == 3
    f = api.ok("post", "/fields/products", {"field": "sku", "type": "string",
                                            "max_length": 32, "unique": True})
    assert f["schema"]["is_unique"] is True and f["schema"]["max_length"] == 32
    alias = api.ok("post", "/fields/products", {
        "field": "divider", "type": "alias",
        "meta": {"special": ["alias", "no-data"], "interface": "presentation-divider"}})
    assert alias["schema"] is None and alias["meta"]["special"] == ["alias", "no-data"]
    item = api.ok("get", "/items/products/1")
    assert float(item["price"]) == 1.5 and item["sku"] is None and "divider" not in item

    status, err = api.call("post", "/fields/products", {"field": "sku", "type": "string"})
    assert status == 400 and "already exists" in err["errors"][0]["message"]
    status, err = api.call("post", "/fields/products", {"field": "x", "type": "nope"})
    assert status == 400 and code_of(err) == "INVALID_PAYLOAD"
    status, err = api.call("post", "/fields/products", {"field": "bad name", "type": "string"})
    assert status == 400
    status, err = api.call("post", "/fields/nope", {"field": "x", "type": "string"})
    assert status == 403

    # Meta updates, alone and in bulk; echoing the schema back changes nothing.
    current = api.ok("get", "/fields/products/name")
    f = api.ok("patch", "/fields/products/name",
               {**current, "meta": {**current["meta"], "note": "Name", "width": "half"}})
    assert f["meta"]["note"] == "Name" and f["meta"]["width"] == "half"
    assert f["schema"] == current["schema"]
    data = api.ok("patch", "/fields/products", [
        {"field": "name", "meta": {"hidden": True}}, {"field": "sku", "meta": {"note": "S"}}])
    assert [d["field"] for d in data] == ["name", "sku"]
    assert data[0]["meta"]["hidden"] is True and data[1]["meta"]["note"] == "S"

    # Uniqueness can change everywhere; column changes where the database can ALTER.
    f = api.ok("patch", "/fields/products/sku", {"schema": {"is_unique": False}})
    assert f["schema"]["is_unique"] is False
    f = api.ok("patch", "/fields/products/name",
               {"schema": {"max_length": 80, "is_nullable": False}})
    assert f["schema"]["max_length"] == 80 and f["schema"]["is_nullable"] is False
    f = api.ok("patch", "/fields/products/name", {"schema": {"default_value": "unnamed"}})
    assert f["schema"]["default_value"] == "unnamed"
    status, err = api.call("patch", "/fields/products/price", {"schema": {"is_nullable": False},
                                                               "meta": {"note": "x"}})
    assert status == 200  # every row has the default price
    status, err = api.call("post", "/items/products", {"name": "pencil", "price": None})
    assert status == 400
    api.ok("post", "/fields/products", {"field": "maybe", "type": "integer"})
    api.ok("post", "/items/products", {"name": "ink"})
    status, err = api.call("patch", "/fields/products/maybe", {"schema": {"is_nullable": False}})
    assert status == 400 and code_of(err) == "CONTAINS_NULL_VALUES"
    api.ok("delete", "/fields/products/maybe", status=204)

    # Deletes: column, alias; primary keys, unknown and system fields are refused.
    api.ok("delete", "/fields/products/sku", status=204)
    api.ok("delete", "/fields/products/divider", status=204)
    status, _ = api.call("get", "/fields/products/sku")
    assert status == 403
    assert "sku" not in api.ok("get", "/items/products/1")
    assert {r.field for r in meta_rows(app, "directus_fields", "products")} == {
        "id", "name", "price"}
    status, err = api.call("delete", "/fields/products/id")
    assert status == 403
    status, err = api.call("delete", "/fields/products/nope")
    assert status == 403
    status, err = api.call("delete", "/fields/directus_users/email")
    assert status == 403


# -- relations -------------------------------------------------------------------------------
def test_m2o_and_o2m(app, api, backend):
    make_collection(api, "authors", {"field": "name", "type": "string"})
    make_collection(api, "articles", {"field": "title", "type": "string"},
                    {"field": "author", "type": "integer", "meta": {"special": ["m2o"],
                                                                   "interface": "select"}})
    rel = api.ok("post", "/relations", {
        "collection": "articles", "field": "author", "related_collection": "authors",
        "schema": {"on_delete": "SET NULL"}, "meta": {"one_field": "articles"}})
    assert set(rel) == {"collection", "field", "related_collection", "schema", "meta"}
    assert rel["related_collection"] == "authors"
    assert set(rel["meta"]) == RELATION_META_KEYS
    assert rel["meta"]["one_field"] == "articles"
    assert rel["meta"]["one_deselect_action"] == "nullify"
    if backend == "sqlite":
        assert rel["schema"] is None  # SQLite can't add a foreign key to an existing table
    else:
        assert set(rel["schema"]) == RELATION_SCHEMA_KEYS
        assert rel["schema"]["constraint_name"] == "articles_author_foreign"
        assert rel["schema"]["on_delete"] == "SET NULL"
        assert rel["schema"]["foreign_key_table"] == "authors"
    alias = api.ok("get", "/fields/authors/articles")
    assert alias["type"] == "alias" and alias["schema"] is None
    assert alias["meta"]["special"] == ["o2m"]
    assert api.ok("get", "/relations/articles") == [rel]
    assert api.ok("get", "/relations/articles/author") == rel
    assert rel in api.ok("get", "/relations")

    status, err = api.call("post", "/relations", {
        "collection": "articles", "field": "author", "related_collection": "authors"})
    assert status == 400 and "already has an associated relationship" in \
        err["errors"][0]["message"]
    status, err = api.call("post", "/relations", {
        "collection": "articles", "field": "nope", "related_collection": "authors"})
    assert status == 400

    ada = api.ok("post", "/items/authors", {"name": "Ada"})
    api.ok("post", "/items/articles", [{"title": "A1", "author": ada["id"]},
                                       {"title": "A2", "author": ada["id"]},
                                       {"title": "A3"}])
    rows = api.ok("get", "/items/articles?fields=*,author.*&sort=id")
    assert rows[0]["author"] == {"id": ada["id"], "name": "Ada", "articles": [1, 2]}
    assert rows[2]["author"] is None
    authors = api.ok("get", "/items/authors?fields=*,articles.title")
    assert authors == [{"id": 1, "name": "Ada", "articles": [{"title": "A1"},
                                                             {"title": "A2"}]}]
    if backend != "sqlite":
        status, err = api.call("post", "/items/articles", {"title": "bad", "author": 999})
        assert status == 400 and code_of(err) == "INVALID_FOREIGN_KEY"
        rel = api.ok("patch", "/relations/articles/author",
                     {"schema": {"on_delete": "CASCADE"}, "meta": {"sort_field": None}})
        assert rel["schema"]["on_delete"] == "CASCADE"
    rel = api.ok("patch", "/relations/articles/author",
                 {"meta": {"one_deselect_action": "delete"}})
    assert rel["meta"]["one_deselect_action"] == "delete"

    api.ok("delete", "/relations/articles/author", status=204)
    status, _ = api.call("get", "/relations/articles/author")
    assert status == 403
    status, _ = api.call("get", "/fields/authors/articles")
    assert status == 403  # the o2m alias went with its relation
    assert api.ok("get", "/items/articles/1?fields=author")["author"] == ada["id"]


def test_alias_first_then_m2m(app, api):
    make_collection(api, "tags", {"field": "name", "type": "string"})
    make_collection(api, "posts", {"field": "title", "type": "string"})
    api.ok("post", "/fields/posts", {"field": "tags", "type": "alias",
                                     "meta": {"special": ["m2m"], "interface": "list-m2m"}})
    make_collection(api, "posts_tags", {"field": "posts_id", "type": "integer"},
                    {"field": "tags_id", "type": "integer"})
    api.ok("post", "/relations", {"collection": "posts_tags", "field": "tags_id",
                                  "related_collection": "tags",
                                  "meta": {"junction_field": "posts_id"},
                                  "schema": {"on_delete": "SET NULL"}})
    api.ok("post", "/relations", {"collection": "posts_tags", "field": "posts_id",
                                  "related_collection": "posts",
                                  "meta": {"one_field": "tags", "junction_field": "tags_id",
                                           "one_deselect_action": "delete"},
                                  "schema": {"on_delete": "SET NULL"}})
    assert api.ok("get", "/fields/posts/tags")["meta"]["interface"] == "list-m2m"
    t1 = api.ok("post", "/items/tags", {"name": "python"})["id"]
    t2 = api.ok("post", "/items/tags", {"name": "flask"})["id"]
    post = api.ok("post", "/items/posts", {"title": "P"})["id"]
    api.ok("post", "/items/posts_tags", [{"posts_id": post, "tags_id": t1},
                                         {"posts_id": post, "tags_id": t2}])
    rows = api.ok("get", "/items/posts?fields=title,tags.tags_id.name")
    assert rows == [{"title": "P", "tags": [{"tags_id": {"name": "python"}},
                                            {"tags_id": {"name": "flask"}}]}]

    # Deleting a collection takes its relations, their aliases and its meta with it.
    api.ok("delete", "/collections/posts_tags", status=204)
    assert "posts_tags" not in table_names(app)
    assert meta_rows(app, "directus_relations", "posts_tags") == []
    assert meta_rows(app, "directus_fields", "posts_tags") == []
    assert meta_rows(app, "directus_collections", "posts_tags") == []
    status, _ = api.call("get", "/fields/posts/tags")
    assert status == 403
    assert api.ok("get", "/items/posts?fields=title") == [{"title": "P"}]


def test_m2a_scoped_read(app, api):
    make_collection(api, "headings", {"field": "title", "type": "string"})
    make_collection(api, "texts", {"field": "body", "type": "text"})
    make_collection(api, "pages", {"field": "name", "type": "string"})
    make_collection(api, "pages_sections", {"field": "pages_id", "type": "integer"},
                    {"field": "item", "type": "string"},
                    {"field": "collection", "type": "string"})
    api.ok("post", "/relations", {
        "collection": "pages_sections", "field": "item", "related_collection": None,
        "schema": None, "meta": {"one_allowed_collections": ["headings", "texts"],
                                 "one_collection_field": "collection",
                                 "junction_field": "pages_id"}})
    api.ok("post", "/relations", {
        "collection": "pages_sections", "field": "pages_id", "related_collection": "pages",
        "meta": {"one_field": "sections", "junction_field": "item"}})
    sections = api.ok("get", "/fields/pages/sections")
    assert sections["meta"]["special"] == ["m2a"]
    item_rel = api.ok("get", "/relations/pages_sections/item")
    assert item_rel["related_collection"] is None and item_rel["schema"] is None
    assert item_rel["meta"]["one_allowed_collections"] == ["headings", "texts"]

    h = api.ok("post", "/items/headings", {"title": "Welcome"})["id"]
    t = api.ok("post", "/items/texts", {"body": "Lorem"})["id"]
    page = api.ok("post", "/items/pages", {"name": "home"})["id"]
    api.ok("post", "/items/pages_sections", [
        {"pages_id": page, "item": str(h), "collection": "headings"},
        {"pages_id": page, "item": str(t), "collection": "texts"}])
    rows = api.ok("get", "/items/pages?fields=name,sections.item:headings.title,"
                         "sections.collection")
    sections = rows[0]["sections"]
    assert {"collection": "headings", "item": {"title": "Welcome"}} in sections
    assert len(sections) == 2

    # Deleting an allowed collection removes it from the m2a's list.
    api.ok("delete", "/collections/texts", status=204)
    item_rel = api.ok("get", "/relations/pages_sections/item")
    assert item_rel["meta"]["one_allowed_collections"] == ["headings"]


# -- views, permissions ----------------------------------------------------------------------
def test_view_is_a_read_only_collection(app, api):
    make_collection(api, "scores", {"field": "points", "type": "integer"})
    api.ok("post", "/items/scores", [{"points": 5}, {"points": 50}])
    cms = app.extensions["transom"]
    with cms.engine.begin() as conn:
        conn.execute(sa.text("CREATE VIEW high_scores AS SELECT id, points FROM scores "
                             "WHERE points > 10"))
    cms.refresh_schema()
    data = api.ok("get", "/collections/high_scores")
    assert data["collection"] == "high_scores" and data["schema"]["name"] == "high_scores"
    assert api.ok("get", "/items/high_scores?fields=points") == [{"points": 50}]
    status, err = api.call("post", "/fields/high_scores", {"field": "x", "type": "string"})
    assert status == 400 and "view" in err["errors"][0]["message"]
    status, err = api.call("post", "/items/high_scores", {"points": 70})
    assert status == 400 and "view" in err["errors"][0]["message"]
    # The view's meta can still be set, like any DB-only collection's; deleting drops it.
    assert api.ok("patch", "/collections/high_scores",
                  {"meta": {"icon": "leaderboard"}})["meta"]["icon"] == "leaderboard"
    api.ok("delete", "/collections/high_scores", status=204)
    status, _ = api.call("get", "/collections/high_scores")
    assert status == 403
    assert len(api.ok("get", "/items/scores")) == 2


def _non_admin(app: Any, readable: str) -> dict[str, str]:
    """A user with a static token whose only policy may read ``readable`` (id, name)."""
    cms = app.extensions["transom"]
    policy, user = str(uuid.uuid4()), str(uuid.uuid4())
    token = "reader-token-" + uuid.uuid4().hex

    def table(name: str, *cols: str) -> Any:
        return sa.table(name, *(sa.column(c) for c in cols))

    with cms.engine.begin() as conn:
        conn.execute(table("directus_policies", "id", "name", "icon", "admin_access",
                           "app_access", "enforce_tfa").insert().values(
            id=policy, name="Reader", icon="badge", admin_access=False, app_access=False,
            enforce_tfa=False))
        conn.execute(table("directus_users", "id", "email", "status", "token",
                           "provider").insert().values(
            id=user, email="reader@example.com", status="active", token=token,
            provider="default"))
        conn.execute(table("directus_access", "id", "role", "user", "policy",
                           "sort").insert().values(
            id=str(uuid.uuid4()), role=None, user=user, policy=policy, sort=1))
        conn.execute(table("directus_permissions", "collection", "action", "fields",
                           "policy").insert().values(
            collection=readable, action="read", fields="id,name", policy=policy))
    cms.access.invalidate()
    return {"Authorization": f"Bearer {token}"}


def test_non_admin_reads_filtered_and_writes_forbidden(app, api):
    make_collection(api, "public_things", {"field": "name", "type": "string"},
                    {"field": "secret", "type": "string"})
    make_collection(api, "private_things", {"field": "name", "type": "string"})
    headers = _non_admin(app, "public_things")

    status, body = api.call("get", "/collections", headers=headers)
    assert status == 200
    assert [c["collection"] for c in body["data"]] == ["public_things"]
    status, body = api.call("get", "/fields/public_things", headers=headers)
    assert status == 200 and [f["field"] for f in body["data"]] == ["id", "name"]
    for url in ("/collections/private_things", "/fields/private_things",
                "/fields/public_things/secret", "/relations/private_things"):
        status, body = api.call("get", url, headers=headers)
        assert status == 403, url

    writes = [
        ("post", "/collections", {"collection": "mine", "schema": {}}),
        ("patch", "/collections/public_things", {"meta": {"note": "x"}}),
        ("delete", "/collections/public_things", None),
        ("post", "/fields/public_things", {"field": "x", "type": "string"}),
        ("patch", "/fields/public_things/name", {"meta": {"note": "x"}}),
        ("delete", "/fields/public_things/name", None),
        ("post", "/relations", {"collection": "public_things", "field": "name",
                                "related_collection": "private_things"}),
    ]
    for method, url, payload in writes:
        status, body = api.call(method, url, payload, headers=headers)
        assert status == 403 and code_of(body) == "FORBIDDEN", (method, url)
    assert "mine" not in table_names(app)
    status, body = api.call("get", "/relations", headers=headers)
    assert status == 200 and body["data"] == []
    assert api.ok("get", "/fields/public_things/name")["meta"]["note"] is None


def test_deletes_with_foreign_keys(app, api, backend):
    make_collection(api, "owners", {"field": "name", "type": "string"})
    make_collection(api, "pets", {"field": "name", "type": "string"},
                    {"field": "owner", "type": "integer"})
    relation = {"collection": "pets", "field": "owner", "related_collection": "owners",
                "schema": {"on_delete": "CASCADE"}, "meta": {"one_field": "pets"}}
    api.ok("post", "/relations", relation)
    owner = api.ok("post", "/items/owners", {"name": "Ann"})["id"]
    api.ok("post", "/items/pets", {"name": "Rex", "owner": owner})

    # Dropping the m2o column drops its foreign key, relation and o2m alias.
    api.ok("delete", "/fields/pets/owner", status=204)
    assert meta_rows(app, "directus_relations", "pets") == []
    assert {r.field for r in meta_rows(app, "directus_fields", "owners")} == {"id", "name"}
    assert api.ok("get", "/items/pets?fields=*") == [{"id": 1, "name": "Rex"}]

    # Dropping the "one" side drops the foreign keys pointing at it (the column stays).
    api.ok("post", "/fields/pets", {"field": "owner", "type": "integer"})
    api.ok("post", "/relations", relation)
    api.ok("patch", "/items/pets/1", {"owner": owner})
    api.ok("delete", "/collections/owners", status=204)
    assert "owners" not in table_names(app)
    assert meta_rows(app, "directus_relations", "pets") == []
    assert api.ok("get", "/relations/pets") == []
    assert api.ok("get", "/items/pets/1?fields=owner")["owner"] == owner
    api.ok("patch", "/items/pets/1", {"owner": 12345})  # no constraint left behind


def test_introspected_foreign_keys_get_metadata(blog, api, backend):
    rels = {r["field"]: r for r in api.ok("get", "/relations/articles")}
    bare = rels["author"]
    assert bare["meta"] is None and bare["related_collection"] == "authors"
    assert bare["schema"]["on_delete"] == "SET NULL"
    rel = api.ok("post", "/relations", {"collection": "articles", "field": "author",
                                        "related_collection": "authors",
                                        "meta": {"one_field": "articles"}})
    assert rel["meta"]["one_field"] == "articles"
    assert rel["schema"]["foreign_key_table"] == "authors"  # the existing key is kept
    rows = api.ok("get", "/items/authors?fields=name,articles.id&filter[id][_eq]=1")
    assert rows == [{"name": "Ada Lovelace", "articles": [{"id": 3}, {"id": 6}, {"id": 9},
                                                         {"id": 12}]}]
    # A bare foreign key's meta row can also be made with PATCH.
    rel = api.ok("patch", "/relations/comments/article",
                 {"meta": {"one_field": "comments"}})
    assert rel["meta"]["one_field"] == "comments"
    assert api.ok("get", "/fields/articles/comments")["meta"]["special"] == ["o2m"]


def test_column_changes_keep_data_keys_and_indexes(blog, api, backend):
    """ALTER COLUMN on the server databases, SQLite's table rebuild otherwise: rows, foreign
    keys in both directions, indexes and views must all survive."""
    cms = blog.extensions["transom"]
    with cms.engine.begin() as conn:
        conn.execute(sa.text("CREATE VIEW article_states AS SELECT id, status FROM articles"))
    cms.refresh_schema()  # a change made outside Transom: what the fingerprint poll does
    api.ok("patch", "/fields/articles/status", {"schema": {"is_indexed": True}})
    api.ok("post", "/relations", {"collection": "comments", "field": "article",
                                  "related_collection": "articles",
                                  "meta": {"one_field": "comments"}})
    f = api.ok("patch", "/fields/articles/title",
               {"schema": {"max_length": 100, "is_nullable": True, "default_value": "Untitled"},
                "meta": {"note": "shorter"}})
    assert f["schema"]["max_length"] == 100 and f["schema"]["is_nullable"] is True
    assert f["schema"]["default_value"] == "Untitled" and f["meta"]["note"] == "shorter"

    assert len(api.ok("get", "/items/articles?limit=-1")) == 12
    assert api.ok("get", "/items/article_states/1")["status"] == "draft"
    assert api.ok("get", "/fields/articles/status")["schema"]["is_indexed"] is True
    rels = {r["field"]: r for r in api.ok("get", "/relations/articles")}
    assert rels["author"]["schema"]["foreign_key_table"] == "authors"
    assert rels["author"]["schema"]["on_delete"] == "SET NULL"
    rows = api.ok("get", "/items/articles/1?fields=title,comments.text,author.name")
    assert rows == {"title": "Article 1", "comments": [{"text": "First!"},
                                                       {"text": "Great read"}],
                    "author": {"name": "Alan Turing"}}
    status, err = api.call("post", "/items/comments", {"article": 999, "text": "orphan"})
    assert status == 400 and code_of(err) == "INVALID_FOREIGN_KEY"
    status, err = api.call("post", "/items/articles", {"status": "draft", "author": 999})
    assert status == 400 and code_of(err) == "INVALID_FOREIGN_KEY"
    created = api.ok("post", "/items/articles", {"status": "draft"})
    assert created["title"] == "Untitled" and created["id"] > 12


def test_sqlite_rebuild_keeps_autoincrement(app, api):
    make_collection(api, "counters", {"field": "label", "type": "string"})
    api.ok("post", "/items/counters", [{"label": "a"}, {"label": "b"}, {"label": "c"}])
    api.ok("delete", "/items/counters/3", status=204)
    api.ok("patch", "/fields/counters/label", {"schema": {"max_length": 10}})
    assert api.ok("post", "/items/counters", {"label": "d"})["id"] == 4
