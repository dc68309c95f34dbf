"""Activity, revisions and revert, SSO buttons, settings, relations, uploads, translations."""

from __future__ import annotations

from typing import Any

import pytest
from transom_admin import history_views

from transom.api import ExtensionContext

from .conftest import form_token, sign_in
from .test_routes import _model

pytestmark = pytest.mark.backends("sqlite")


def _book(client: Any, token: str, title: str, key: str = "+") -> None:
    resp = client.post(f"/admin/content/books/{key}", data={
        "csrf_token": token, "title": title, "pages": "10"})
    assert resp.status_code == 302, resp.get_data(as_text=True)


def test_activity_log_filters_and_pages(admin_client: Any, app: Any,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _model(admin_client)
    token = form_token(admin_client, "/admin/content/books/+")
    _book(admin_client, token, "Tehanu")
    _book(admin_client, token, "Tehanu II", "1")
    text = admin_client.get("/admin/activity?collection=books").get_data(as_text=True)
    assert "2 entries" in text
    assert text.index("update") < text.index("create")  # newest first
    assert 'href="/admin/content/books/1"' in text and "admin@example.com" in text
    assert "directus_collections" not in text.split("<tbody>")[1]
    me = ExtensionContext(app.extensions["transom"]).services.users().read_by_email(
        "admin@example.com")["id"]
    mine = admin_client.get(f"/admin/activity?user={me}").get_data(as_text=True)
    assert "books" in mine
    nobody = "00000000-0000-4000-8000-000000000000"
    assert "0 entries" in admin_client.get(f"/admin/activity?user={nobody}").get_data(
        as_text=True)
    assert admin_client.get("/admin/activity?collection=nope").status_code == 400
    assert admin_client.get("/admin/activity?user=nope").status_code == 400
    assert admin_client.get("/admin/activity?page=x").status_code == 400
    monkeypatch.setattr(history_views, "PAGE_SIZE", 1)
    first = admin_client.get("/admin/activity?collection=books").get_data(as_text=True)
    assert 'rel="next"' in first and "Page 1 of 2" in first
    second = admin_client.get("/admin/activity?collection=books&page=2").get_data(as_text=True)
    assert "create" in second and "update" not in second.split("<tbody>")[1]


def test_activity_only_what_the_user_may_read(admin_client: Any, app: Any) -> None:
    services = ExtensionContext(app.extensions["transom"]).services
    policy = services.items("directus_policies").create_one(
        {"name": "Editors", "app_access": True, "admin_access": False})
    role = services.items("directus_roles").create_one({"name": "Editor"})
    services.items("directus_access").create_one({"role": role, "policy": policy})
    services.users().create_one({"email": "ed@example.com", "password": "editor-password",
                                 "role": role, "status": "active"})
    _model(admin_client)
    token = form_token(admin_client, "/admin/content/books/+")
    _book(admin_client, token, "Tehanu")
    admin_client.post("/admin/content/authors/+", data={"csrf_token": token, "name": "Ged"})
    admin_client.post("/auth/logout", json={"mode": "session"})
    sign_in(admin_client, "ed@example.com", "editor-password")
    assert admin_client.get("/admin/activity").status_code == 403
    # allowed to read the activity of authors only: the books rows are not shown
    services.items("directus_permissions").create_one({
        "policy": policy, "collection": "directus_activity", "action": "read",
        "fields": ["*"], "permissions": {"collection": {"_eq": "authors"}}})
    text = admin_client.get("/admin/activity").get_data(as_text=True)
    assert "1 entry" in text
    body = text.split("<tbody>")[1]
    assert "<td>authors</td>" in body and "<td>books</td>" not in body


def test_revisions_and_revert(admin_client: Any, app: Any) -> None:
    _model(admin_client)
    token = form_token(admin_client, "/admin/content/books/+")
    _book(admin_client, token, "Tehanu")
    _book(admin_client, token, "The Other Wind", "1")
    assert 'href="/admin/content/books/1/revisions"' in admin_client.get(
        "/admin/content/books/1").get_data(as_text=True)
    text = admin_client.get("/admin/content/books/1/revisions").get_data(as_text=True)
    assert text.index("The Other Wind") < text.index("Tehanu")
    revisions = ExtensionContext(app.extensions["transom"]).services.items(
        "directus_revisions").read_by_query(
        {"fields": ["id"], "sort": ["id"],
         "filter": {"collection": {"_eq": "books"}, "item": {"_eq": "1"}}})
    first = revisions[0]["id"]
    assert f"/revisions/{first}/revert" in text
    # a revision of another item, a missing one and a forged form are refused
    assert admin_client.post(f"/admin/content/books/2/revisions/{first}/revert",
                             data={"csrf_token": token}).status_code in (400, 403)
    assert admin_client.post("/admin/content/books/1/revisions/999999/revert",
                             data={"csrf_token": token}).status_code == 403
    assert admin_client.post(f"/admin/content/books/1/revisions/{first}/revert",
                             data={}).status_code == 403
    resp = admin_client.post(f"/admin/content/books/1/revisions/{first}/revert",
                             data={"csrf_token": token})
    assert resp.status_code == 302
    item = ExtensionContext(app.extensions["transom"]).services.items("books").read_one(1)
    assert item["title"] == "Tehanu"
    assert admin_client.get("/admin/content/books/9/revisions").status_code == 403


def test_sso_buttons_from_the_configured_providers(make_app: Any) -> None:
    plain = make_app().test_client().get("/admin/login").get_data(as_text=True)
    assert "Single sign-on" not in plain and "/auth/login/" not in plain
    app = make_app({
        "PUBLIC_URL": "https://cms.example.com/", "AUTH_PROVIDERS": "github,corp",
        "AUTH_GITHUB_DRIVER": "oauth2", "AUTH_GITHUB_LABEL": "GitHub",
        "AUTH_GITHUB_CLIENT_ID": "x", "AUTH_GITHUB_CLIENT_SECRET": "y",
        "AUTH_GITHUB_AUTHORIZE_URL": "https://idp.example.com/authorize",
        "AUTH_GITHUB_ACCESS_URL": "https://idp.example.com/token",
        "AUTH_GITHUB_PROFILE_URL": "https://idp.example.com/userinfo",
        "AUTH_CORP_DRIVER": "ldap", "AUTH_CORP_CLIENT_URL": "ldap://127.0.0.1:1",
        "AUTH_CORP_USER_DN": "ou=people,dc=example,dc=org"}, bootstrap=False)
    text = app.test_client().get("/admin/login").get_data(as_text=True)
    assert ('href="/auth/login/github?redirect=https%3A%2F%2Fcms.example.com%2Fadmin"'
            in text)
    assert "Sign in with GitHub" in text
    assert 'data-api="/auth/login/corp"' in text and 'name="identifier"' in text


def test_project_colour_and_languages(admin_client: Any, app: Any) -> None:
    cms = app.extensions["transom"]
    path = "/admin/settings/project"
    token = form_token(admin_client, path)
    assert "Content languages" not in admin_client.get(path).get_data(as_text=True)
    bad = admin_client.post(path, data={"csrf_token": token, "project_name": "Zoo",
                                         "project_color": "red"})
    assert bad.status_code == 400 and 'id="project_color-error"' in bad.get_data(as_text=True)
    assert ExtensionContext(cms).settings()["project_name"] != "Zoo"  # nothing half-written
    ok = admin_client.post(path, data={"csrf_token": token, "project_name": "Zoo",
                                        "project_color": "#112233"})
    assert ok.status_code == 302
    assert ExtensionContext(cms).settings()["project_color"] == "#112233"
    assert 'value="#112233"' in admin_client.get(path).get_data(as_text=True)
    # the languages collection (as plugins/i18n makes it): listed, and a language added
    assert admin_client.post("/admin/settings/languages",
                             data={"csrf_token": token, "code": "fr"}).status_code == 403
    ExtensionContext(cms).services.collections().create_one({
        "collection": "languages", "schema": {}, "fields": [
            {"field": "code", "type": "string", "schema": {"is_primary_key": True,
                                                           "max_length": 16}},
            {"field": "name", "type": "string"},
            {"field": "direction", "type": "string", "schema": {"default_value": "ltr"}}]})
    add = admin_client.post("/admin/settings/languages", data={
        "csrf_token": token, "code": "ar-SA", "name": "Arabic", "direction": "rtl"})
    assert add.status_code == 302, add.get_data(as_text=True)
    text = admin_client.get(path).get_data(as_text=True)
    assert "Content languages" in text and "<td>ar-SA</td><td>Arabic</td><td>rtl</td>" in text
    empty = admin_client.post("/admin/settings/languages", data={"csrf_token": token})
    assert empty.status_code == 400 and 'id="code-error"' in empty.get_data(as_text=True)
    dup = admin_client.post("/admin/settings/languages", data={"csrf_token": token,
                                                              "code": "ar-SA"})
    assert dup.status_code == 400
    rows = ExtensionContext(cms).services.items("languages").read_by_query({"limit": -1})
    assert [r["code"] for r in rows] == ["ar-SA"]


def _relational(app: Any) -> None:
    """authors.books (o2m of books.author) and books.labels (m2m to labels)."""
    cms = app.extensions["transom"]
    with cms.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE labels (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                             "name VARCHAR(50))")
        conn.exec_driver_sql("CREATE TABLE books_labels (id INTEGER PRIMARY KEY "
                             "AUTOINCREMENT, books_id INTEGER REFERENCES books(id), "
                             "labels_id INTEGER REFERENCES labels(id))")
        conn.exec_driver_sql("INSERT INTO labels (name) VALUES ('classic'), ('new')")
        conn.exec_driver_sql("INSERT INTO directus_fields (collection, field, special) VALUES "
                             "('books', 'labels', 'm2m'), ('authors', 'books', 'o2m')")
        conn.exec_driver_sql("UPDATE directus_relations SET one_field = 'books' "
                             "WHERE many_collection = 'books' AND many_field = 'author'")
        conn.exec_driver_sql(
            "INSERT INTO directus_relations (many_collection, many_field, one_collection, "
            "one_field, junction_field) VALUES "
            "('books_labels', 'books_id', 'books', 'labels', 'labels_id'), "
            "('books_labels', 'labels_id', 'labels', NULL, 'books_id')")
    cms.refresh_schema()


def test_o2m_and_m2m_on_the_item_page(admin_client: Any, app: Any) -> None:
    _model(admin_client)
    _relational(app)
    token = form_token(admin_client, "/admin/content/authors/+")
    admin_client.post("/admin/content/authors/+", data={"csrf_token": token, "name": "Ursula"})
    admin_client.post("/admin/content/books/+", data={"csrf_token": token, "title": "Tehanu",
                                                      "author": "1"})
    author = admin_client.get("/admin/content/authors/1").get_data(as_text=True)
    assert 'id="rel-books"' in author and '<a href="/admin/content/books/1">Tehanu</a>' in author
    book = admin_client.get("/admin/content/books/1").get_data(as_text=True)
    assert "No related items." in book and '<option value="1">classic</option>' in book
    path = "/admin/content/books/1/links/labels"
    assert admin_client.post(path, data={"csrf_token": token, "add": "1"}).status_code == 302
    book = admin_client.get("/admin/content/books/1").get_data(as_text=True)
    assert '<a href="/admin/content/labels/1">classic</a>' in book
    assert '<option value="1">classic</option>' not in book  # already linked
    junction = ExtensionContext(app.extensions["transom"]).services.items("books_labels")
    assert [(r["books_id"], r["labels_id"]) for r in junction.read_by_query({})] == [(1, 1)]
    # bad input: unknown far item, a field that is not m2m, nothing to do, a forged form
    assert admin_client.post(path, data={"csrf_token": token, "add": "99"}).status_code == 403
    assert admin_client.post("/admin/content/books/1/links/title",
                             data={"csrf_token": token, "add": "1"}).status_code == 400
    assert admin_client.post(path, data={"csrf_token": token}).status_code == 400
    assert admin_client.post(path, data={"add": "2"}).status_code == 403
    admin_client.post("/admin/content/books/+", data={"csrf_token": token, "title": "Other"})
    assert admin_client.post("/admin/content/books/2/links/labels",
                             data={"csrf_token": token, "remove": "1"}).status_code == 403
    assert len(junction.read_by_query({})) == 1
    assert admin_client.post(path, data={"csrf_token": token, "remove": "1"}).status_code == 302
    assert junction.read_by_query({}) == []


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_image_field_upload_interface(admin_client: Any, app: Any) -> None:
    import io

    services = ExtensionContext(app.extensions["transom"]).services
    services.collections().create_one({"collection": "people", "schema": {}, "fields": [
        {"field": "id", "type": "integer", "schema": {"is_primary_key": True,
                                                      "has_auto_increment": True}},
        {"field": "name", "type": "string"},
        {"field": "photo", "type": "uuid", "meta": {"interface": "file-image",
                                                     "special": ["file"]}}]})
    services.relations().create_one({"collection": "people", "field": "photo",
                                     "related_collection": "directus_files"})
    form = admin_client.get("/admin/content/people/+").get_data(as_text=True)
    assert 'data-upload="/files"' in form and 'accept="image/*"' in form
    assert '<label for="photo-upload">' in form
    # what admin.js does on change: POST /files as the signed-in user
    up = admin_client.post("/files", data={"file": (io.BytesIO(_png()), "red.png")},
                           content_type="multipart/form-data")
    assert up.status_code == 200, up.get_data(as_text=True)
    file_id = up.get_json()["data"]["id"]
    token = form_token(admin_client, "/admin/content/people/+")
    ok = admin_client.post("/admin/content/people/+", data={
        "csrf_token": token, "name": "Ged", "photo": file_id})
    assert ok.status_code == 302, ok.get_data(as_text=True)
    page = admin_client.get("/admin/content/people/1").get_data(as_text=True)
    assert f'<img src="/assets/{file_id}?width=160"' in page
    thumb = admin_client.get(f"/assets/{file_id}?width=160")
    assert thumb.status_code == 200 and thumb.mimetype == "image/png"
    assert admin_client.post("/admin/content/people/+", data={
        "csrf_token": token, "name": "Bad", "photo": "not-a-file"}).status_code in (400, 403)


def test_a_language_tab_per_translation(admin_client: Any, app: Any,
                                        admin_headers: dict[str, str]) -> None:
    h = admin_headers
    assert admin_client.post("/collections", headers=h, json={
        "collection": "posts", "schema": {}, "fields": [
            {"field": "id", "type": "integer", "schema": {"is_primary_key": True,
                                                          "has_auto_increment": True}},
            {"field": "title", "type": "string"}]}).status_code == 200
    assert admin_client.post("/items/posts", headers=h, json={"title": "Hello"}).status_code \
        == 200
    assert admin_client.get("/admin/content/posts/1").get_data(as_text=True).count(
        "Translations") == 0
    assert admin_client.patch("/collections/posts", headers=h, json={"schema": {"fields": [
        {"field": "title", "type": "string", "translatable": True}]}}).status_code == 200
    services = ExtensionContext(app.extensions["transom"]).services
    services.items("languages").create_one({"code": "es", "name": "Spanish"})
    page = admin_client.get("/admin/content/posts/1?lang=es").get_data(as_text=True)
    assert 'aria-label="Languages"' in page and 'lang="es"' in page
    assert '<a href="/admin/content/posts/1?lang=es#translations" aria-current="page">' \
        "Spanish</a>" in page
    token = form_token(admin_client, "/admin/content/posts/1")
    resp = admin_client.post("/admin/content/posts/1/translations/es",
                             data={"csrf_token": token, "title": "Hola"})
    assert resp.status_code == 302
    assert 'id="tr-title" name="title" value="Hola"' in admin_client.get(
        "/admin/content/posts/1?lang=es").get_data(as_text=True)
    admin_client.post("/admin/content/posts/1/translations/es",
                      data={"csrf_token": token, "title": "¡Hola!"})
    rows = services.items("posts_translations").read_by_query(
        {"filter": {"languages_code": {"_eq": "es"}}})
    assert [r["title"] for r in rows] == ["¡Hola!"]
    assert services.items("posts").read_one(1)["title"] == "Hello"  # the default untouched
    assert admin_client.post("/admin/content/posts/1/translations/xx",
                             data={"csrf_token": token, "title": "?"}).status_code == 403
    assert admin_client.post("/admin/content/posts/9/translations/es",
                             data={"csrf_token": token, "title": "?"}).status_code == 403
