"""SSO in the browser: the login page's button, the real OpenID Connect provider of the
auth_oidc tests (oidc-provider-mock), and back into the admin app signed in."""

from __future__ import annotations

import importlib.util
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api

from .test_browser_live import browser, shot  # noqa: F401 - the module's browser fixture

# the provider fixture of plugins/auth_oidc/tests (a conftest, so loaded by its path)
_spec = importlib.util.spec_from_file_location(
    "transom_admin_tests_oidc_conftest",
    Path(__file__).resolve().parents[2] / "auth_oidc" / "tests" / "conftest.py")
assert _spec is not None and _spec.loader is not None
_oidc = sys.modules.setdefault(_spec.name, importlib.util.module_from_spec(_spec))
if not hasattr(_oidc, "oidc_idp"):  # its dataclasses need the module registered first
    _spec.loader.exec_module(_oidc)
oidc_idp = _oidc.oidc_idp


@pytest.mark.backends("sqlite")
def test_sso_button_signs_in(backend: str, live_server: Any, browser: Any,  # noqa: F811
                             oidc_idp: Any) -> None:
    role_id = str(uuid.uuid4())
    server = live_server(backend, workers=2,
                         env=oidc_idp.settings(LABEL="Google", DEFAULT_ROLE_ID=role_id))
    base = server.base_url
    policy = server.ok("POST", "/policies", {"name": "SSO staff", "app_access": True,
                                             "admin_access": False})
    server.ok("POST", "/roles", {"id": role_id, "name": "Staff"})
    server.ok("POST", "/access", {"role": role_id, "policy": policy["id"]})
    oidc_idp.set_user("ursula", email="ursula@example.com", name="Ursula")

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    # the provider's page asks a CDN for its stylesheet: no network here, answer at once
    context.route(re.compile(r"https://cdn\.jsdelivr\.net/.*"), lambda route: route.abort())
    page = context.new_page()
    page.goto(base + "/admin/content")
    page.wait_for_url(re.compile(r".*/admin/login\?next=.*"))
    button = page.get_by_role("link", name="Sign in with Google")
    sync_api.expect(button).to_be_visible()
    shot(page, "login-sso")
    button.click()
    page.wait_for_url(re.compile("^" + re.escape(oidc_idp.url) + "/.*"))
    page.get_by_placeholder("sub").fill("ursula")
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile("^" + re.escape(base) + r"/admin/content$"))
    sync_api.expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    sync_api.expect(page.get_by_role("heading", level=1)).to_be_visible()
    users = server.ok("GET", "/users?filter[external_identifier][_eq]=ursula"
                             "&fields=email,provider,role")
    assert users == [{"email": "ursula@example.com", "provider": "google", "role": role_id}]
    # the session cookie is the admin app's: its pages answer as Ursula
    answer = page.goto(base + "/admin/users")
    assert answer is not None and answer.status in (200, 403)
    page.goto(base + "/admin/content")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/admin/login$"))
    assert page.goto(base + "/admin/content") is not None
    page.wait_for_url(re.compile(r".*/admin/login\?next=.*"))
    assert server.traceback() is None
    context.close()
