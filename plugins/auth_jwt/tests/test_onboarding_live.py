"""Invites, registration, two-factor login and share links against `transom start` (2 workers)
over HTTP, on every backend. Mail goes to the log transport; links are read from server.log.
"""

from __future__ import annotations

import re
from typing import Any

import pyotp

from transom.testing.live import (
    LIVE_ADMIN_EMAIL,
    LIVE_ADMIN_PASSWORD,
    create_collection,
    create_user,
    read_permission,
    wait_for,
)

ENV = {"LOG_LEVEL": "info", "REGISTER_STALL_TIME": "0", "LOGIN_STALL_TIME": "0"}
MAIL_TIMEOUT = 20.0


def link_token(server: Any, path: str, seen: set[str]) -> str:
    """The token of the first mailed link to ``path`` not seen before (mail is sent in the
    background and logged by the log transport)."""
    pattern = re.compile(re.escape(path) + r"\?token=([\w.-]+)")
    found: list[str] = []

    def fresh() -> bool:
        found[:] = [t for t in pattern.findall(server.log_text()) if t not in seen]
        return bool(found)

    assert wait_for(fresh, timeout=MAIL_TIMEOUT) is not None, server.log_tail()
    seen.add(found[0])
    return found[0]


def login(server: Any, email: str, password: str, **extra: Any) -> tuple[int, Any]:
    return server.call("POST", "/auth/login", {"email": email, "password": password, **extra},
                       token=None)


def code_of(answer: Any) -> str:
    return answer["errors"][0]["extensions"]["code"]


def test_onboarding_flows_live(live_server: Any, backend: str) -> None:
    server = live_server(backend, workers=2, env=ENV)
    seen: set[str] = set()
    role = server.ok("POST", "/roles", {"name": "newcomers"})["id"]

    # invite -> accept -> login
    server.ok("POST", "/users/invite", {"email": "invited@example.com", "role": role})
    token = link_token(server, "/admin/accept-invite", seen)
    assert login(server, "invited@example.com", "Invited-123")[0] == 401
    assert server.call("POST", "/users/invite/accept",
                       {"token": token, "password": "Invited-123"}, token=None)[0] == 204
    status, answer = login(server, "invited@example.com", "Invited-123")
    assert status == 200 and answer["data"]["access_token"]
    status, answer = server.call("POST", "/users/invite/accept",
                                 {"token": token, "password": "x"}, token=None)
    assert (status, code_of(answer)) == (400, "INVALID_PAYLOAD")

    # register -> verify -> login
    body = {"email": "joiner@example.com", "password": "Joiner-123"}
    status, answer = server.call("POST", "/users/register", body, token=None)
    assert (status, code_of(answer)) == (403, "FORBIDDEN")
    server.ok("PATCH", "/settings", {"public_registration": True,
                                     "public_registration_verify_email": True,
                                     "public_registration_role": role})
    assert server.burst("POST", "/users/register", n=4, body=body, token=None) == [204] * 4
    token = link_token(server, "/users/register/verify-email", seen)
    assert login(server, "joiner@example.com", "Joiner-123")[0] == 401
    status, _ = server.call("GET", f"/users/register/verify-email?token={token}", token=None,
                            headers={"Accept": "application/json"})
    assert status == 204
    assert login(server, "joiner@example.com", "Joiner-123")[0] == 200
    assert server.ok("GET", "/users?filter[email][_eq]=joiner@example.com&fields=role,status") \
        == [{"role": role, "status": "active"}]

    # tfa: generate -> enable -> login without otp fails -> with otp works
    _, answer = login(server, LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD)
    jwt = answer["data"]["access_token"]
    status, answer = server.call("POST", "/users/me/tfa/generate",
                                 {"password": LIVE_ADMIN_PASSWORD}, token=jwt)
    assert status == 200, answer
    secret = answer["data"]["secret"]
    assert answer["data"]["otpauth_url"].startswith("otpauth://totp/")
    status, _ = server.call("POST", "/users/me/tfa/enable",
                            {"secret": secret, "otp": pyotp.TOTP(secret).now()}, token=jwt)
    assert status == 204
    results = server.burst("POST", "/auth/login", n=6, token=None, full=True,
                           body={"email": LIVE_ADMIN_EMAIL, "password": LIVE_ADMIN_PASSWORD})
    assert [(s, code_of(a)) for s, a in results] == [(401, "INVALID_OTP")] * 6
    status, answer = login(server, LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD,
                           otp=pyotp.TOTP(secret).now())
    assert status == 200 and answer["data"]["access_token"]

    # share: auth -> read the item -> another item is 403, on both workers
    articles = create_collection(server)
    first = server.ok("POST", f"/items/{articles}", {"title": "shared"})["id"]
    second = server.ok("POST", f"/items/{articles}", {"title": "private"})["id"]
    reader = create_user(server, [])
    server.ok("POST", "/permissions", read_permission(reader["policy"]["id"], articles))
    share = server.ok("POST", "/shares", {"name": "link", "collection": articles,
                                          "item": str(first), "role": reader["role"]["id"],
                                          "password": "pw-123", "max_uses": 3})
    status, answer = server.call("GET", f"/shares/info/{share['id']}", token=None)
    assert status == 200 and answer["data"]["password"] == "**********"
    status, answer = server.call("POST", "/shares/auth", {"share": share["id"]}, token=None)
    assert (status, code_of(answer)) == (401, "INVALID_CREDENTIALS")
    status, answer = server.call("POST", "/shares/auth",
                                 {"share": share["id"], "password": "pw-123"}, token=None)
    assert status == 200, answer
    share_token = answer["data"]["access_token"]
    reads = server.burst("GET", f"/items/{articles}/{first}?fields=title", n=8,
                         token=share_token, full=True)
    assert reads == [(200, {"data": {"title": "shared"}})] * 8
    assert server.burst("GET", f"/items/{articles}/{second}", n=8, token=share_token) == \
        [403] * 8
    assert server.ok("GET", f"/items/{articles}?fields=id", token=share_token) == \
        [{"id": first}]
    # the other caller keeps seeing everything its policy allows
    assert len(server.ok("GET", f"/items/{articles}", token=reader["token"])) == 2
    # max_uses: two more logins, then refused
    logins = server.burst("POST", "/shares/auth", n=4, token=None,
                          body={"share": share["id"], "password": "pw-123"})
    assert sorted(logins) == [200, 200, 401, 401]
    assert server.ok("GET", f"/shares/{share['id']}?fields=times_used") == {"times_used": 3}
    assert server.traceback() is None, server.traceback_summary()


