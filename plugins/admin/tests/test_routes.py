"""Every admin route through the Flask test client: redirects, 403s, CSRF, the writes."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from transom.api import ExtensionContext

from .conftest import csrf_of, form_token, sign_in

pytestmark = pytest.mark.backends("sqlite")


def test_root_and_admin_redirect_to_login(client: Any) -> None:
    assert client.get("/").headers["Location"] == "/admin"
    assert client.get("/admin").headers["Location"] == "/admin/login"
    page = client.get("/admin/login")
    assert page.status_code == 200
    assert 'data-api="/auth/login"' in page.get_data(as_text=True)


def test_anonymous_pages_redirect_to_login(client: Any) -> None:
    for path in ("/admin/content", "/admin/content/directus_users", "/admin/users",
                 "/admin/settings/data-model", "/admin/settings/project"):
        resp = client.get(path)
        assert resp.status_code == 302, path
        assert resp.headers["Location"].startswith("/admin/login?next=")


def test_setup_only_without_an_admin(app: Any, client: Any) -> None:
    assert client.get("/admin/setup").headers["Location"] == "/admin/login"
    cms = app.extensions["transom"]
    with cms.engine.begin() as conn:  # a fresh install: no active administrator
        conn.execute(sa.text("UPDATE directus_users SET status = 'suspended'"))
    assert client.get("/admin").headers["Location"] == "/admin/setup"
    token = form_token(client, "/admin/setup")
    bad = client.post("/admin/setup", data={"csrf_token": token, "email": "",
                                            "password": "short", "project_name": "X"})
    assert bad.status_code == 400
    assert "at least 8 characters" in bad.get_data(as_text=True)
    ok = client.post("/admin/setup", data={"csrf_token": token, "email": "first@example.com",
                                           "password": "first-password", "project_name": "Zoo"})
    assert ok.status_code == 302 and ok.headers["Location"].startswith("/admin/login")
    settings = ExtensionContext(cms).settings()
    assert settings["project_name"] == "Zoo"
    sign_in(client, "first@example.com", "first-password")
    assert client.get("/admin/settings/data-model").status_code == 200
    assert client.get("/admin/setup").headers["Location"] == "/admin/login"


def test_csrf_refused(admin_client: Any) -> None:
    resp = admin_client.post("/admin/settings/project", data={"project_name": "Nope"})
    assert resp.status_code == 403
    resp = admin_client.post("/admin/settings/project",
                             data={"project_name": "Nope", "csrf_token": "forged"})
    assert resp.status_code == 403
    token = form_token(admin_client, "/admin/settings/project")
    resp = admin_client.post("/admin/settings/project",
                             data={"project_name": "Yes", "csrf_token": token})
    assert resp.status_code == 302
    assert 'value="Yes"' in admin_client.get("/admin/settings/project").get_data(as_text=True)


def _model(client: Any) -> None:
    token = form_token(client, "/admin/settings/data-model/+")
    resp = client.post("/admin/settings/data-model/+", data={
        "csrf_token": token, "collection": "authors", "f0_name": "name", "f0_type": "string",
        "f0_required": "on"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    resp = client.post("/admin/settings/data-model/+", data={
        "csrf_token": token, "collection": "books", "f0_name": "title", "f0_type": "string",
        "f0_required": "on", "f0_unique": "on", "f0_note": "The title on the cover",
        "f1_name": "pages", "f1_type": "integer", "f1_default": "100",
        "f2_name": "author", "f2_type": "m2o", "f2_related": "authors",
        "f3_name": "tags", "f3_type": "csv", "f4_name": "in_print", "f4_type": "boolean"})
    assert resp.status_code == 302, resp.get_data(as_text=True)


def test_data_model_and_items(admin_client: Any, app: Any) -> None:
    _model(admin_client)
    schema = app.extensions["transom"].schema
    assert schema.relation("books", "author").related == "authors"
    detail = admin_client.get("/admin/settings/data-model/books").get_data(as_text=True)
    assert "The title on the cover" in detail and "authors" in detail
    token = form_token(admin_client, "/admin/content/authors/+")
    assert admin_client.post("/admin/content/authors/+", data={
        "csrf_token": token, "name": "Ursula"}).status_code == 302
    form = admin_client.get("/admin/content/books/+").get_data(as_text=True)
    assert '<select id="author"' in form and "Ursula" in form
    assert 'type="number"' in form and 'type="checkbox" id="in_print"' in form
    # a field error from the API is shown at the field
    bad = admin_client.post("/admin/content/books/+", data={
        "csrf_token": token, "title": "", "pages": "many"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400 and 'id="pages-error"' in text
    ok = admin_client.post("/admin/content/books/+", data={
        "csrf_token": token, "title": "Earthsea", "pages": "250", "author": "1",
        "tags": "fantasy, sea", "in_print": "on"})
    assert ok.status_code == 302, ok.get_data(as_text=True)
    item = ExtensionContext(app.extensions["transom"]).services.items("books").read_one(1)
    assert item["author"] == 1 and item["tags"] == ["fantasy", "sea"] and item["in_print"]
    dup = admin_client.post("/admin/content/books/+", data={"csrf_token": token,
                                                           "title": "Earthsea"})
    assert dup.status_code == 400 and 'id="title-error"' in dup.get_data(as_text=True)
    listing = admin_client.get("/admin/content/books?q=earth&sort=-title").get_data(
        as_text=True)
    assert "Earthsea" in listing and 'aria-sort="descending"' in listing
    assert "Earthsea" not in admin_client.get("/admin/content/books?ff=title&fv=zzz").get_data(
        as_text=True)
    assert admin_client.get("/admin/content/books?ff=nope&fv=1").status_code == 400
    assert admin_client.get("/admin/content/books?sort=nope").status_code == 400
    assert admin_client.get("/admin/content/books?page=x").status_code == 400
    edit = admin_client.post("/admin/content/books/1", data={
        "csrf_token": token, "title": "A Wizard of Earthsea", "pages": "250", "author": "1",
        "tags": "fantasy"})
    assert edit.status_code == 302
    assert admin_client.post("/admin/content/books/1/delete",
                             data={"csrf_token": token}).status_code == 302
    assert "Wizard" not in admin_client.get("/admin/content/books").get_data(as_text=True)


def test_bad_model_input_is_a_400_and_writes_nothing(admin_client: Any, app: Any) -> None:
    token = form_token(admin_client, "/admin/settings/data-model/+")
    resp = admin_client.post("/admin/settings/data-model/+", data={
        "csrf_token": token, "collection": "things", "f0_name": "owner", "f0_type": "m2o",
        "f0_related": "missing", "f1_name": "Bad Name"})
    assert resp.status_code == 400
    text = resp.get_data(as_text=True)
    assert 'id="f0_related-error"' in text and 'id="f1_name-error"' in text
    assert app.extensions["transom"].schema.get("things") is None


def test_non_admin_is_forbidden_schema_pages(admin_client: Any, app: Any) -> None:
    _model(admin_client)
    cms = app.extensions["transom"]
    services = ExtensionContext(cms).services
    policy = services.items("directus_policies").create_one(
        {"name": "Editors", "app_access": True, "admin_access": False})
    role = services.items("directus_roles").create_one({"name": "Editor"})
    services.items("directus_access").create_one({"role": role, "policy": policy})
    services.users().create_one({"email": "ed@example.com", "password": "editor-password",
                                 "role": role, "status": "active"})
    admin_client.post("/auth/logout", json={"mode": "session"})
    sign_in(admin_client, "ed@example.com", "editor-password")
    assert admin_client.get("/admin/settings/data-model").status_code == 403
    assert admin_client.get("/admin/settings/data-model/+").status_code == 403
    assert admin_client.get("/admin/content/directus_users").status_code == 403
    assert admin_client.get("/admin/content/books").status_code == 403
    home = admin_client.get("/admin/content")
    assert home.status_code == 200 and "books" not in home.get_data(as_text=True)


def test_reset_pages_render(client: Any) -> None:
    ask = client.get("/admin/reset-password").get_data(as_text=True)
    assert 'data-api="/auth/password/request"' in ask
    reset = client.get("/admin/reset-password?token=abc").get_data(as_text=True)
    assert 'data-api="/auth/password/reset"' in reset and 'value="abc"' in reset


def test_static_assets_are_served(client: Any) -> None:
    total = 0
    for name in ("admin.css", "admin.js", "htmx.min.js"):
        resp = client.get(f"/admin/static/{name}")
        assert resp.status_code == 200
        total += len(resp.get_data())
    page = client.get("/admin/login").get_data()
    assert total + len(page) < 200_000
    assert csrf_of  # the helper is shared with the live tests


def test_hide_a_collection(admin_client: Any) -> None:
    _model(admin_client)
    assert 'href="/admin/content/books"' in admin_client.get("/admin/content").get_data(
        as_text=True)
    token = form_token(admin_client, "/admin/settings/data-model/books")
    resp = admin_client.post("/admin/settings/data-model/books",
                             data={"csrf_token": token, "hidden": "on"})
    assert resp.status_code == 302
    home = admin_client.get("/admin/content").get_data(as_text=True)
    assert 'href="/admin/content/books"' not in home
    assert "yes" in admin_client.get("/admin/settings/data-model").get_data(as_text=True)


def test_users_and_roles(admin_client: Any, app: Any) -> None:
    assert "admin@example.com" in admin_client.get("/admin/users").get_data(as_text=True)
    roles = admin_client.get("/admin/roles").get_data(as_text=True)
    assert "Administrator" in roles
    token = form_token(admin_client, "/admin/users/+")
    bad = admin_client.post("/admin/users/+", data={"csrf_token": token, "email": "nope"})
    assert bad.status_code == 400
    assert 'id="email-error"' in bad.get_data(as_text=True)
    ok = admin_client.post("/admin/users/+", data={"csrf_token": token,
                                                   "email": "new@example.com",
                                                   "password": "new-password-1",
                                                   "first_name": "Nova"})
    assert ok.status_code == 302
    assert "new@example.com" in admin_client.get("/admin/users").get_data(as_text=True)
    found = ExtensionContext(app.extensions["transom"]).services.users().read_by_email(
        "new@example.com")
    assert found["first_name"] == "Nova"


def test_policy_matrix(admin_client: Any, app: Any) -> None:
    _model(admin_client)
    services = ExtensionContext(app.extensions["transom"]).services
    policy = services.items("directus_policies").create_one(
        {"name": "Readers", "app_access": True, "admin_access": False})
    assert "Readers" in admin_client.get("/admin/policies").get_data(as_text=True)
    path = f"/admin/policies/{policy}"
    token = form_token(admin_client, path)
    resp = admin_client.post(path, data={"csrf_token": token, "books:read": "on",
                                         "authors:read": "on", "nope:read": "on"})
    assert resp.status_code == 302

    def granted() -> set[tuple[str, str]]:
        rows = services.items("directus_permissions").read_by_query(
            {"fields": ["collection", "action"], "filter": {"policy": {"_eq": policy}}})
        return {(r["collection"], r["action"]) for r in rows}

    assert granted() == {("books", "read"), ("authors", "read")}
    assert 'name="books:read" id="books-read" aria-label="read books" checked' in \
        admin_client.get(path).get_data(as_text=True)
    admin_client.post(path, data={"csrf_token": token, "books:read": "on",
                                  "books:update": "on"})
    assert granted() == {("books", "read"), ("books", "update")}
