"""The permission editor (fields, item filter, validation, presets) and what it does to an
editor's pages, through the Flask test client on real databases."""

from __future__ import annotations

import json
from typing import Any

import pytest

from transom.api import ExtensionContext

from .conftest import form_token, sign_in

pytestmark = pytest.mark.backends("sqlite", "postgres")


def _books(client: Any) -> None:
    resp = client.post("/collections", json={
        "collection": "books", "meta": {}, "schema": {},
        "fields": [{"field": "id", "type": "integer",
                    "schema": {"is_primary_key": True, "has_auto_increment": True}},
                   {"field": "title", "type": "string"},
                   {"field": "status", "type": "string"},
                   {"field": "secret", "type": "string"}]})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    for title, status in (("Draft one", "draft"), ("Live one", "published"),
                          ("Draft two", "draft")):
        resp = client.post("/items/books", json={"title": title, "status": status,
                                                 "secret": "s-" + title})
        assert resp.status_code == 200, resp.get_data(as_text=True)


def _editor(cms: Any) -> Any:
    services = ExtensionContext(cms).services
    policy = services.items("directus_policies").create_one(
        {"name": "Book editors", "app_access": True, "admin_access": False})
    role = services.items("directus_roles").create_one({"name": "Editor"})
    services.items("directus_access").create_one({"role": role, "policy": policy})
    services.users().create_one({"email": "ed@example.com", "password": "editor-password",
                                 "role": role, "status": "active"})
    return policy


def _rows(cms: Any, policy: Any) -> list[dict[str, Any]]:
    return ExtensionContext(cms).services.items("directus_permissions").read_by_query(
        {"filter": {"policy": {"_eq": policy}}, "limit": -1})


