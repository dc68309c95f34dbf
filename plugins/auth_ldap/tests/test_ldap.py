"""LDAP logins against a real slapd (see conftest.py): through the test client on every
backend, and over HTTP against the live server with 2 workers."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import ldap3
import pyotp
import pytest

from transom.testing.helpers import (
    assert_no_password_login,
    enable_tfa,
    named_role,
    users_linked_to,
)
from transom.testing.live import free_port
from transom.testing.plugin import ADMIN_PASSWORD

ALICE = "alice-pw"  # her password in the directory of conftest.py




def _login(client: Any, identifier: str, password: str, provider: str = "corp") -> Any:
    return client.post(f"/auth/login/{provider}",
                       json={"identifier": identifier, "password": password})


def test_login_creates_user_with_group_role_and_links_next_time(
        backend: str, make_app: Any, slapd_server: Any, admin_headers: dict[str, str]
) -> None:
    bootstrap = make_app()
    editors = named_role(bootstrap.test_client(), admin_headers, "Editors")
    fallback = named_role(bootstrap.test_client(), admin_headers, "Readers")
    app = make_app(slapd_server.settings(GROUP_DN=slapd_server.groups, DEFAULT_ROLE_ID=fallback),
                   bootstrap=False)
    client = app.test_client()

    listed = client.get("/auth").get_json()["data"]
    assert {"name": "corp", "driver": "ldap"} in listed

    resp = _login(client, "alice", ALICE)
    assert resp.status_code == 200, resp.get_json()
    tokens = resp.get_json()["data"]
    assert tokens["access_token"] and tokens["refresh_token"]
    [alice] = users_linked_to(app, slapd_server.dn("alice"))
    assert (alice["email"], alice["role"], alice["provider"]) == \
        ("alice@example.org", editors, "corp")
    assert (alice["first_name"], alice["last_name"], alice["password"]) == \
        ("Alice", "Liddell", None)
    me = client.get("/users/me",
                    headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.get_json()["data"]["id"] == alice["id"]

    again = _login(client, "alice", ALICE)
    assert again.status_code == 200
    assert [u["id"] for u in users_linked_to(app, slapd_server.dn("alice"))] == [alice["id"]]

    # bob is in Staff only, which names no role: the default role
    assert _login(client, "bob", slapd_server.password("bob")).status_code == 200
    assert users_linked_to(app, slapd_server.dn("bob"))[0]["role"] == fallback


@pytest.mark.backends("sqlite", "postgres", "mysql")
def test_refusals(backend: str, make_app: Any, slapd_server: Any) -> None:
    app = make_app(slapd_server.settings())
    client = app.test_client()

    wrong = _login(client, "alice", "not-her-password")
    assert wrong.status_code == 401
    assert wrong.get_json()["errors"][0]["extensions"]["code"] == "INVALID_CREDENTIALS"
    assert users_linked_to(app, slapd_server.dn("alice")) == []  # nothing written for a failed bind

    for identifier in ("nobody", "*", "alice)(uid=*"):
        resp = _login(client, identifier, "x")
        assert resp.status_code == 401, identifier
        assert resp.get_json()["errors"][0]["extensions"]["code"] == "INVALID_CREDENTIALS"

    for body, message in (({"identifier": "alice"}, '"password" is required'),
                          ({"identifier": "alice", "password": ""},
                           '"password" is not allowed to be empty'),
                          ({"identifier": 5, "password": "x"}, '"identifier" must be a string')):
        resp = client.post("/auth/login/corp", json=body)
        assert resp.status_code == 400
        error = resp.get_json()["errors"][0]
        assert (error["extensions"]["code"], error["message"]) == ("INVALID_PAYLOAD",
                                                             f"Invalid payload. {message}.")

    # an unknown provider is not a route
    assert _login(client, "alice", ALICE, "nope").status_code == 404


@pytest.mark.backends("sqlite", "postgres", "mysql")
def test_sso_user_cannot_use_a_password_and_local_user_is_not_taken_over(
        backend: str, make_app: Any, slapd_server: Any, admin_headers: dict[str, str]
) -> None:
    app = make_app(slapd_server.settings())
    client = app.test_client()
    assert _login(client, "alice", ALICE).status_code == 200
    # set a password on the LDAP user: the local login still refuses it
    [alice] = users_linked_to(app, slapd_server.dn("alice"))
    assert_no_password_login(client, admin_headers, alice)

    # carol already has a local account with her LDAP email: LDAP must not log into it
    resp = client.post("/users", json={"email": "carol@example.org", "password": "Carol-123"},
                       headers=admin_headers)
    assert resp.status_code == 200
    resp = _login(client, "carol", slapd_server.password("carol"))
    assert resp.status_code == 403
    assert resp.get_json()["errors"][0]["extensions"]["code"] == "INVALID_PROVIDER"
    assert users_linked_to(app, slapd_server.dn("carol")) == []
    assert client.post("/auth/login", json={"email": "carol@example.org",
                                            "password": "Carol-123"}).status_code == 200


@pytest.mark.backends("sqlite")
def test_role_follows_the_directory(backend: str, make_app: Any, slapd_server: Any,
                                    admin_headers: dict[str, str]) -> None:
    bootstrap = make_app()
    editors = named_role(bootstrap.test_client(), admin_headers, "editors")  # case-insensitive
    app = make_app(slapd_server.settings(GROUP_DN=slapd_server.groups), bootstrap=False)
    client = app.test_client()
    assert _login(client, "carol", slapd_server.password("carol")).status_code == 200
    # no group, no default role
    assert users_linked_to(app, slapd_server.dn("carol"))[0]["role"] is None

    group = f"cn=Editors,{slapd_server.groups}"
    conn = ldap3.Connection(slapd_server.url, slapd_server.root_dn,
                            slapd_server.root_password, auto_bind=True)
    try:
        assert conn.modify(group, {"member": [(ldap3.MODIFY_ADD, [slapd_server.dn("carol")])]})
        assert _login(client, "carol", slapd_server.password("carol")).status_code == 200
        assert users_linked_to(app, slapd_server.dn("carol"))[0]["role"] == editors
    finally:
        conn.modify(group, {"member": [(ldap3.MODIFY_DELETE, [slapd_server.dn("carol")])]})
        conn.unbind()
    assert _login(client, "carol", slapd_server.password("carol")).status_code == 200
    assert users_linked_to(app, slapd_server.dn("carol"))[0]["role"] is None


@pytest.mark.backends("sqlite")
def test_directory_down_is_503(backend: str, make_app: Any, slapd_server: Any) -> None:
    app = make_app({**slapd_server.settings(),
                    "AUTH_CORP_CLIENT_URL": f"ldap://127.0.0.1:{free_port()}"})
    resp = _login(app.test_client(), "alice", ALICE)
    assert resp.status_code == 503
    assert resp.get_json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"


@pytest.mark.backends("sqlite", "postgres", "mysql")
def test_live_server_two_workers(backend: str, live_server: Any, slapd_server: Any) -> None:
    # the shared per-account attempt counter stays on: concurrent logins of one user must
    # not trip over it, nor over each other's session writes
    env = slapd_server.settings(GROUP_DN=slapd_server.groups)
    srv = live_server(backend, workers=2, env=env)
    status, body = srv.call("POST", "/roles", {"name": "Editors"})
    assert status == 200, body
    editors = body["data"]["id"]
    ids = set()
    for _ in range(4):  # requests spread over both workers; every one links the same user
        status, body = srv.call("POST", "/auth/login/corp",
                                {"identifier": "alice", "password": ALICE}, token=None)
        assert status == 200, body
        status, me = srv.call("GET", "/users/me", token=body["data"]["access_token"])
        assert status == 200, me
        ids.add(me["data"]["id"])
    assert len(ids) == 1
    status, user = srv.call("GET", f"/users/{ids.pop()}?fields=role,provider,external_identifier")
    assert status == 200, user
    assert user["data"] == {"role": editors, "provider": "corp",
                            "external_identifier": slapd_server.dn("alice")}
    # bob's first logins, concurrent on both workers: all succeed, one user is created
    results = srv.burst("POST", "/auth/login/corp", n=8, token=None, full=True,
                        body={"identifier": "bob", "password": slapd_server.password("bob")})
    assert [r[0] for r in results] == [200] * 8, ([r for r in results if r[0] != 200],
                                                  srv.log_tail())
    status, found = srv.call(
        "GET", "/users?fields=id&filter[external_identifier][_eq]=" + quote(slapd_server.dn("bob")))
    assert status == 200 and len(found["data"]) == 1, found
    status, body = srv.call("POST", "/auth/login/corp",
                            {"identifier": "alice", "password": ADMIN_PASSWORD}, token=None)
    assert (status, body["errors"][0]["extensions"]["code"]) == (401, "INVALID_CREDENTIALS")


@pytest.mark.backends("sqlite", "postgres", "mysql")
def test_tfa_user_must_give_the_code(backend: str, make_app: Any, slapd_server: Any) -> None:
    """As Directus: an LDAP login of a user with TFA takes ``otp`` (the directory proves the
    password, the code is checked after it); an SSO user sets TFA up without a password."""
    app = make_app(slapd_server.settings())
    client = app.test_client()
    resp = _login(client, "bob", slapd_server.password("bob"))
    assert resp.status_code == 200, resp.get_json()
    secret = enable_tfa(client, resp.get_json()["data"]["access_token"])

    def login(**extra: Any) -> Any:
        return client.post("/auth/login/corp", json={
            "identifier": "bob", "password": slapd_server.password("bob"), **extra})

    missing = login()
    assert missing.status_code == 401
    assert missing.get_json()["errors"][0]["extensions"]["code"] == "INVALID_OTP"
    wrong = login(otp=pyotp.TOTP(pyotp.random_base32()).now())
    assert wrong.get_json()["errors"][0]["extensions"]["code"] == "INVALID_OTP"
    # the right code with a wrong password is still refused by the directory
    bad = client.post("/auth/login/corp", json={"identifier": "bob", "password": "nope",
                                                "otp": pyotp.TOTP(secret).now()})
    assert bad.get_json()["errors"][0]["extensions"]["code"] == "INVALID_CREDENTIALS"
    good = login(otp=pyotp.TOTP(secret).now())
    assert good.status_code == 200, good.get_json()
    assert good.get_json()["data"]["access_token"]
