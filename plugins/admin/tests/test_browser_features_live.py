"""More of the admin app in Debian's Chromium against the live server (2 workers).

The permission editor (item filter + field list) and what it does to an editor, Markdown
and WYSIWYG fields, the project colour, a sortable o2m list and inline creation, every
control's accessible name on the main pages, keyboard-only sign-in and save, and the bytes
the first pages transfer. With ``TRANSOM_SCREENSHOTS=1`` the pages go to docs/admin/*.png.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright import sync_api

from transom.testing.live_support import LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD

from .test_browser_live import browser, shot  # noqa: F401 - the module's browser fixture

EDITOR = ("bookeditor@example.com", "editor-password-2")
FIRST_PAGE_LIMIT = 200_000
#: what must carry an accessible name (hidden ones are skipped: not in the a11y tree)
CONTROLS = ("input:not([type=hidden]), select, textarea, button, [contenteditable=true], "
            "[role=textbox], a[href]")


def _pk() -> dict[str, Any]:
    return {"field": "id", "type": "integer",
            "schema": {"is_primary_key": True, "has_auto_increment": True}}


def _model(server: Any) -> dict[str, Any]:
    """authors, books (Markdown summary, HTML blurb, m2o author, sorted o2m chapters)."""
    server.ok("POST", "/collections", {"collection": "authors", "meta": {}, "schema": {},
                                      "fields": [_pk(), {"field": "name", "type": "string"}]})
    server.ok("POST", "/collections", {"collection": "books", "meta": {}, "schema": {},
        "fields": [_pk(), {"field": "title", "type": "string"},
                   {"field": "status", "type": "string"},
                   {"field": "summary", "type": "text",
                    "meta": {"interface": "input-rich-text-md",
                             "note": "Markdown, previewed as you type"}},
                   {"field": "blurb", "type": "text",
                    "meta": {"interface": "input-rich-text-html"}},
                   {"field": "secret", "type": "string"},
                   {"field": "author", "type": "integer"}]})
    server.ok("POST", "/relations", {"collection": "books", "field": "author",
                                    "related_collection": "authors"})
    server.ok("POST", "/collections", {"collection": "chapters", "meta": {}, "schema": {},
        "fields": [_pk(), {"field": "title", "type": "string"},
                   {"field": "book", "type": "integer"}, {"field": "sort", "type": "integer"}]})
    server.ok("POST", "/fields/books", {"field": "chapters", "type": "alias",
                                       "meta": {"special": ["o2m"]}})
    server.ok("POST", "/relations", {"collection": "chapters", "field": "book",
                                    "related_collection": "books",
                                    "meta": {"one_field": "chapters", "sort_field": "sort"}})
    ids = {}
    for title, status in (("Earthsea", "draft"), ("The Lathe of Heaven", "published"),
                          ("Tehanu", "draft")):
        ids[title] = server.ok("POST", "/items/books", {"title": title, "status": status,
                                                       "secret": "royalties"})["id"]
    for n, title in enumerate(("The Shadow", "The Ring", "The Open Sea"), start=1):
        server.ok("POST", "/items/chapters", {"title": title, "book": ids["Earthsea"],
                                             "sort": n})
    return ids


def _editor(server: Any) -> Any:
    policy = server.ok("POST", "/policies", {"name": "Book editors", "app_access": True,
                                             "admin_access": False})
    role = server.ok("POST", "/roles", {"name": "Book editor"})
    server.ok("POST", "/access", {"role": role["id"], "policy": policy["id"]})
    server.ok("POST", "/users", {"email": EDITOR[0], "password": EDITOR[1],
                                 "role": role["id"], "status": "active"})
    return policy["id"]


def tab_to(page: Any, selector: str, limit: int = 60) -> None:
    """Press Tab until the focus is on ``selector``: the control is reachable by keyboard."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)",
                         selector):
            return
    raise AssertionError(f"{selector} is not reachable with Tab")


def keyboard_sign_in(page: Any, base: str, email: str, password: str) -> None:
    """Sign in with the keyboard only: Tab to the fields, type, Enter."""
    page.goto(base + "/admin/login")
    tab_to(page, "#email")
    page.keyboard.type(email)
    tab_to(page, "#password")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/admin/content$"))


def assert_named(page: Any) -> int:
    """Every visible control of the page has a non-empty accessible name; how many."""
    controls = page.locator(CONTROLS)
    checked = 0
    for i in range(controls.count()):
        control = controls.nth(i)
        if not control.is_visible():
            continue
        sync_api.expect(control).to_have_accessible_name(re.compile(r"\S"), timeout=2000)
        checked += 1
    return checked


