"""Writing items over REST: shapes, errors, atomic batches, nested relations."""

from __future__ import annotations

import pytest


def test_create_one_and_many(blog, client, admin_headers):
    resp = client.post("/items/articles", json={
        "title": "Sample", "body": "b", "status": "draft", "rating": 5,
        "published_at": "2024-06-01T12:00:00Z", "author": 3}, headers=admin_headers)
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert data["id"] == 13 and data["published_at"] == "2024-06-01T12:00:00.000Z"
    assert data["status"] == "draft" and data["author"] == 3
    resp = client.post("/items/articles?fields=id,title",
                       json=[{"title": "many 1", "author": 1}, {"title": "many 2"}],
                       headers=admin_headers)
    assert resp.get_json() == {"data": [{"id": 14, "title": "many 1"},
                                        {"id": 15, "title": "many 2"}]}


def test_unknown_fields_are_ignored(blog, client, admin_headers):
    resp = client.post("/items/articles", json={"title": "x", "no_such_field": 1},
                       headers=admin_headers)
    assert resp.status_code == 200
    assert "no_such_field" not in resp.get_json()["data"]


def test_update_one_and_fields(blog, client, admin_headers):
    resp = client.patch("/items/articles/2", json={"status": "published", "rating": 77},
                        headers=admin_headers)
    assert resp.get_json()["data"]["rating"] == 77
    resp = client.patch("/items/articles/2?fields=id,status,author.name", json={"rating": 78},
                        headers=admin_headers)
    assert resp.get_json() == {"data": {"id": 2, "status": "published",
                                        "author": {"name": "Grace Hopper"}}}


def test_batch_update_forms(blog, client, admin_headers):
    r = client.patch("/items/articles?fields=id,rating", json={"keys": [1, 2], "data": {
        "rating": 1}}, headers=admin_headers)
    assert r.get_json() == {"data": [{"id": 1, "rating": 1}, {"id": 2, "rating": 1}]}
    r = client.patch("/items/articles?fields=id,rating", json=[{"id": 1, "rating": 2},
                                                              {"id": 2, "rating": 3}],
                     headers=admin_headers)
    assert r.get_json() == {"data": [{"id": 1, "rating": 2}, {"id": 2, "rating": 3}]}
    r = client.patch("/items/articles?fields=id", json={"query": {"filter": {"id": {"_lt": 3}}},
                                                        "data": {"rating": 9}},
                     headers=admin_headers)
    assert sorted(a["id"] for a in r.get_json()["data"]) == [1, 2]
    r = client.patch("/items/articles", json={"data": {"rating": 1}}, headers=admin_headers)
    assert r.status_code == 400
    r = client.patch("/items/articles", json={"keys": [1], "query": {}, "data": {}},
                     headers=admin_headers)
    assert r.status_code == 400


def test_delete_forms(blog, client, admin_headers):
    assert client.delete("/items/articles/12", headers=admin_headers).status_code == 204
    assert client.delete("/items/articles", json=[10, 11], headers=admin_headers).status_code \
        == 204
    assert client.delete("/items/articles", json={"keys": [9]},
                         headers=admin_headers).status_code == 204
    r = client.delete("/items/articles", json={"query": {"filter": {"id": {"_gt": 6}}}},
                      headers=admin_headers)
    assert r.status_code == 204
    ids = [a["id"] for a in client.get("/items/articles?fields=id",
                                       headers=admin_headers).get_json()["data"]]
    assert ids == [1, 2, 3, 4, 5, 6]
    assert client.delete("/items/articles", json={"nope": 1},
                         headers=admin_headers).status_code == 400


def test_missing_items_as_admin(blog, client, admin_headers):
    # Directus: the admin skips the access check, the re-read finds nothing -> 204.
    assert client.patch("/items/articles/999999", json={"rating": 1},
                        headers=admin_headers).status_code == 204
    assert client.delete("/items/articles/999999", headers=admin_headers).status_code == 204


