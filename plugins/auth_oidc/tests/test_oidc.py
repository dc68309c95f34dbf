"""OpenID Connect logins against a real provider (oidc_provider_mock over HTTP, see
conftest.py): through the test client on every backend, and over HTTP against live servers
with 2 workers, including a login started on one instance and finished on another."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pyotp
import pytest
import sqlalchemy as sa
from transom_auth_oidc import state_cookie

from transom.testing.helpers import (
    assert_no_password_login,
    assert_tokens_work,
    enable_tfa,
    error_code,
    named_role,
    users_linked_to,
)
from transom.testing.live import free_port
from transom.testing.plugin import base_config


def test_login_creates_the_user_then_links_it(
        backend: str, make_app: Any, oidc_idp: Any, browser_cls: Any,
        admin_headers: dict[str, str]) -> None:
    bootstrap = make_app()
    role = named_role(bootstrap.test_client(), admin_headers, "Members")
    app = make_app(oidc_idp.settings(DEFAULT_ROLE_ID=role, LABEL="Google", ICON="google"),
                   bootstrap=False)
    oidc_idp.set_user(f"ann-{backend}", email=f"Ann.{backend}@Example.org",
                      given_name="Ann", family_name="Arbor")

    listed = app.test_client().get("/auth").get_json()["data"]
    assert {"name": "google", "driver": "openid", "label": "Google", "icon": "google"} \
        in listed

    status, _, body, _ = browser_cls(app.test_client()).login(f"ann-{backend}")
    assert status == 200, body
    tokens = body["data"]
    assert set(tokens) == {"access_token", "refresh_token", "expires"}
    [ann] = users_linked_to(app, f"ann-{backend}")
    assert ann["email"] == f"ann.{backend}@example.org"
    assert (ann["role"], ann["provider"], ann["status"], ann["password"]) == \
        (role, "google", "active", None)
    assert (ann["first_name"], ann["last_name"]) == ("Ann", "Arbor")
    assert_tokens_work(app.test_client(), tokens, ann["id"])

    status, _, body, _ = browser_cls(app.test_client()).login(f"ann-{backend}")
    assert status == 200, body
    assert [u["id"] for u in users_linked_to(app, f"ann-{backend}")] == [ann["id"]]


@pytest.mark.backends("sqlite", "postgres", "mysql")
def test_registration_closed_refuses_unknown_users(
        backend: str, make_app: Any, oidc_idp: Any, browser_cls: Any) -> None:
    app = make_app(oidc_idp.settings(ALLOW_PUBLIC_REGISTRATION="false",
                                     REDIRECT_ALLOW_LIST="https://app.example.com/done"))
    status, _, body, _ = browser_cls(app.test_client()).login("stranger")
    assert (status, error_code(body)) == (401, "INVALID_CREDENTIALS")
    assert users_linked_to(app, "stranger") == []

    # with a redirect the refusal goes back to the app, Directus-style
    status, headers, _, _ = browser_cls(app.test_client()).login(
        "stranger", redirect="https://app.example.com/done")
    assert status == 302
    assert headers["Location"] == "https://app.example.com/done?reason=INVALID_CREDENTIALS"
    assert users_linked_to(app, "stranger") == []


@pytest.mark.backends("sqlite", "postgres", "mysql")
def test_redirect_allow_list_and_session_cookie(
        backend: str, make_app: Any, oidc_idp: Any, browser_cls: Any) -> None:
    app = make_app(oidc_idp.settings(REDIRECT_ALLOW_LIST="https://app.example.com/after"))
    client = app.test_client()
    for target in ("https://evil.example.com/after", "//evil.example.com/x",
                   "https://app.example.com/other", "javascript:alert(1)"):
        resp = client.get("/auth/login/google", query_string={"redirect": target})
        assert resp.status_code == 400, target
        assert error_code(resp.get_json()) == "INVALID_PAYLOAD"
        assert "set-cookie" not in {k.lower() for k in resp.headers.keys()}

    browser = browser_cls(app.test_client())
    status, headers, _, _ = browser.login("rita", redirect="https://app.example.com/after")
    assert status == 302
    assert headers["Location"] == "https://app.example.com/after"
    # the session cookie the redirect set authenticates the browser
    me = browser.client.get("/users/me")
    assert me.status_code == 200, me.get_json()
    assert me.get_json()["data"]["id"] == users_linked_to(app, "rita")[0]["id"]

    # a path on this server needs no listing
    assert client.get("/auth/login/google",
                      query_string={"redirect": "/admin/content"}).status_code == 302


@pytest.mark.backends("sqlite", "postgres", "mysql")
def test_state_nonce_and_code_tampering_are_refused(
        backend: str, make_app: Any, oidc_idp: Any, browser_cls: Any) -> None:
    app = make_app(oidc_idp.settings())
    secret = base_config(sa.make_url("sqlite://"))["SECRET"]

    # the state returned by the provider must be the one in the cookie
    browser = browser_cls(app.test_client())
    callback = browser.authorize(browser.start(), "tom")
    parts = urlsplit(callback)
    forged = parts.query.replace("state=", "state=x")
    status, _, body, _ = browser.get(urlunsplit(parts._replace(query=forged)))
    assert (status, error_code(body)) == (401, "INVALID_CREDENTIALS")

    # no cookie (another browser), or an altered one
    status, _, body, _ = browser_cls(app.test_client()).get(callback)
    assert (status, error_code(body)) == (401, "INVALID_CREDENTIALS")
    browser = browser_cls(app.test_client())
    callback = browser.authorize(browser.start(), "tom")
    cookie = browser.client.get_cookie("openid.google")
    body_part, sig = cookie.value.split(".")
    browser.client.set_cookie("openid.google", body_part[:-2] + "AA." + sig)
    status, _, body, _ = browser.get(callback)
    assert (status, error_code(body)) == (401, "INVALID_CREDENTIALS")

    # a validly signed cookie whose nonce is not the ID token's: refused by the nonce check
    browser = browser_cls(app.test_client())
    location = browser.start()
    callback = browser.authorize(location, "tom")
    data = state_cookie.unseal(secret, browser.client.get_cookie("openid.google").value,
                               "google")
    browser.client.set_cookie("openid.google",
                              state_cookie.seal(secret, {**data, "nonce": "other"}))
    status, _, body, _ = browser.get(callback)
    assert (status, error_code(body)) == (401, "INVALID_CREDENTIALS")
    assert users_linked_to(app, "tom") == []

    # a cookie made for another provider
    browser = browser_cls(app.test_client())
    callback = browser.authorize(browser.start(), "tom")
    data = state_cookie.unseal(secret, browser.client.get_cookie("openid.google").value,
                               "google")
    browser.client.set_cookie("openid.google",
                              state_cookie.seal(secret, {**data, "provider": "other"}))
    status, _, body, _ = browser.get(callback)
    assert (status, error_code(body)) == (401, "INVALID_CREDENTIALS")

    # the genuine flow works, once: a replayed callback is refused by the provider
    browser = browser_cls(app.test_client())
    callback = browser.authorize(browser.start(), "tom")
    cookie = browser.client.get_cookie("openid.google").value
    status, _, body, _ = browser.get(callback)
    assert status == 200, body
    browser.client.set_cookie("openid.google", cookie)
    status, _, body, _ = browser.get(callback)
    assert (status, error_code(body)) == (401, "INVALID_CREDENTIALS")


@pytest.mark.backends("sqlite", "postgres", "mysql")
def test_sso_users_have_no_password_login(
        backend: str, make_app: Any, oidc_idp: Any, browser_cls: Any,
        admin_headers: dict[str, str]) -> None:
    app = make_app(oidc_idp.settings())
    client = app.test_client()
    oidc_idp.set_user("sam", email="sam@example.org")
    status, _, body, _ = browser_cls(app.test_client()).login("sam")
    assert status == 200, body
    [sam] = users_linked_to(app, "sam")
    assert_no_password_login(client, admin_headers, sam)

    # a local account with the email a new identity claims is not taken over
    assert client.post("/users", json={"email": "lena@example.org", "password": "Lena-123"},
                       headers=admin_headers).status_code == 200
    oidc_idp.set_user("lena-sso", email="lena@example.org")
    status, _, body, _ = browser_cls(app.test_client()).login("lena-sso")
    assert (status, error_code(body)) == (403, "INVALID_PROVIDER")
    assert users_linked_to(app, "lena-sso") == []

    # the token route is for password providers: the browser flow is the only way in
    resp = client.post("/auth/login/google", json={"code": "x"})
    assert (resp.status_code, error_code(resp.get_json())) == (400, "INVALID_PAYLOAD")
    assert client.get("/auth/login/nope").status_code == 404


@pytest.mark.backends("sqlite", "postgres", "mysql")
def test_live_login_started_and_finished_on_different_instances(
        backend: str, live_server: Any, oidc_idp: Any, browser_cls: Any) -> None:
    first = live_server(backend, workers=2, env=oidc_idp.settings())
    # same database and SECRET; its callback URL is the first one's (one PUBLIC_URL)
    second = live_server(workers=2, database=first,
                         env={**oidc_idp.settings(), "PUBLIC_URL": first.base_url})
    oidc_idp.set_user(f"liv-{backend}", email=f"liv-{backend}@example.org")
    ids = set()
    for start_on, finish_on in ((first, first), (first, second), (second, first)):
        browser = browser_cls(base_url=start_on.base_url)
        callback = browser.authorize(browser.start(), f"liv-{backend}")
        parts = urlsplit(callback)
        # the cookie is host-only: carry it to the other instance, as one origin would
        for cookie in list(browser.http.cookies):
            browser.http.cookies.set(cookie.name, cookie.value)
        target = urlunsplit(parts._replace(netloc=urlsplit(finish_on.base_url).netloc))
        status, _, body, _ = browser.get(target)
        assert status == 200, (body, finish_on.log_tail())
        status, me = first.call("GET", "/users/me", token=body["data"]["access_token"])
        assert status == 200, me
        ids.add(me["data"]["id"])
    assert len(ids) == 1
    status, user = first.call("GET", f"/users/{ids.pop()}?fields=provider,external_identifier")
    assert user["data"] == {"provider": "google", "external_identifier": f"liv-{backend}"}


@pytest.mark.backends("sqlite", "postgres", "mysql")
def test_oauth2_driver_and_cookie_mode(backend: str, make_app: Any, oidc_idp: Any,
                                       browser_cls: Any) -> None:
    """A plain OAuth2 provider (no ID token: the profile URL says who it is), answering the
    refresh token in the refresh cookie."""
    url = oidc_idp.url
    app = make_app({"AUTH_PROVIDERS": "github", "AUTH_GITHUB_DRIVER": "oauth2",
                    "AUTH_GITHUB_CLIENT_ID": "transom-test", "AUTH_GITHUB_CLIENT_SECRET": "x",
                    "AUTH_GITHUB_AUTHORIZE_URL": f"{url}/oauth2/authorize",
                    "AUTH_GITHUB_ACCESS_URL": f"{url}/oauth2/token",
                    "AUTH_GITHUB_PROFILE_URL": f"{url}/userinfo",
                    "AUTH_GITHUB_ALLOW_PUBLIC_REGISTRATION": "true",
                    "AUTH_GITHUB_MODE": "cookie",
                    "AUTH_GITHUB_REDIRECT_ALLOW_LIST": "https://app.example.com/"})
    oidc_idp.set_user("gus", email="gus@example.org")
    browser = browser_cls(app.test_client())
    location = browser.start("github", redirect="https://app.example.com/")
    assert "nonce" not in location
    status, headers, _, _ = browser.get(browser.authorize(location, "gus"))
    assert (status, headers["Location"]) == (302, "https://app.example.com/")
    [gus] = users_linked_to(app, "gus@example.org")  # IDENTIFIER_KEY defaults to email for oauth2
    assert (gus["provider"], gus["email"]) == ("github", "gus@example.org")
    refreshed = browser.client.post("/auth/refresh", json={"mode": "json"})
    assert refreshed.status_code == 200, refreshed.get_json()  # the refresh cookie's token


@pytest.mark.backends("sqlite")
def test_unreachable_provider_is_503(backend: str, make_app: Any) -> None:
    app = make_app({"AUTH_PROVIDERS": "down", "AUTH_DOWN_DRIVER": "openid",
                    "AUTH_DOWN_CLIENT_ID": "x",
                    "AUTH_DOWN_ISSUER_URL": f"http://127.0.0.1:{free_port()}"})
    resp = app.test_client().get("/auth/login/down")
    assert (resp.status_code, error_code(resp.get_json())) == (503, "SERVICE_UNAVAILABLE")


@pytest.mark.backends("sqlite")
def test_sync_user_info(backend: str, make_app: Any, oidc_idp: Any, browser_cls: Any) -> None:
    plain = make_app(oidc_idp.settings())
    synced = make_app(oidc_idp.settings(SYNC_USER_INFO="true"), bootstrap=False)
    oidc_idp.set_user("syd", email="syd@example.org", given_name="Syd")
    assert browser_cls(plain.test_client()).login("syd")[0] == 200
    oidc_idp.set_user("syd", email="syd@example.net", given_name="Sydney")
    assert browser_cls(plain.test_client()).login("syd")[0] == 200
    # kept without the setting
    assert users_linked_to(plain, "syd")[0]["email"] == "syd@example.org"
    assert browser_cls(synced.test_client()).login("syd")[0] == 200
    [syd] = users_linked_to(synced, "syd")
    assert (syd["email"], syd["first_name"]) == ("syd@example.net", "Sydney")


@pytest.mark.backends("sqlite", "postgres", "mysql")
def test_tfa_user_passes_the_code_through_the_flow(
        backend: str, make_app: Any, oidc_idp: Any, browser_cls: Any) -> None:
    """As Directus 11: an SSO user with TFA starts the flow with ``?otp=``; the code rides
    the signed state cookie and is checked when the callback logs them in."""
    app = make_app(oidc_idp.settings())
    sub = f"tfa-{backend}"
    oidc_idp.set_user(sub, email=f"{sub}@example.org")
    status, _, body, _ = browser_cls(app.test_client()).login(sub)
    assert status == 200, body
    secret = enable_tfa(app.test_client(), body["data"]["access_token"])

    def login(otp: str | None) -> tuple[int, Any]:
        browser = browser_cls(app.test_client())
        start = "/auth/login/google" + (f"?otp={otp}" if otp is not None else "")
        status, headers, body, _ = browser.get(start)
        assert status == 302, body
        status, _, body, _ = browser.get(browser.authorize(headers["Location"], sub))
        return status, body

    assert (lambda r: (r[0], error_code(r[1])))(login(None)) == (401, "INVALID_OTP")
    wrong = pyotp.TOTP(pyotp.random_base32()).now()
    assert (lambda r: (r[0], error_code(r[1])))(login(wrong)) == (401, "INVALID_OTP")
    status, body = login(pyotp.TOTP(secret).now())
    assert status == 200, body
    assert body["data"]["access_token"]
    # not a code at all: refused before the flow starts
    resp = app.test_client().get("/auth/login/google?otp=drop%20table")
    assert (resp.status_code, error_code(resp.get_json())) == (400, "INVALID_PAYLOAD")