def transferred(page: Any, url: str) -> tuple[int, list[str]]:
    """Bytes (headers + bodies) of every response a fresh load of ``url`` needs."""
    sizes: list[int] = []
    urls: list[str] = []

    def done(request: Any) -> None:
        s = request.sizes()
        sizes.append(s["responseBodySize"] + s["responseHeadersSize"])
        urls.append(request.url)

    page.on("requestfinished", done)
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    page.remove_listener("requestfinished", done)
    return sum(sizes), urls


@pytest.mark.backends("sqlite", "postgres")
def test_admin_app_features(backend: str, live_server: Any, browser: Any) -> None:  # noqa: F811
    server = live_server(backend, workers=2)
    base = server.base_url
    ids = _model(server)
    policy = _editor(server)

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())

    # the first page: everything it loads stays under 200 KB
    size, urls = transferred(page, base + "/")
    assert page.url.endswith("/admin/login")
    assert any(u.endswith("/admin/static/htmx.min.js") for u in urls), urls
    assert 0 < size < FIRST_PAGE_LIMIT, (size, urls)
    assert assert_named(page) >= 3
    keyboard_sign_in(page, base, LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD)
    size, urls = transferred(page, base + "/admin/content/books")
    assert 0 < size < FIRST_PAGE_LIMIT, (size, urls)

    # the project colour drives the layout's accent
    page.goto(base + "/admin/settings/project")
    page.get_by_label("Project colour").fill("#e35169")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/admin/settings/project\?saved=1$"))
    accent = page.evaluate("getComputedStyle(document.documentElement)"
                           ".getPropertyValue('--accent').trim()")
    assert accent.lower() == "#e35169"
    background = page.get_by_role("button", name="Save").evaluate(
        "b => getComputedStyle(b).backgroundColor")
    assert background == "rgb(227, 81, 105)"
    shot(page, "settings")

    # Markdown with a live preview, WYSIWYG with its toolbar, saved and sanitised
    book = ids["Earthsea"]
    page.goto(base + f"/admin/content/books/{book}")
    page.get_by_role("textbox", name="Summary", exact=True).fill(
        "## A wizard\n\nBorn on **Gont**.\n\n<script>x()</script>")
    preview = page.locator("#summary-preview")
    sync_api.expect(preview.get_by_role("heading", name="A wizard")).to_be_visible()
    sync_api.expect(preview.locator("strong")).to_have_text("Gont")
    sync_api.expect(preview).to_contain_text("<script>x()</script>")  # shown as text
    assert preview.locator("script").count() == 0
    editor = page.get_by_role("textbox", name="Blurb")
    editor.click()
    page.keyboard.type("A boy named ")
    page.get_by_role("button", name="Bold").click()
    page.keyboard.type("Sparrowhawk")
    page.get_by_role("button", name="Bold").click()
    page.keyboard.type(".")
    # m2o: create the author from this form, in the same save
    page.get_by_label("Or create a new authors item: name").fill("Ursula K. Le Guin")
    shot(page, "item-form-rich")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(re.compile(rf".*/admin/content/books\?saved={book}$"))
    saved = server.ok("GET", f"/items/books/{book}?fields=summary,blurb,author.name")
    assert saved["summary"].startswith("## A wizard")
    assert re.search(r"<(b|strong)>Sparrowhawk</(b|strong)>", saved["blurb"]), saved["blurb"]
    assert "script" not in saved["blurb"]
    assert saved["author"] == {"name": "Ursula K. Le Guin"}
    # raw HTML sent past the editor is cleaned on save too
    page.goto(base + f"/admin/content/books/{book}")
    page.evaluate("""() => { const t = document.getElementById('blurb');
        t.hidden = false; document.querySelector('.rte-area').remove(); }""")
    page.get_by_role("textbox", name="Blurb").fill(
        '<p onclick="steal()">Hi<img src=x onerror="steal()"></p>')
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(re.compile(rf".*/admin/content/books\?saved={book}$"))
    blurb = server.ok("GET", f"/items/books/{book}?fields=blurb")["blurb"]
    assert "Hi" in blurb and "onclick" not in blurb and "onerror" not in blurb

    # the sortable o2m: move with the keyboard, create a related item inline
    page.goto(base + f"/admin/content/books/{book}")
    chapters = page.locator("#rel-chapters li")
    sync_api.expect(chapters).to_have_text([re.compile("The Shadow"), re.compile("The Ring"),
                                            re.compile("The Open Sea")])
    page.get_by_role("button", name="Move The Open Sea up").focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    sync_api.expect(page.locator("#rel-chapters li")).to_have_text([
        re.compile("The Shadow"), re.compile("The Open Sea"), re.compile("The Ring")])
    # the focus comes back to the moved item's buttons: Enter again moves it again
    sync_api.expect(page.get_by_role("button", name="Move The Open Sea up")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    sync_api.expect(page.locator("#rel-chapters li")).to_have_text([
        re.compile("The Open Sea"), re.compile("The Shadow"), re.compile("The Ring")])
    sync_api.expect(page.get_by_role("button", name="Move The Open Sea down")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    page.get_by_label(re.compile("New chapters item in chapters")).fill("The Farthest Shore")
    page.get_by_role("button", name="Create and link").click()
    sync_api.expect(page.locator("#rel-chapters li")).to_have_count(4)
    rows = server.ok("GET", f"/items/chapters?filter[book][_eq]={book}&sort=sort&fields=title")
    assert [r["title"] for r in rows] == ["The Shadow", "The Open Sea", "The Ring",
                                          "The Farthest Shore"]
    shot(page, "item-form-related")

    # keyboard-only save of an item
    page.goto(base + f"/admin/content/books/{ids['Tehanu']}")
    tab_to(page, "#title")
    page.keyboard.press("End")
    page.keyboard.type(" (1990)")
    tab_to(page, "form.item-form > button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf".*/admin/content/books\?saved={ids['Tehanu']}$"))
    assert server.ok("GET", f"/items/books/{ids['Tehanu']}")["title"] == "Tehanu (1990)"

    # the permission editor: a bad filter is shown at the field and writes nothing
    page.goto(base + f"/admin/policies/{policy}")
    page.get_by_role("link", name="Edit read permission on books").click()
    page.get_by_label("All fields (*)").uncheck()
    page.get_by_label("title", exact=True).check()
    page.get_by_label("status", exact=True).check()
    page.get_by_label("Item filter").fill('{"colour": {"_eq": "red"}}')
    page.get_by_role("button", name="Save permission").click()
    error = page.locator("#permissions-error")
    sync_api.expect(error).to_contain_text("colour")
    sync_api.expect(page.get_by_label("Item filter")).to_have_attribute("aria-invalid", "true")
    assert server.ok("GET", f"/permissions?filter[policy][_eq]={policy}") == []
    shot(page, "permission-editor")
    page.get_by_label("Item filter").fill('{"status": {"_eq": "draft"}}')
    page.get_by_role("button", name="Save permission").click()
    page.wait_for_url(re.compile(rf".*/admin/policies/{policy}\?saved=1$"))
    sync_api.expect(page.locator("main")).to_contain_text("limited")
    shot(page, "policy-matrix")
    [perm] = server.ok("GET", f"/permissions?filter[policy][_eq]={policy}")
    assert sorted(perm["fields"]) == ["status", "title"]
    assert perm["permissions"] == {"status": {"_eq": "draft"}}

    # every control of the main pages has an accessible name
    named = 0
    for path in ("/admin/content", "/admin/content/books", "/admin/content/books/+",
                 f"/admin/content/books/{book}", f"/admin/content/books/{book}/revisions",
                 "/admin/settings/data-model", "/admin/settings/data-model/+",
                 "/admin/settings/data-model/books", "/admin/users", "/admin/users/+",
                 "/admin/roles", "/admin/policies", f"/admin/policies/{policy}",
                 f"/admin/policies/{policy}/permissions/books/read",
                 "/admin/settings/project", "/admin/activity"):
        answer = page.goto(base + path)
        assert answer is not None and answer.status == 200, path
        named += assert_named(page)
    assert named > 100

    # the editor sees the draft rows, the two fields, and cannot open the published book
    editor_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    epage = editor_ctx.new_page()
    keyboard_sign_in(epage, base, *EDITOR)
    epage.goto(base + "/admin/content/books")
    headers = epage.locator("#items thead th")
    sync_api.expect(headers).to_have_text([re.compile("title"), re.compile("status")])
    body = epage.locator("#items tbody")
    sync_api.expect(body).to_contain_text("Earthsea")
    sync_api.expect(body).to_contain_text("Tehanu (1990)")
    sync_api.expect(body).not_to_contain_text("Lathe")
    sync_api.expect(body).not_to_contain_text("royalties")
    sync_api.expect(epage.get_by_role("status")).to_have_text("2 items")
    shot(epage, "editor-restricted")
    answer = epage.goto(base + f"/admin/content/books/{ids['The Lathe of Heaven']}")
    assert answer is not None and answer.status == 403
    sync_api.expect(epage.get_by_role("heading", level=1)).to_contain_text("403")
    sync_api.expect(epage.get_by_role("alert")).not_to_be_empty()
    assert server.traceback() is None
    editor_ctx.close()
    context.close()
