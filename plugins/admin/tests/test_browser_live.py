"""The admin app in Debian's Chromium against the live server (2 workers).

One walk through the main story, on SQLite and PostgreSQL: setup -> login -> data model with
an m2o -> items (create, edit, search, delete) -> a restricted editor -> the password reset
link from the mail log.
With ``TRANSOM_SCREENSHOTS=1`` the pages are saved to docs/admin/*.png.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api  # a dev dependency of the workspace: never skipped

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[3] / "docs" / "admin"
ADMIN = ("owner@example.com", "owner-password-1")
EDITOR = ("editor@example.com", "editor-password-1")
RESET_LINK = re.compile(r"https?://[^\s\"']+/admin/reset-password\?token=[\w.\-]+")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def shot(page: Any, name: str) -> None:
    """Save a screenshot for the docs, only when asked (CI keeps the tree clean); the
    SQLite run takes them."""
    if os.environ.get("TRANSOM_SCREENSHOTS") == "1" and "[sqlite]" in os.environ.get(
            "PYTEST_CURRENT_TEST", ""):
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, base: str, email: str, password: str) -> None:
    page.goto(base + "/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/admin/content$"))


def make_editor(server: Any, token: str) -> None:
    """A role whose only policy reads ``authors`` (with app access), and its user."""
    policy = server.ok("POST", "/policies", {"name": "Authors readers", "app_access": True,
                                             "admin_access": False}, token=token)
    role = server.ok("POST", "/roles", {"name": "Editor"}, token=token)
    server.ok("POST", "/access", {"role": role["id"], "policy": policy["id"]}, token=token)
    server.ok("POST", "/permissions", {"policy": policy["id"], "collection": "authors",
                                       "action": "read", "fields": ["*"], "permissions": {}},
              token=token)
    server.ok("POST", "/users", {"email": EDITOR[0], "password": EDITOR[1], "role": role["id"],
                                 "status": "active"}, token=token)


def create_collection(page: Any, base: str, name: str, rows: list[dict[str, Any]]) -> None:
    page.goto(base + "/admin/settings/data-model/+")
    page.get_by_label("Collection name").fill(name)
    for i, row in enumerate(rows):
        page.locator(f"#f{i}_name").fill(row["name"])
        page.locator(f"#f{i}_type").select_option(row.get("type", "string"))
        if "related" in row:
            page.locator(f"#f{i}_related").select_option(row["related"])
        if "note" in row:
            page.locator(f"#f{i}_note").fill(row["note"])
        if row.get("required"):
            page.locator(f"#f{i}_required").check()
    if name == "books":
        shot(page, "data-model-create")
    page.get_by_role("button", name="Create collection").click()
    page.wait_for_url(re.compile(rf".*/admin/settings/data-model/{name}\?created=1"))


@pytest.mark.backends("sqlite", "postgres")
def test_admin_app_end_to_end(backend: str, live_server: Any, browser: Any) -> None:
    server = live_server(backend, workers=2, env={"LOG_LEVEL": "info"})
    base = server.base_url
    # a fresh project: nobody with admin access is active yet
    me = server.ok("GET", "/users/me")
    server.ok("PATCH", f"/users/{me['id']}", {"status": "suspended"})

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(base + "/")
    page.wait_for_url(re.compile(r".*/admin/setup$"))
    page.get_by_label("Project name").fill("Museum")
    page.get_by_label("Admin email").fill(ADMIN[0])
    page.get_by_label("Admin password").fill(ADMIN[1])
    shot(page, "setup")
    page.get_by_role("button", name="Create administrator").click()
    page.wait_for_url(re.compile(r".*/admin/login\?created=1$"))
    assert server.ok("GET", "/server/info", token=None)["project"]["project_name"] == "Museum"

    # a wrong password is answered on the page, by the API's own message
    page.get_by_label("Email").fill(ADMIN[0])
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Sign in").click()
    sync_api.expect(page.get_by_role("alert")).to_contain_text("Invalid user credentials")
    shot(page, "login")
    sign_in(page, base, *ADMIN)

    create_collection(page, base, "authors", [{"name": "name", "required": True}])
    create_collection(page, base, "books", [
        {"name": "title", "required": True, "note": "As printed on the cover"},
        {"name": "pages", "type": "integer"},
        {"name": "author", "type": "m2o", "related": "authors"},
        {"name": "tags", "type": "csv"}])
    sync_api.expect(page.locator("table")).to_contain_text("authors")
    shot(page, "data-model-detail")

    page.goto(base + "/admin/content/authors/+")
    page.get_by_label("Name").fill("Ursula K. Le Guin")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/admin/content/authors\?saved=1$"))

    page.goto(base + "/admin/content/books/+")
    page.get_by_role("button", name="Save").click()  # the title is required
    sync_api.expect(page.locator("#title-error")).to_be_visible()
    shot(page, "item-form-error")
    page.get_by_label("Title").fill("A Wizard of Earthsea")
    page.get_by_label("Pages").fill("183")
    page.get_by_label("Author", exact=True).select_option(label="Ursula K. Le Guin (#1)")
    page.get_by_label("Tags").fill("fantasy, sea")
    shot(page, "item-form")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/admin/content/books\?saved=1$"))
    page.goto(base + "/admin/content/books/+")
    page.get_by_label("Title").fill("The Dispossessed")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/admin/content/books\?saved=2$"))

    page.get_by_label("Search").fill("earthsea")  # htmx swaps the list as one types
    sync_api.expect(page.locator("#items")).not_to_contain_text("Dispossessed")
    sync_api.expect(page.locator("#items")).to_contain_text("A Wizard of Earthsea")
    sync_api.expect(page.locator("#items")).to_contain_text("fantasy, sea")
    shot(page, "item-list")
    link = page.locator("#items").get_by_role("link", name="1", exact=True)
    link.click()
    page.wait_for_url(re.compile(r".*/admin/content/books/1$"))
    page.get_by_label("Title").fill("A Wizard of Earthsea (1968)")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/admin/content/books\?saved=1$"))
    sync_api.expect(page.locator("#items")).to_contain_text("(1968)")
    page.goto(base + "/admin/content/books/2")
    page.get_by_role("button", name="Delete item").click()
    page.wait_for_url(re.compile(r".*/admin/content/books\?deleted=2$"))
    sync_api.expect(page.locator("#items")).not_to_contain_text("Dispossessed")
    titles = [b["title"] for b in server.ok("GET", "/items/books",
                                            token=_token(server, *ADMIN))]
    assert titles == ["A Wizard of Earthsea (1968)"]

    # a restricted editor: reads authors only
    make_editor(server, _token(server, *ADMIN))
    editor = browser.new_context(viewport={"width": 1280, "height": 800})
    epage = editor.new_page()
    sign_in(epage, base, *EDITOR)
    nav = epage.get_by_role("navigation", name="Collections")
    sync_api.expect(nav).to_contain_text("authors")
    sync_api.expect(nav).not_to_contain_text("books")
    sync_api.expect(epage.get_by_role("link", name="Data model")).to_have_count(0)
    shot(epage, "editor-content")
    answer = epage.goto(base + "/admin/content/books")
    assert answer is not None and answer.status == 403
    sync_api.expect(epage.get_by_role("heading", level=1)).to_contain_text("403")
    answer = epage.goto(base + "/admin/settings/data-model")
    assert answer is not None and answer.status == 403
    epage.get_by_role("button", name="Sign out").click()
    epage.wait_for_url(re.compile(r".*/admin/login$"))

    # password reset: the link of the mail opens the reset page, and the new password works
    epage.goto(base + "/admin/reset-password")
    epage.get_by_label("Email").fill(EDITOR[0])
    epage.get_by_role("button", name="Send reset link").click()
    sync_api.expect(epage.get_by_role("status")).to_contain_text("reset link is on its way")
    links = RESET_LINK.findall(server.log_text())
    assert len(links) == 1 and links[0].startswith(base + "/admin/reset-password?token=")
    epage.goto(links[0])
    epage.get_by_label("New password").fill("brand-new-password")
    shot(epage, "reset-password")
    epage.get_by_role("button", name="Set password").click()
    epage.wait_for_url(re.compile(r".*/admin/login\?reset=1$"))
    sign_in(epage, base, EDITOR[0], "brand-new-password")
    context.close()
    editor.close()


def _token(server: Any, email: str, password: str) -> str:
    data = server.ok("POST", "/auth/login", {"email": email, "password": password}, token=None)
    return str(data["access_token"])