def test_permission_editor_writes_and_refuses(admin_client: Any, app: Any) -> None:
    cms = app.extensions["transom"]
    _books(admin_client)
    policy = _editor(cms)
    assert "Create item" in admin_client.get("/admin/content/books").get_data(as_text=True)
    matrix = admin_client.get(f"/admin/policies/{policy}").get_data(as_text=True)
    path = f"/admin/policies/{policy}/permissions/books/read"
    assert f'href="{path}"' in matrix
    page = admin_client.get(path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'value="title"' in text and 'value="*"' in text and 'id="permissions"' in text
    token = form_token(admin_client, path)

    # a filter on an unknown field, JSON that does not parse, presets of unknown fields:
    # each shown at its field, nothing written
    bad = admin_client.post(path, data={"csrf_token": token, "fields": ["title"],
                                        "permissions": '{"nope": {"_eq": 1}}',
                                        "validation": "{not json",
                                        "presets": '{"colour": "red"}'})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400
    for name in ("permissions", "validation", "presets"):
        assert f'id="{name}-error"' in text, name
    assert "nope" in text and "colour" in text
    assert _rows(cms, policy) == []
    bad = admin_client.post(path, data={"csrf_token": token, "fields": ["title"],
                                        "permissions": '{"status": {"_bogus": 1}}'})
    assert bad.status_code == 400 and 'id="permissions-error"' in bad.get_data(as_text=True)
    bad = admin_client.post(path, data={"csrf_token": token, "fields": ["title", "nope"]})
    assert bad.status_code == 400 and 'id="fields-error"' in bad.get_data(as_text=True)
    bad = admin_client.post(path, data={"csrf_token": token, "permissions": "[1, 2]"})
    assert bad.status_code == 400 and 'id="permissions-error"' in bad.get_data(as_text=True)
    assert _rows(cms, policy) == []
    assert admin_client.get(f"/admin/policies/{policy}/permissions/books/fly").status_code \
        == 403
    assert admin_client.get(
        f"/admin/policies/{policy}/permissions/directus_users/read").status_code == 403

    ok = admin_client.post(path, data={"csrf_token": token, "fields": ["title", "status"],
                                       "permissions": '{"status": {"_eq": "draft"}}'})
    assert ok.status_code == 302, ok.get_data(as_text=True)
    [row] = _rows(cms, policy)
    assert row["action"] == "read" and row["collection"] == "books"
    assert sorted(row["fields"]) == ["status", "title"]
    assert row["permissions"] == {"status": {"_eq": "draft"}}
    assert "limited" in admin_client.get(f"/admin/policies/{policy}").get_data(as_text=True)
    again = admin_client.get(path).get_data(as_text=True)
    assert 'value="title" id="field-title" checked' in again
    assert 'value="secret" id="field-secret" checked' not in again
    assert "&#34;_eq&#34;: &#34;draft&#34;" in again

    # a bad edit of an existing permission leaves it as it was
    bad = admin_client.post(path, data={"csrf_token": token, "fields": ["*"],
                                        "permissions": '{"status": {"_eq": '})
    assert bad.status_code == 400
    [same] = _rows(cms, policy)
    assert same["permissions"] == row["permissions"] and same["fields"] == row["fields"]

    create = f"/admin/policies/{policy}/permissions/books/create"
    ok = admin_client.post(create, data={
        "csrf_token": token, "fields": ["*"], "validation": '{"title": {"_nnull": true}}',
        "presets": '{"status": "draft"}'})
    assert ok.status_code == 302, ok.get_data(as_text=True)
    made = {r["action"]: r for r in _rows(cms, policy)}
    assert made["create"]["presets"] == {"status": "draft"}
    assert made["create"]["validation"] == {"title": {"_nnull": True}}
    assert made["create"]["fields"] == ["*"]


def test_editor_sees_only_the_filtered_rows_and_fields(admin_client: Any, app: Any) -> None:
    cms = app.extensions["transom"]
    _books(admin_client)
    policy = _editor(cms)
    path = f"/admin/policies/{policy}/permissions/books/read"
    token = form_token(admin_client, path)
    assert admin_client.post(path, data={
        "csrf_token": token, "fields": ["title", "status"],
        "permissions": json.dumps({"status": {"_eq": "draft"}})}).status_code == 302
    admin_client.post("/auth/logout", json={"mode": "session"})
    sign_in(admin_client, "ed@example.com", "editor-password")

    listing = admin_client.get("/admin/content/books")
    text = listing.get_data(as_text=True)
    assert listing.status_code == 200, text
    assert "Draft one" in text and "Draft two" in text and "Live one" not in text
    assert "s-Draft" not in text and ">secret<" not in text
    assert "2 items" in text
    assert "Create item" not in text  # no create permission: no button that ends in a 403
    assert 'href="/admin/content/books/1"' not in text  # the key is not readable: no links
    other = admin_client.get("/admin/content/books/2")
    assert other.status_code == 403
    assert "403" in other.get_data(as_text=True)
    assert admin_client.get("/admin/content/books?col=secret").status_code == 200
    assert admin_client.get("/admin/content/books?sort=secret").status_code == 400

    # with the key readable too, the editor opens the draft items, never the published one
    admin_client.post("/auth/logout", json={"mode": "session"})
    sign_in(admin_client)
    token = form_token(admin_client, path)
    assert admin_client.post(path, data={
        "csrf_token": token, "fields": ["id", "title", "status"],
        "permissions": json.dumps({"status": {"_eq": "draft"}})}).status_code == 302
    admin_client.post("/auth/logout", json={"mode": "session"})
    sign_in(admin_client, "ed@example.com", "editor-password")
    text = admin_client.get("/admin/content/books").get_data(as_text=True)
    assert 'href="/admin/content/books/1"' in text and 'href="/admin/content/books/2"' not in text
    item = admin_client.get("/admin/content/books/1")
    text = item.get_data(as_text=True)
    assert item.status_code == 200, text
    assert 'id="title"' in text and 'id="secret"' not in text
    assert admin_client.get("/admin/content/books/2").status_code == 403
