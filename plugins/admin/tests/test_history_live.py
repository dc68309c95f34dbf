"""Activity, revisions with revert and an image upload against the live server with 2
workers: over plain HTTP, and the upload interface (admin.js) in Debian's Chromium."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
import requests
from playwright import sync_api

from transom.testing.live import LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD

from .conftest import csrf_of
from .test_browser_live import browser  # noqa: F401 - the Chromium fixture
from .test_browser_live import sign_in as browser_sign_in
from .test_history import _png


@pytest.mark.backends("sqlite")
def test_history_and_upload_live(backend: str, live_server: Any) -> None:
    server = live_server(backend, workers=2)
    base = server.base_url
    _books_with_cover(server)
    web = requests.Session()
    login = web.post(base + "/auth/login", json={"email": LIVE_ADMIN_EMAIL,
                                                 "password": LIVE_ADMIN_PASSWORD,
                                                 "mode": "session"}, timeout=30)
    assert login.status_code == 200, login.text
    assert "Single sign-on" not in web.get(base + "/admin/login?next=/admin/activity",
                                           timeout=30).text
    form = web.get(base + "/admin/content/books/+", timeout=30)
    assert 'data-upload="/files"' in form.text
    token = csrf_of(form.text)
    up = web.post(base + "/files", files={"file": ("cover.png", io.BytesIO(_png()),
                                                   "image/png")}, timeout=30)
    assert up.status_code == 200, up.text
    cover = up.json()["data"]["id"]
    for path, title in (("+", "Tehanu"), ("1", "The Farthest Shore")):
        resp = web.post(f"{base}/admin/content/books/{path}", timeout=30, data={
            "csrf_token": token, "title": title, "cover": cover}, allow_redirects=False)
        assert resp.status_code == 302, resp.text
    item = web.get(base + "/admin/content/books/1", timeout=30).text
    assert f'src="/assets/{cover}?width=160"' in item
    assert web.get(f"{base}/assets/{cover}?width=160", timeout=30).headers[
        "Content-Type"].startswith("image/png")
    log = web.get(base + "/admin/activity?collection=books", timeout=30).text
    assert "2 entries" in log and log.index("update") < log.index("create")
    revisions = web.get(base + "/admin/content/books/1/revisions", timeout=30).text
    [revert] = re.findall(r'action="(/admin/content/books/1/revisions/\d+/revert)"', revisions)
    done = web.post(base + revert, data={"csrf_token": token}, timeout=30)
    assert done.status_code == 200 and "Item reverted" in done.text
    assert server.ok("GET", "/items/books/1")["title"] == "Tehanu"


def _books_with_cover(server: Any) -> None:
    server.ok("POST", "/collections", {"collection": "books", "schema": {}, "fields": [
        {"field": "id", "type": "integer", "schema": {"is_primary_key": True,
                                                      "has_auto_increment": True}},
        {"field": "title", "type": "string"},
        {"field": "cover", "type": "uuid", "meta": {"interface": "file-image",
                                                     "special": ["file"]}}]})
    server.ok("POST", "/relations", {"collection": "books", "field": "cover",
                                     "related_collection": "directus_files"})


@pytest.mark.backends("sqlite")
def test_image_upload_in_the_browser(backend: str, live_server: Any, browser: Any,  # noqa: F811
                                     tmp_path: Any) -> None:
    server = live_server(backend, workers=2)
    _books_with_cover(server)
    image = tmp_path / "cover.png"
    image.write_bytes(_png())
    context = browser.new_context()
    page = context.new_page()
    browser_sign_in(page, server.base_url, LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD)
    page.goto(server.base_url + "/admin/content/books/+")
    page.get_by_label("Title").fill("Tehanu")
    page.get_by_label("Upload a new image for cover").set_input_files(str(image))
    sync_api.expect(page.locator("[data-upload-status]")).to_contain_text("Uploaded")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/admin/content/books\?saved=1$"))
    [book] = server.ok("GET", "/items/books")
    assert book["title"] == "Tehanu" and book["cover"]
    page.goto(server.base_url + "/admin/content/books/1")
    thumb = page.get_by_role("img", name="Current cover")
    sync_api.expect(thumb).to_have_attribute("src", f"/assets/{book['cover']}?width=160")
    assert page.evaluate("document.querySelector('img[data-preview]').naturalWidth") == 160
    context.close()
