"""Invites and public registration, in process, on every backend."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import sqlalchemy as sa

from transom.auth.providers import find_user
from transom.testing.plugin import ADMIN_TOKEN

SECRET = "test-secret-0123456789-0123456789-abcdef"  # what transom.testing configures
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
FAST = {"REGISTER_STALL_TIME": "0"}


def cms_of(app: Any) -> Any:
    return app.extensions["transom"]


def mails(app: Any) -> list[Any]:
    return list(cms_of(app).extensions.get("sent_mail", []))


def token_in(message: Any) -> str:
    return re.search(r"token=([\w.-]+)", message.text).group(1)


def error(resp: Any) -> tuple[int, str, str]:
    body = resp.get_json()["errors"][0]
    return resp.status_code, body["extensions"]["code"], body["message"]


def user(app: Any, email: str) -> dict[str, Any] | None:
    return find_user(cms_of(app), email=email)


def make_role(client: Any, **policy: Any) -> str:
    role = client.post("/roles", json={"name": f"r-{uuid.uuid4().hex[:6]}"}, headers=ADMIN)
    role_id = role.get_json()["data"]["id"]
    if policy:
        pol = client.post("/policies", json={"name": f"p-{uuid.uuid4().hex[:6]}", **policy},
                          headers=ADMIN).get_json()["data"]
        client.post("/access", json={"role": role_id, "policy": pol["id"]}, headers=ADMIN)
    return role_id


def login(client: Any, email: str, password: str) -> Any:
    return client.post("/auth/login", json={"email": email, "password": password})


def set_settings(client: Any, **values: Any) -> None:
    resp = client.patch("/settings", json=values, headers=ADMIN)
    assert resp.status_code == 200, resp.get_json()


# -- invites ------------------------------------------------------------------------------------
def test_invite_accept_login(auth_app: Callable[..., Any]) -> None:
    app = auth_app(**FAST, PUBLIC_URL="https://cms.example.com",
                   USER_INVITE_URL_ALLOW_LIST="https://app.example.com/accept")
    client = app.test_client()
    role = make_role(client)
    resp = client.post("/users/invite", json={"email": "new@example.com", "role": role},
                       headers=ADMIN)
    assert resp.status_code == 204 and resp.data == b""
    row = user(app, "new@example.com")
    assert row["status"] == "invited" and str(row["role"]) == role and not row["password"]
    message = mails(app)[-1]
    assert message.to == "new@example.com" and message.subject == "You've been invited"
    assert "https://cms.example.com/admin/accept-invite?token=" in message.text
    token = token_in(message)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer="directus")
    assert claims["email"] == "new@example.com" and claims["scope"] == "invite"
    # the invite token is no access token
    assert error(client.get("/users/me", headers={"Authorization": f"Bearer {token}"}))[:2] \
        == (403, "INVALID_TOKEN")
    assert login(client, "new@example.com", "Secret-123").status_code == 401

    assert client.post("/users/invite/accept",
                       json={"token": token, "password": "Secret-123"}).status_code == 204
    assert user(app, "new@example.com")["status"] == "active"
    assert login(client, "new@example.com", "Secret-123").status_code == 200
    # used once: the user is no longer invited
    assert error(client.post("/users/invite/accept",
                             json={"token": token, "password": "Other-123"})) == (
        400, "INVALID_PAYLOAD",
        "Invalid payload. Email address new@example.com hasn't been invited.")
    # a custom link from the allow list
    client.post("/users/invite", json={"email": ["a@example.com", "b@example.com"],
                                       "role": role,
                                       "invite_url": "https://app.example.com/accept"},
                headers=ADMIN)
    assert [m.to for m in mails(app)[-2:]] == ["a@example.com", "b@example.com"]
    assert mails(app)[-1].text.count("https://app.example.com/accept?token=") == 1


def test_reinvite_and_active_user(app: Any, client: Any) -> None:
    role, other = make_role(client), make_role(client)
    body = {"email": "again@example.com", "role": role}
    assert client.post("/users/invite", json=body, headers=ADMIN).status_code == 204
    sent = len(mails(app))
    # re-inviting an invited user resends, with the new role
    assert client.post("/users/invite", json={**body, "role": other},
                       headers=ADMIN).status_code == 204
    assert len(mails(app)) == sent + 1
    assert str(user(app, "again@example.com")["role"]) == other
    # an active user is left alone and mailed nothing (Directus 11)
    assert client.post("/users/invite", json={"email": "admin@example.com", "role": role},
                       headers=ADMIN).status_code == 204
    assert len(mails(app)) == sent + 1
    assert user(app, "admin@example.com")["status"] == "active"


def test_invite_errors(auth_app: Callable[..., Any]) -> None:
    app = auth_app(USER_INVITE_URL_ALLOW_LIST="https://ok.example.com/accept")
    client = app.test_client()
    role = make_role(client)
    cases = [
        ({"role": role}, '"email" is required'),
        ({"email": "nope", "role": role}, '"email" must be a valid email'),
        ({"email": "x@example.com"}, '"role" is required'),
        ({"email": "x@example.com", "role": "abc"}, '"role" must be a valid GUID'),
        ({"email": "x@example.com", "role": role, "invite_url": "https://evil.example.com/"},
         'URL "https://evil.example.com/" can\'t be used to invite users'),
    ]
    for body, message in cases:
        assert error(client.post("/users/invite", json=body, headers=ADMIN)) == \
            (400, "INVALID_PAYLOAD", f"Invalid payload. {message}."), body
    assert error(client.post("/users/invite", json=[1], headers=ADMIN))[:2] == \
        (400, "INVALID_PAYLOAD")
    # anonymous callers may not create users
    assert error(client.post("/users/invite", json={"email": "x@example.com",
                                                    "role": role}))[:2] == (403, "FORBIDDEN")
    assert user(app, "x@example.com") is None
    # acceptance: bad tokens
    assert error(client.post("/users/invite/accept", json={"password": "x"}))[:2] == \
        (400, "INVALID_PAYLOAD")
    assert error(client.post("/users/invite/accept",
                             json={"token": "garbage", "password": "x"}))[:2] == \
        (403, "INVALID_TOKEN")
    wrong_scope = jwt.encode({"email": "x@example.com", "scope": "password-reset",
                              "iss": "directus", "exp": int(time.time()) + 60}, SECRET)
    assert error(client.post("/users/invite/accept",
                             json={"token": wrong_scope, "password": "x"}))[:2] == \
        (403, "FORBIDDEN")
    expired = jwt.encode({"email": "x@example.com", "scope": "invite", "iss": "directus",
                          "exp": int(time.time()) - 5}, SECRET)
    assert error(client.post("/users/invite/accept",
                             json={"token": expired, "password": "x"}))[:2] == \
        (401, "TOKEN_EXPIRED")


def test_invite_needs_create_permission(app: Any, client: Any) -> None:
    role = make_role(client, app_access=True, admin_access=False)
    resp = client.post("/users", json={"email": "editor@example.com", "password": "Pw-12345",
                                       "role": role, "token": "editor-token"}, headers=ADMIN)
    assert resp.status_code == 200
    editor = {"Authorization": "Bearer editor-token"}
    assert error(client.post("/users/invite", json={"email": "y@example.com", "role": role},
                             headers=editor))[:2] == (403, "FORBIDDEN")
    assert user(app, "y@example.com") is None


# -- public registration ------------------------------------------------------------------------
def test_register_verify_login(auth_app: Callable[..., Any]) -> None:
    app = auth_app(**FAST, PUBLIC_URL="https://cms.example.com")
    client = app.test_client()
    body = {"email": "reg@example.com", "password": "Reg-12345", "first_name": "Ada"}
    assert error(client.post("/users/register", json=body))[:2] == (403, "FORBIDDEN")
    assert user(app, "reg@example.com") is None
    role = make_role(client)
    set_settings(client, public_registration=True, public_registration_role=role,
                 public_registration_verify_email=True)
    assert client.post("/users/register", json=body).status_code == 204
    row = user(app, "reg@example.com")
    assert row["status"] == "unverified" and str(row["role"]) == role
    assert login(client, "reg@example.com", "Reg-12345").status_code == 401
    message = mails(app)[-1]
    assert message.subject == "Verify your email address"
    assert "https://cms.example.com/users/register/verify-email?token=" in message.text
    # registering again resends and changes nothing else
    assert client.post("/users/register", json={**body, "password": "Other-123"}).status_code \
        == 204
    assert len([m for m in mails(app) if m.to == "reg@example.com"]) == 2
    token = token_in(mails(app)[-1])
    resp = client.get(f"/users/register/verify-email?token={token}")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "https://cms.example.com/admin/login"
    assert user(app, "reg@example.com")["status"] == "active"
    assert login(client, "reg@example.com", "Reg-12345").status_code == 200
    # once only; JSON callers see why
    resp = client.get(f"/users/register/verify-email?token={token}",
                      headers={"Accept": "application/json"})
    assert error(resp) == (400, "INVALID_PAYLOAD", "Invalid payload. Invalid verification code.")
    # a registered (active) email answers the same 204 and is untouched
    before = len(mails(app))
    assert client.post("/users/register", json={**body, "password": "Hijack-123"}).status_code \
        == 204
    assert len(mails(app)) == before
    assert login(client, "reg@example.com", "Reg-12345").status_code == 200


def test_register_without_verification_and_filter(auth_app: Callable[..., Any]) -> None:
    app = auth_app(**FAST, USER_REGISTER_URL_ALLOW_LIST="https://app.example.com/verify")
    client = app.test_client()
    set_settings(client, public_registration=True, public_registration_verify_email=False,
                 public_registration_email_filter={"_and": [
                     {"email": {"_ends_with": "@good.example.com"}}]})
    assert error(client.post("/users/register", json={
        "email": "x@bad.example.com", "password": "Pw-12345"}))[:2] == (403, "FORBIDDEN")
    assert user(app, "x@bad.example.com") is None
    assert client.post("/users/register", json={
        "email": "x@good.example.com", "password": "Pw-12345"}).status_code == 204
    assert user(app, "x@good.example.com")["status"] == "active"
    assert login(client, "x@good.example.com", "Pw-12345").status_code == 200
    for body, message in [
        ({"password": "x"}, '"email" is required'),
        ({"email": "bad", "password": "x"}, '"email" must be a valid email'),
        ({"email": "z@good.example.com"}, '"password" is required'),
        ({"email": "z@good.example.com", "password": 5}, '"password" must be a string'),
        ({"email": "z@good.example.com", "password": "x",
          "verification_url": "https://evil.example.com/"},
         'URL "https://evil.example.com/" can\'t be used to verify registered users'),
    ]:
        assert error(client.post("/users/register", json=body)) == \
            (400, "INVALID_PAYLOAD", f"Invalid payload. {message}."), body
    assert user(app, "z@good.example.com") is None


def test_register_password_policy_and_bad_links(app: Any, client: Any) -> None:
    set_settings(client, public_registration=True, auth_password_policy="/^.{12,}$/")
    resp = client.post("/users/register", json={"email": "p@example.com", "password": "short"})
    assert error(resp)[:2] == (400, "FAILED_VALIDATION")
    assert user(app, "p@example.com") is None
    resp = client.get("/users/register/verify-email?token=nonsense",
                      headers={"Accept": "application/json"})
    assert error(resp)[:2] == (403, "INVALID_TOKEN")
    assert client.get("/users/register/verify-email").status_code == 302
    with cms_of(app).connect() as conn:
        assert conn.execute(sa.text(
            "SELECT COUNT(*) FROM directus_users WHERE status = 'unverified'")).scalar() == 0

