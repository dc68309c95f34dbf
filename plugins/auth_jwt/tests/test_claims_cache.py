"""The verified-claims cache of the resolver: a token is verified once, and everything that
refused it before still refuses it when its claims come from the cache (expiry, another
secret, a suspension, a logout or a deleted session row)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
import sqlalchemy as sa
from flask import request
from transom_auth_jwt import resolve

from transom.testing.plugin import ADMIN_EMAIL, ADMIN_PASSWORD

SECRET = "test-secret-0123456789-0123456789-abcdef"  # what transom.testing configures


def _login(client: Any, **extra: Any) -> Any:
    return client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD,
                                            **extra})


def _whoami(client: Any, token: str | None = None) -> Any:
    return client.get("/test/whoami",
                      headers={"Authorization": f"Bearer {token}"} if token else {})


def _error(resp: Any) -> tuple[int, str]:
    return resp.status_code, resp.get_json()["errors"][0]["extensions"]["code"]


def _cached(token: str) -> bool:
    return any(t == token for _k, t in resolve._verified._entries)


def _admin_id(app: Any) -> str:
    with app.extensions["transom"].connect() as conn:
        return str(conn.execute(sa.text("SELECT id FROM directus_users WHERE email = :e"),
                                {"e": ADMIN_EMAIL}).scalar_one())


def test_a_cached_token_still_expires(app: Any, client: Any) -> None:
    now = int(time.time())
    token = jwt.encode({"id": _admin_id(app), "role": None, "app_access": True,
                        "admin_access": True, "iat": now, "exp": now + 2, "iss": "directus"},
                       SECRET, algorithm="HS256")
    first = _whoami(client, token)
    assert first.status_code == 200 and first.get_json()["data"]["admin"] is True
    assert _cached(token)
    second = _whoami(client, token)
    assert second.get_json()["data"] == first.get_json()["data"]
    while time.time() < now + 2:  # wait for exp, then the cached entry must not answer
        time.sleep(0.1)
    assert _error(_whoami(client, token)) == (401, "TOKEN_EXPIRED")
    assert not _cached(token)


def test_each_request_gets_its_own_claims(app: Any, client: Any) -> None:
    token = _login(client).get_json()["data"]["access_token"]
    with app.test_request_context("/", headers={"Authorization": f"Bearer {token}"}):
        cms = app.extensions["transom"]
        one = resolve.accountability_for_request(cms, request)
        one.extra[resolve.CLAIMS_KEY]["id"] = "tampered"
        two = resolve.accountability_for_request(cms, request)
    assert two.extra[resolve.CLAIMS_KEY]["id"] == _admin_id(app)
    assert two.extra is not one.extra and two.dynamic is not one.dynamic


def test_a_cached_token_is_checked_against_the_secret(auth_app: Callable[..., Any]) -> None:
    client = auth_app().test_client()
    token = _login(client).get_json()["data"]["access_token"]
    assert _whoami(client, token).status_code == 200 and _cached(token)
    other = auth_app(SECRET="another-secret-0123456789-0123456789-xyz").test_client()
    assert _error(_whoami(other, token)) == (403, "INVALID_TOKEN")


def test_logout_ends_a_cached_session_token(app: Any, client: Any) -> None:
    _login(client, mode="session")
    token = client.get_cookie("directus_session_token").value
    assert _whoami(client, token).get_json()["data"]["session"] and _cached(token)
    assert client.post("/auth/logout", json={"mode": "session"}).status_code == 204
    # the JWT is unexpired and its claims are cached, but its session row is gone
    assert _error(_whoami(client, token)) == (401, "INVALID_CREDENTIALS")


def test_session_row_removed_refuses_a_cached_token(app: Any, client: Any) -> None:
    assert _login(client, mode="session").status_code == 200
    token = client.get_cookie("directus_session_token").value
    assert _whoami(client, token).status_code == 200 and _cached(token)
    with app.extensions["transom"].begin() as conn:
        conn.execute(sa.text("DELETE FROM directus_sessions"))
    assert _error(_whoami(client, token)) == (401, "INVALID_CREDENTIALS")


def test_suspension_refuses_a_cached_token(app: Any, client: Any) -> None:
    token = _login(client).get_json()["data"]["access_token"]
    assert _whoami(client, token).status_code == 200 and _cached(token)
    cms = app.extensions["transom"]
    with cms.begin() as conn:
        conn.execute(sa.text("UPDATE directus_users SET status = 'suspended' WHERE email = :e"),
                     {"e": ADMIN_EMAIL})
    cms.access_changed()
    assert _error(_whoami(client, token)) == (401, "USER_SUSPENDED")
