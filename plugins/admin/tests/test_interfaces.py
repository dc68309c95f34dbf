"""Markdown and WYSIWYG fields, the project colour, sortable o2m lists and creating related
items inline, through the Flask test client on real databases."""

from __future__ import annotations

from typing import Any

import pytest

from transom.api import ExtensionContext

from .conftest import form_token

pytestmark = pytest.mark.backends("sqlite", "postgres")


def _ok(client: Any, method: str, path: str, body: Any) -> Any:
    resp = client.open(path, method=method, json=body)
    assert resp.status_code in (200, 204), resp.get_data(as_text=True)
    return resp.get_json(silent=True)


def _pk() -> dict[str, Any]:
    return {"field": "id", "type": "integer",
            "schema": {"is_primary_key": True, "has_auto_increment": True}}


def _model(client: Any) -> None:
    _ok(client, "POST", "/collections", {"collection": "authors", "meta": {}, "schema": {},
                                        "fields": [_pk(), {"field": "name", "type": "string"}]})
    _ok(client, "POST", "/collections", {"collection": "books", "meta": {}, "schema": {},
        "fields": [_pk(), {"field": "title", "type": "string", "schema": {"is_unique": True}},
                   {"field": "summary", "type": "text",
                    "meta": {"interface": "input-rich-text-md"}},
                   {"field": "blurb", "type": "text",
                    "meta": {"interface": "input-rich-text-html"}},
                   {"field": "author", "type": "integer"}]})
    _ok(client, "POST", "/relations", {"collection": "books", "field": "author",
                                      "related_collection": "authors"})
    _ok(client, "POST", "/collections", {"collection": "chapters", "meta": {}, "schema": {},
        "fields": [_pk(), {"field": "title", "type": "string"},
                   {"field": "book", "type": "integer"}, {"field": "sort", "type": "integer"}]})
    _ok(client, "POST", "/fields/books", {"field": "chapters", "type": "alias",
                                         "meta": {"special": ["o2m"]}})
    _ok(client, "POST", "/relations", {"collection": "chapters", "field": "book",
                                      "related_collection": "books",
                                      "meta": {"one_field": "chapters", "sort_field": "sort"}})


def _items(app: Any, collection: str, **query: Any) -> list[dict[str, Any]]:
    return ExtensionContext(app.extensions["transom"]).services.items(
        collection).read_by_query({"limit": -1, **query})