def test_database_errors_are_translated(blog, client, admin_headers):
    r = client.post("/items/articles", json={"title": "bad fk", "author": 999999},
                    headers=admin_headers)
    assert r.status_code == 400
    err = r.get_json()["errors"][0]
    assert err["extensions"]["code"] == "INVALID_FOREIGN_KEY"
    assert err["extensions"]["field"] == "author"
    r = client.post("/items/authors", json={"name": "Dup", "email": "ada@example.com"},
                    headers=admin_headers)
    assert r.status_code == 400
    err = r.get_json()["errors"][0]
    assert err["extensions"]["code"] == "RECORD_NOT_UNIQUE"
    assert err["extensions"]["field"] == "email"
    r = client.post("/items/articles", json={"rating": 1}, headers=admin_headers)
    assert r.status_code == 400
    assert r.get_json()["errors"][0]["extensions"]["code"] == "NOT_NULL_VIOLATION"
    r = client.post("/items/articles", json={"title": "x" * 300}, headers=admin_headers)
    assert r.status_code == 400
    assert r.get_json()["errors"][0]["extensions"]["code"] in ("VALUE_TOO_LONG",)
    r = client.post("/items/articles", json={"title": "bad", "rating": "not-a-number"},
                    headers=admin_headers)
    assert r.status_code == 400
    assert r.get_json()["errors"][0]["extensions"] == {
        "field": "rating", "type": "type", "code": "FAILED_VALIDATION"}


@pytest.mark.backends("sqlite", "postgres", "mysql")
def test_batch_is_atomic(blog, client, admin_headers):
    r = client.post("/items/articles", json=[{"title": "ok 1"}, {"title": None}],
                    headers=admin_headers)
    assert r.status_code == 400
    ids = [a["id"] for a in client.get("/items/articles?fields=id&limit=-1",
                                       headers=admin_headers).get_json()["data"]]
    assert ids == list(range(1, 13))
    r = client.patch("/items/articles", json=[{"id": 1, "rating": 5}, {"id": 2, "author": 77}],
                     headers=admin_headers)
    assert r.status_code == 400
    assert client.get("/items/articles/1", headers=admin_headers).get_json()["data"][
        "rating"] == 17


def test_max_batch_mutation(blog, make_app, admin_headers):
    app = make_app({"MAX_BATCH_MUTATION": "2"}, bootstrap=False)
    app.extensions["transom"].refresh_schema()
    client = app.test_client()
    r = client.post("/items/articles", json=[{"title": "1"}, {"title": "2"}, {"title": "3"}],
                    headers=admin_headers)
    assert r.status_code == 400
    assert r.get_json()["errors"][0]["message"] == (
        "Invalid payload. Exceeded max batch mutation limit of 2.")


def test_nested_m2o_and_o2m_writes(blog_o2m, client, admin_headers):
    r = client.post("/items/articles?fields=id,author.name,comments.text", json={
        "title": "nested", "author": {"name": "Barbara Liskov"},
        "comments": [{"text": "one"}, {"text": "two"}]}, headers=admin_headers)
    assert r.status_code == 200, r.get_json()
    data = r.get_json()["data"]
    assert data["author"] == {"name": "Barbara Liskov"}
    assert sorted(c["text"] for c in data["comments"]) == ["one", "two"]
    # update through the detailed form, and unlink by omission
    r = client.patch(f"/items/articles/{data['id']}?fields=comments.text", json={
        "comments": {"create": [{"text": "three"}], "update": [], "delete": []}},
        headers=admin_headers)
    assert sorted(c["text"] for c in r.get_json()["data"]["comments"]) == ["one", "three",
                                                                            "two"]
    keep = client.get("/items/comments?fields=id&filter[text][_eq]=one",
                      headers=admin_headers).get_json()["data"][0]["id"]
    r = client.patch(f"/items/articles/{data['id']}?fields=comments.text",
                     json={"comments": [keep]}, headers=admin_headers)
    assert r.get_json()["data"]["comments"] == [{"text": "one"}]
    orphans = client.get("/items/comments?fields=text&filter[article][_null]=true",
                         headers=admin_headers).get_json()["data"]
    assert sorted(c["text"] for c in orphans) == ["three", "two"]


def test_search_method(blog, client, admin_headers):
    r = client.open("/items/articles", method="SEARCH", headers=admin_headers,
                    json={"query": {"filter": {"id": {"_in": [2, 3]}}, "fields": ["id"]}})
    assert r.get_json() == {"data": [{"id": 2}, {"id": 3}]}


