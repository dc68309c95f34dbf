"""Access control: roles, policies and permissions set up through the API, then enforced on
every read and write path (row filters, field masking, relational leaks, counts)."""

from __future__ import annotations

from typing import Any

from transom.testing.helpers import setup_user


def ids(resp: Any) -> list[Any]:
    return [item["id"] for item in resp.get_json()["data"]]


def test_public_role_read_only(blog, client, admin_headers):
    public = client.get("/policies?filter[name][_eq]=$t:public_label",
                        headers=admin_headers).get_json()["data"][0]
    client.post("/permissions", json={
        "policy": public["id"], "collection": "articles", "action": "read",
        "fields": ["id", "title", "status"],
        "permissions": {"status": {"_eq": "published"}}}, headers=admin_headers)
    r = client.get("/items/articles?sort=id")
    assert r.status_code == 200
    assert ids(r) == [3, 6, 9, 12]
    assert set(r.get_json()["data"][0]) == {"id", "title", "status"}
    assert client.get("/items/articles/1").status_code == 403  # hidden row looks missing
    assert client.get("/items/articles?fields=rating").status_code == 403
    assert client.get("/items/authors").status_code == 403
    assert client.post("/items/articles", json={"title": "x"}).status_code == 403
    assert client.delete("/items/articles/3").status_code == 403
    assert client.get("/items/articles?meta=*&limit=1").get_json()["meta"] == {
        "total_count": 4, "filter_count": 4}


def test_ip_access_limits_the_public_policy(blog, client, admin_headers):
    public = client.get("/policies?filter[name][_eq]=$t:public_label",
                        headers=admin_headers).get_json()["data"][0]
    client.post("/permissions", json={"policy": public["id"], "collection": "articles",
                                      "action": "read", "fields": ["*"]}, headers=admin_headers)
    client.patch(f"/policies/{public['id']}", json={"ip_access": ["10.1.0.0/16"]},
                 headers=admin_headers)
    inside, outside = {"REMOTE_ADDR": "10.1.2.3"}, {"REMOTE_ADDR": "192.0.2.1"}
    assert client.get("/items/articles?limit=1", environ_base=inside).status_code == 200
    assert client.get("/items/articles?limit=1", environ_base=outside).status_code == 403


def test_editor_creates_and_updates_but_cannot_delete(blog, client, admin_headers):
    editor = setup_user(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["*"]},
        {"collection": "articles", "action": "create", "fields": ["title", "body", "status"]},
        {"collection": "articles", "action": "update", "fields": ["title", "status"]},
    ])
    h = editor["headers"]
    r = client.post("/items/articles", json={"title": "by editor"}, headers=h)
    assert r.status_code == 200
    new_id = r.get_json()["data"]["id"]
    assert client.post("/items/articles", json={"title": "x", "rating": 5},
                       headers=h).status_code == 403  # rating not in create fields
    assert client.patch(f"/items/articles/{new_id}", json={"status": "published"},
                        headers=h).status_code == 200
    assert client.delete(f"/items/articles/{new_id}", headers=h).status_code == 403
    assert client.get(f"/items/articles/{new_id}", headers=admin_headers).status_code == 200


def test_row_rules_with_current_user(blog, client, admin_headers):
    cms = blog.extensions["transom"]
    with cms.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE articles ADD COLUMN owner CHAR(36)")
    cms.refresh_schema()
    writer = setup_user(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["*"],
         "permissions": {"owner": {"_eq": "$CURRENT_USER"}}},
        {"collection": "articles", "action": "create", "fields": ["*"],
         "presets": {"owner": "$CURRENT_USER"}},
        {"collection": "articles", "action": "update", "fields": ["*"],
         "permissions": {"owner": {"_eq": "$CURRENT_USER"}}},
    ])
    h = writer["headers"]
    assert client.get("/items/articles", headers=h).get_json()["data"] == []
    r = client.post("/items/articles", json={"title": "mine"}, headers=h)
    assert r.status_code == 200
    mine = r.get_json()["data"]
    assert mine["owner"] == writer["user"]["id"]
    assert ids(client.get("/items/articles", headers=h)) == [mine["id"]]
    assert client.patch("/items/articles/1", json={"title": "not mine"},
                        headers=h).status_code == 403
    r = client.patch("/items/articles", json={"keys": [1, mine["id"]], "data": {"title": "z"}},
                     headers=h)
    assert r.status_code == 403  # one forbidden key fails the whole batch
    assert client.get("/items/articles/1", headers=admin_headers).get_json()["data"][
        "title"] == "Article 1"


def test_field_masking_and_forbidden_fields(blog, client, admin_headers):
    reader = setup_user(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["id", "title"]},
        {"collection": "articles", "action": "read", "fields": ["id", "title", "rating"],
         "permissions": {"status": {"_eq": "published"}}},
    ])
    h = reader["headers"]
    r = client.get("/items/articles?fields=id,rating&sort=id&limit=4", headers=h)
    assert r.status_code == 200
    assert r.get_json()["data"] == [{"id": 1, "rating": None}, {"id": 2, "rating": None},
                                    {"id": 3, "rating": 51}, {"id": 4, "rating": None}]
    assert set(client.get("/items/articles?limit=1", headers=h).get_json()["data"][0]) == {
        "id", "title", "rating"}
    assert client.get("/items/articles?fields=body", headers=h).status_code == 403
    assert client.get("/items/articles?filter[body][_contains]=a", headers=h).status_code == 403
    assert client.get("/items/articles?sort=body", headers=h).status_code == 403
    assert client.get("/items/articles?aggregate[max]=body", headers=h).status_code == 403