def test_markdown_preview_is_rendered_and_safe(admin_client: Any, app: Any) -> None:
    _model(admin_client)
    page = admin_client.get("/admin/content/books/+").get_data(as_text=True)
    assert 'hx-post="/admin/preview/markdown"' in page and "data-md-preview" in page
    assert 'contenteditable="true"' in page and 'role="toolbar"' in page
    token = form_token(admin_client, "/admin/content/books/+")
    resp = admin_client.post("/admin/preview/markdown", data={
        "csrf_token": token, "preview_field": "summary",
        "summary": "# Hi\n\n*sea* <script>alert(1)</script> [x](javascript:alert(1))\n\n"
                   "| a | b |\n|---|---|\n| 1 | 2 |"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert "<h1>Hi</h1>" in html and "<em>sea</em>" in html and "<table>" in html
    assert "<script" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html  # raw HTML is shown as text
    assert admin_client.post("/admin/preview/markdown", data={
        "preview_field": "summary", "summary": "x"}).status_code == 403  # no CSRF token

    ok = admin_client.post("/admin/content/books/+", data={
        "csrf_token": token, "title": "Earthsea", "summary": "A **wizard**",
        "blurb": '<p onclick="steal()">Hello <b>sea</b><script>alert(1)</script>'
                 '<a href="javascript:alert(1)">x</a><img src=x onerror="alert(1)"></p>'})
    assert ok.status_code == 302, ok.get_data(as_text=True)
    [book] = _items(app, "books")
    assert book["summary"] == "A **wizard**"  # Markdown is stored as typed
    blurb = book["blurb"]
    assert "<b>sea</b>" in blurb and "Hello" in blurb
    for bad in ("onclick", "<script", "javascript:", "onerror"):
        assert bad not in blurb, bad
    edit = admin_client.get(f"/admin/content/books/{book['id']}").get_data(as_text=True)
    assert "A <strong>wizard</strong>" in edit  # the preview, rendered on the server


def test_project_colour_drives_the_layout(admin_client: Any) -> None:
    token = form_token(admin_client, "/admin/settings/project")
    assert admin_client.post("/admin/settings/project", data={
        "csrf_token": token, "project_name": "Museum", "project_color": "#E35169"
    }).status_code == 302
    head = admin_client.get("/admin/content").get_data(as_text=True).split("</head>")[0]
    assert "--accent: #E35169; --on-accent: #000000;" in head
    assert admin_client.post("/admin/settings/project", data={
        "csrf_token": token, "project_name": "Museum", "project_color": "#1A2B3C"
    }).status_code == 302
    head = admin_client.get("/admin/reset-password").get_data(as_text=True).split("</head>")[0]
    assert "--accent: #1A2B3C; --on-accent: #ffffff;" in head
    bad = admin_client.post("/admin/settings/project", data={
        "csrf_token": token, "project_name": "Museum",
        "project_color": "red;}</style><script>x()</script>"})
    assert bad.status_code == 400 and 'id="project_color-error"' in bad.get_data(as_text=True)
    head = admin_client.get("/admin/content").get_data(as_text=True).split("</head>")[0]
    assert "#1A2B3C" in head and "<script>x()" not in head


def test_o2m_order_and_inline_creation(admin_client: Any, app: Any) -> None:
    _model(admin_client)
    token = form_token(admin_client, "/admin/content/books/+")
    assert admin_client.post("/admin/content/books/+", data={
        "csrf_token": token, "title": "Earthsea"}).status_code == 302
    for title in ("One", "Two", "Three"):
        resp = admin_client.post("/admin/content/books/1/related/chapters",
                                 data={"csrf_token": token, "label": title})
        assert resp.status_code == 302, resp.get_data(as_text=True)
    rows = _items(app, "chapters", sort=["sort"])
    assert [(r["title"], r["book"], r["sort"]) for r in rows] == [
        ("One", 1, 1), ("Two", 1, 2), ("Three", 1, 3)]
    page = admin_client.get("/admin/content/books/1").get_data(as_text=True)
    assert 'aria-label="Move Two up"' in page and 'aria-label="Create and link"' not in page
    assert page.index(">One<") < page.index(">Two<") < page.index(">Three<")

    resp = admin_client.post("/admin/content/books/1/order/chapters",
                             data={"csrf_token": token, "row": "3", "move": "up"})
    assert resp.status_code == 302
    assert [r["title"] for r in _items(app, "chapters", sort=["sort"])] == [
        "One", "Three", "Two"]
    admin_client.post("/admin/content/books/1/order/chapters",
                      data={"csrf_token": token, "row": "1", "move": "up"})  # first: no-op
    assert [r["title"] for r in _items(app, "chapters", sort=["sort"])] == [
        "One", "Three", "Two"]
    page = admin_client.get("/admin/content/books/1").get_data(as_text=True)
    assert page.index(">One<") < page.index(">Three<") < page.index(">Two<")
    for data in ({"row": "3", "move": "sideways"}, {"row": "99", "move": "up"}):
        assert admin_client.post("/admin/content/books/1/order/chapters",
                                 data={"csrf_token": token, **data}).status_code == 400
    assert admin_client.post("/admin/content/books/1/order/title",
                             data={"csrf_token": token, "row": "1", "move": "up"}
                             ).status_code == 400
    empty = admin_client.post("/admin/content/books/1/related/chapters",
                              data={"csrf_token": token, "label": "  "})
    assert empty.status_code == 400
    assert 'id="rel-chapters-error"' in empty.get_data(as_text=True)
    assert len(_items(app, "chapters")) == 3

    # m2o: create the author from the book's form, in the same save
    form = admin_client.get("/admin/content/books/1").get_data(as_text=True)
    assert 'id="author__new"' in form
    resp = admin_client.post("/admin/content/books/1", data={
        "csrf_token": token, "title": "Earthsea", "author": "",
        "author__new": "Ursula K. Le Guin"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    [author] = _items(app, "authors")
    assert author["name"] == "Ursula K. Le Guin"
    assert _items(app, "books")[0]["author"] == author["id"]
    # a save that fails (a second book with the same unique title) creates no author
    bad = admin_client.post("/admin/content/books/+", data={
        "csrf_token": token, "title": "Earthsea", "author__new": "Ghost"})
    assert bad.status_code == 400, bad.get_data(as_text=True)
    assert 'value="Ghost"' in bad.get_data(as_text=True)
    assert [a["name"] for a in _items(app, "authors")] == ["Ursula K. Le Guin"]
    assert len(_items(app, "books")) == 1