def test_export_csv(blog, client, admin_headers):
    r = client.get("/items/articles?fields=id,title&limit=2&export=csv", headers=admin_headers)
    assert r.status_code == 200
    assert "attachment" in r.headers["Content-Disposition"]
    lines = r.get_data(as_text=True).strip().splitlines()
    assert lines[0].replace('"', "") == "id,title"
    assert len(lines) == 3


def test_view_is_read_only(blog, client, admin_headers):
    cms = blog.extensions["transom"]
    with cms.engine.begin() as conn:
        conn.exec_driver_sql("CREATE VIEW published_articles AS SELECT id, title FROM articles "
                             "WHERE status = 'published'")
    cms.refresh_schema()
    r = client.get("/items/published_articles?fields=id,title&sort=id", headers=admin_headers)
    assert r.status_code == 200
    assert [a["id"] for a in r.get_json()["data"]] == [3, 6, 9, 12]
    r = client.post("/items/published_articles", json={"title": "x"}, headers=admin_headers)
    assert r.status_code == 400
    assert "read-only" in r.get_json()["errors"][0]["message"]


def test_singleton(blog, client, admin_headers):
    cms = blog.extensions["transom"]
    with cms.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE site_settings (id INTEGER PRIMARY KEY, "
                             "site_name VARCHAR(100))")
        conn.exec_driver_sql("INSERT INTO directus_collections (collection, singleton) "
                             "VALUES ('site_settings', true)")
    cms.refresh_schema()
    r = client.get("/items/site_settings", headers=admin_headers)
    assert r.get_json() == {"data": {"id": None, "site_name": None}}
    r = client.patch("/items/site_settings", json={"id": 1, "site_name": "Mine"},
                     headers=admin_headers)
    assert r.get_json() == {"data": {"id": 1, "site_name": "Mine"}}
    r = client.patch("/items/site_settings", json={"site_name": "Ours"}, headers=admin_headers)
    assert r.get_json()["data"]["site_name"] == "Ours"
    assert client.post("/items/site_settings", json={}, headers=admin_headers).status_code == 404
    assert client.get("/items/site_settings/1", headers=admin_headers).status_code == 404


def test_nested_m2m_write(blog, client, admin_headers):
    cms = blog.extensions["transom"]
    serial = {"sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
              "mysql": "INTEGER PRIMARY KEY AUTO_INCREMENT",
              "postgresql": "INTEGER PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY"}[
        cms.dialect.name]
    with cms.engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE tags (id {serial}, name VARCHAR(50))")
        conn.exec_driver_sql(f"CREATE TABLE articles_tags (id {serial}, "
                             "articles_id INTEGER REFERENCES articles(id), "
                             "tags_id INTEGER REFERENCES tags(id))")
        conn.exec_driver_sql("INSERT INTO tags (name) VALUES ('python'), ('sql')")
        conn.exec_driver_sql("INSERT INTO directus_fields (collection, field, special) VALUES "
                             "('articles', 'labels', 'm2m')")
        conn.exec_driver_sql(
            "INSERT INTO directus_relations (many_collection, many_field, one_collection, "
            "one_field, junction_field) VALUES ('articles_tags', 'articles_id', 'articles', "
            "'labels', 'tags_id'), ('articles_tags', 'tags_id', 'tags', NULL, 'articles_id')")
    cms.refresh_schema()
    r = client.post("/items/articles?fields=id,labels.tags_id.name", json={
        "title": "tagged", "labels": [{"tags_id": 1}, {"tags_id": {"name": "new tag"}}]},
        headers=admin_headers)
    assert r.status_code == 200, r.get_json()
    data = r.get_json()["data"]
    assert sorted(t["tags_id"]["name"] for t in data["labels"]) == ["new tag", "python"]
    r = client.get("/items/articles?fields=id&filter[labels][tags_id][name][_eq]=python",
                   headers=admin_headers)
    assert [a["id"] for a in r.get_json()["data"]] == [data["id"]]
    # replacing the links removes the junction rows that are left out
    r = client.patch(f"/items/articles/{data['id']}?fields=labels.tags_id.name",
                     json={"labels": [{"tags_id": 2}]}, headers=admin_headers)
    assert r.get_json()["data"]["labels"] == [{"tags_id": {"name": "sql"}}]