def test_enforce_tfa_live(live_server: Any, backend: str) -> None:
    """A user under an ``enforce_tfa`` policy logs in, is confined to setting TFA up on
    every worker, sets it up, and the same token then works everywhere."""
    server = live_server(backend, workers=2, env=ENV)
    notes = create_collection(server)
    server.ok("POST", f"/items/{notes}", {"title": "hello"})
    policy = server.ok("POST", "/policies", {"name": "strict", "app_access": True,
                                             "enforce_tfa": True})
    server.ok("POST", "/permissions", read_permission(policy["id"], notes))
    role = server.ok("POST", "/roles", {"name": "strict"})
    server.ok("POST", "/access", {"role": role["id"], "policy": policy["id"]})
    server.ok("POST", "/users", {"email": "tess@example.org", "password": "tess-pw-123",
                                 "role": role["id"]})
    status, body = login(server, "tess@example.org", "tess-pw-123")
    assert status == 200, body
    token = body["data"]["access_token"]

    answers = server.burst("GET", f"/items/{notes}", n=6, token=token, full=True)
    assert {s for s, _ in answers} == {403}
    assert {b["errors"][0]["extensions"]["code"] for _, b in answers} == {"FORBIDDEN"}
    globals_ = server.burst("GET", "/policies/me/globals", n=4, token=token, full=True)
    assert {(s, b["data"]["enforce_tfa"]) for s, b in globals_} == {(200, True)}

    secret = server.ok("POST", "/users/me/tfa/generate", {"password": "tess-pw-123"},
                       token=token)["secret"]
    status, _ = server.call("POST", "/users/me/tfa/enable",
                            {"secret": secret, "otp": pyotp.TOTP(secret).now()}, token=token)
    assert status == 204
    answers = server.burst("GET", f"/items/{notes}?fields=title", n=6, token=token,
                           full=True)
    assert {(s, tuple(i["title"] for i in b["data"])) for s, b in answers} == \
        {(200, ("hello",))}
    assert login(server, "tess@example.org", "tess-pw-123")[0] == 401
    assert login(server, "tess@example.org", "tess-pw-123",
                 otp=pyotp.TOTP(secret).now())[0] == 200