def test_relational_leaks_are_closed(blog, client, admin_headers):
    reader = setup_user(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["*"]},
        {"collection": "authors", "action": "read", "fields": ["id", "name"]},
    ])
    h = reader["headers"]
    r = client.get("/items/articles?fields=id,author.name&limit=1", headers=h)
    assert r.get_json()["data"] == [{"id": 1, "author": {"name": "Alan Turing"}}]
    assert client.get("/items/articles?fields=author.email", headers=h).status_code == 403
    assert client.get("/items/articles?filter[author][email][_contains]=ada",
                      headers=h).status_code == 403
    assert client.get("/items/articles?sort=author.email", headers=h).status_code == 403
    # through the system collections: the user's own password hash and token never leak
    r = client.get("/users", headers=h)
    assert r.status_code == 403


def test_relation_into_unreadable_collection_is_left_out(blog, client, admin_headers):
    reader = setup_user(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["*"]},
    ])
    r = client.get("/items/articles?limit=1&fields=id,author.name", headers=reader["headers"])
    assert r.get_json() == {"data": [{"id": 1}]}  # Directus sample 24


def test_app_access_reads_own_user_only(blog, client, admin_headers):
    user = setup_user(client, admin_headers, [], app_access=True)
    h = user["headers"]
    me = client.get("/users/me", headers=h).get_json()["data"]
    assert me["id"] == user["user"]["id"]
    assert me["password"] == "**********" and me["token"] == "**********"
    assert ids(client.get("/users", headers=h)) == [user["user"]["id"]]
    assert client.get("/policies/me/globals", headers=h).get_json()["data"] == {
        "app_access": True, "admin_access": False, "enforce_tfa": False}
    perms = client.get("/permissions/me", headers=h).get_json()["data"]
    assert perms["directus_users"]["read"]["access"] == "partial"
    assert "articles" not in perms


def test_anonymous_me_and_forged_static_token(blog, client):
    assert client.get("/users/me").status_code == 401
    r = client.get("/items/articles", headers={"Authorization": "Bearer not-a-valid-token"})
    assert r.status_code == 401
    assert r.get_json()["errors"][0]["extensions"]["code"] == "INVALID_CREDENTIALS"
    r = client.get("/items/articles?access_token=x", headers={"Authorization": "Bearer y"})
    assert r.status_code == 400


def test_revoking_access_takes_effect(blog, client, admin_headers):
    reader = setup_user(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["*"]}])
    h = reader["headers"]
    assert client.get("/items/articles?limit=1", headers=h).status_code == 200
    client.delete(f"/policies/{reader['policy']['id']}", headers=admin_headers)
    assert client.get("/items/articles?limit=1", headers=h).status_code == 403


def test_explain_endpoint(blog, client, admin_headers):
    reader = setup_user(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["id", "title"]},
        {"collection": "articles", "action": "read", "fields": ["id", "title", "rating"],
         "permissions": {"status": {"_eq": "published"}}},
    ])
    uid = reader["user"]["id"]
    r = client.get(f"/permissions/explain/articles/read?user={uid}&key=1",
                   headers=admin_headers)
    assert r.status_code == 200
    out = r.get_json()["data"]
    assert out["allowed"] is True and len(out["rules"]) == 2
    assert out["fields"]["title"] == "always"
    assert out["fields"]["rating"] == {"where": {"status": {"_eq": "published"}}}
    assert out["fields"]["body"] == "never"
    assert out["item"] == {"key": "1", "reachable": True}
    out = client.get(f"/permissions/explain/articles/delete?user={uid}",
                     headers=admin_headers).get_json()["data"]
    assert out["allowed"] is False and "no rule" in out["reason"]
    assert client.get(f"/permissions/explain/articles/read?user={uid}",
                      headers=reader["headers"]).status_code == 403


def test_validation_rules_and_presets(blog, client, admin_headers):
    writer = setup_user(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["*"]},
        {"collection": "articles", "action": "create", "fields": ["*"],
         "validation": {"_and": [{"rating": {"_between": [0, 10]}},
                                 {"title": {"_nempty": True}}]},
         "presets": {"status": "draft"}},
    ])
    h = writer["headers"]
    r = client.post("/items/articles", json={"title": "ok", "rating": 11}, headers=h)
    assert r.status_code == 400
    errors = r.get_json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["FAILED_VALIDATION"]
    assert errors[0]["extensions"]["field"] == "rating"
    r = client.post("/items/articles", json={"title": "", "rating": 50}, headers=h)
    assert sorted(e["extensions"]["field"] for e in r.get_json()["errors"]) == [
        "rating", "title"]  # one error per field
    r = client.post("/items/articles", json={"title": "fine", "rating": 5}, headers=h)
    assert r.status_code == 200 and r.get_json()["data"]["status"] == "draft"


def test_ip_access_limits_a_policy(blog, client, admin_headers):
    user = setup_user(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["*"]}])
    client.patch(f"/policies/{user['policy_id']}", json={"ip_access": ["10.1.0.0/16"]},
                 headers=admin_headers)
    # the caller's own address (X-Forwarded-For is not trusted unless IP_TRUST_PROXY)
    inside, outside = {"REMOTE_ADDR": "10.1.2.3"}, {"REMOTE_ADDR": "192.0.2.1"}
    assert client.get("/items/articles?limit=1", headers=user["headers"],
                      environ_base=inside).status_code == 200
    assert client.get("/items/articles?limit=1", headers=user["headers"],
                      environ_base=outside).status_code == 403
    spoofed = {**user["headers"], "X-Forwarded-For": "10.1.2.3"}
    assert client.get("/items/articles?limit=1", headers=spoofed,
                      environ_base=outside).status_code == 403
