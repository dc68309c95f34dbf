"""Helpers for the admin app's tests: sign in with a session cookie, read CSRF tokens."""

from __future__ import annotations

import re
from typing import Any

import pytest

from transom.testing.plugin import ADMIN_EMAIL, ADMIN_PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a rendered form carries."""
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: Any, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
    """What admin.js does: POST /auth/login in session mode (the cookie lands in client)."""
    resp = client.post("/auth/login", json={"email": email, "password": password,
                                            "mode": "session"})
    assert resp.status_code == 200, resp.get_data(as_text=True)


def form_token(client: Any, path: str) -> str:
    resp = client.get(path)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return csrf_of(resp.get_data(as_text=True))


@pytest.fixture
def admin_client(client: Any) -> Any:
    sign_in(client)
    return client
