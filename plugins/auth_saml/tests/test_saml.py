"""SAML logins against a real IdP (pysaml2 over HTTP on 127.0.0.1, see conftest.py):
through the test client on every backend, and over HTTP against live servers with 2
workers, including a login started on one instance and finished on another and a replay
sent to both at once."""

from __future__ import annotations

import base64
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa
from saml2.md import entity_descriptor_from_string
from transom_auth_saml import relay

from transom.api import StartupError
from transom.testing.helpers import (
    assert_no_password_login,
    assert_tokens_work,
    error_code,
    named_role,
    users_linked_to,
)
from transom.testing.plugin import base_config

BACKENDS = ("sqlite", "postgres", "mysql")





def _used_assertions(app: Any) -> int:
    with app.extensions["transom"].connect() as conn:
        return conn.execute(sa.text("SELECT COUNT(*) FROM transom_saml_assertions")).scalar()


@pytest.mark.backends(*BACKENDS)
def test_login_creates_the_user_then_links_it(
        backend: str, make_app: Any, saml_idp: Any, browser_cls: Any,
        admin_headers: dict[str, str]) -> None:
    bootstrap = make_app()
    role = named_role(bootstrap.test_client(), admin_headers, "Members")
    app = make_app(saml_idp.settings(DEFAULT_ROLE_ID=role, LABEL="Corp", ICON="key"),
                   bootstrap=False)
    listed = app.test_client().get("/auth").get_json()["data"]
    assert {"name": "corp", "driver": "saml", "label": "Corp", "icon": "key"} in listed

    # the identity arrives mixed-case; Directus stores and matches it lower-cased
    status, _, body, _ = browser_cls(app.test_client()).login(user=f"Ann-{backend}")
    assert status == 200, body
    tokens = body["data"]
    assert set(tokens) == {"access_token", "refresh_token", "expires"}
    [ann] = users_linked_to(app, f"ann-{backend}")
    assert ann["email"] == f"ann-{backend}@example.org"
    assert (ann["role"], ann["provider"], ann["status"], ann["password"]) == \
        (role, "corp", "active", None)
    assert (ann["first_name"], ann["last_name"]) == (f"Ann-{backend}".title(), "Tester")
    assert_tokens_work(app.test_client(), tokens, ann["id"])

    status, _, body, _ = browser_cls(app.test_client()).login(user=f"ann-{backend}")
    assert status == 200, body
    assert [u["id"] for u in users_linked_to(app, f"ann-{backend}")] == [ann["id"]]
    assert _used_assertions(app) == 2


@pytest.mark.backends("sqlite")
def test_metadata_and_configured_sp_metadata(backend: str, make_app: Any, saml_idp: Any,
                                             browser_cls: Any) -> None:
    app = make_app(saml_idp.settings())
    resp = app.test_client().get("/auth/login/corp/metadata")
    assert resp.status_code == 200 and resp.mimetype == "text/xml"
    desc = entity_descriptor_from_string(resp.get_data(as_text=True))
    assert desc.entity_id == "http://localhost/auth/login/corp/metadata"
    assert desc.spsso_descriptor[0].want_assertions_signed == "true"
    [acs] = desc.spsso_descriptor[0].assertion_consumer_service
    assert (acs.location, acs.binding) == (
        "http://localhost/auth/login/corp/acs",
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")

    # metadata written by the operator: served as given, its entity ID is the audience
    sp_xml = (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        'entityID="urn:transom:test-sp"><md:SPSSODescriptor '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" '
        'WantAssertionsSigned="true"><md:AssertionConsumerService index="0" '
        'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        'Location="http://localhost/auth/login/corp/acs"/></md:SPSSODescriptor>'
        '</md:EntityDescriptor>')
    app = make_app(saml_idp.settings(SP_metadata=sp_xml), bootstrap=False)
    assert app.test_client().get("/auth/login/corp/metadata").get_data(as_text=True) == sp_xml
    status, _, body, _ = browser_cls(app.test_client()).login(user="meta")
    assert status == 200, body
    # an assertion for the generated entity ID is for another audience here
    status, _, body, _ = browser_cls(app.test_client()).login(
        user="meta", audience="http://localhost/auth/login/corp/metadata")
    assert (status, error_code(body)) == (401, "INVALID_CREDENTIALS")


@pytest.mark.backends(*BACKENDS)
def test_bad_responses_are_refused(backend: str, make_app: Any, saml_idp: Any,
                                   browser_cls: Any) -> None:
    """Unsigned, signed with another key or with SHA-1, another audience, expired,
    answering another request, sent to another ACS, altered after signing: 401, nobody
    created, and the assertion is not recorded as used."""
    app = make_app(saml_idp.settings())
    cases = {
        "unsigned": {"sign": "none"},
        "forged": {"key": "rogue"},
        "audience": {"audience": "https://other-sp.example.com/metadata"},
        "expired": {"expired": "1"},
        "unsolicited": {"in_response_to": "id-0123456789abcdef"},
        "destination": {"destination": "https://other-sp.example.com/acs"},
        "sha1": {"alg": "sha1"},
        "sha1 response": {"alg": "sha1", "sign": "response"},
    }
    for case, knobs in cases.items():
        status, _, body, _ = browser_cls(app.test_client()).login(user=f"bad-{case}",
                                                                  **knobs)
        assert status == 401 and error_code(body) == "INVALID_CREDENTIALS", (case, body)
        assert users_linked_to(app, f"bad-{case}") == [], case

    # an attribute changed after the IdP signed the assertion
    browser = browser_cls(app.test_client())
    posted = browser.at_idp(browser.start(), user="mallory")
    xml = base64.b64decode(posted.fields["SAMLResponse"]).decode()
    assert "mallory@example.org" in xml
    altered = base64.b64encode(xml.replace("mallory@example.org", "boss@example.org")
                               .encode()).decode()
    status, _, body, _ = browser.post_form(posted.action, {**posted.fields,
                                                           "SAMLResponse": altered})
    assert (status, error_code(body)) == (401, "INVALID_CREDENTIALS")
    # not base64, not XML, missing
    for junk in ("%%%", base64.b64encode(b"<nope/>").decode()):
        status, _, body, _ = browser.post_form(posted.action, {**posted.fields,
                                                               "SAMLResponse": junk})
        assert (status, error_code(body)) == (401, "INVALID_CREDENTIALS"), junk
    status, _, body, _ = browser.post_form(posted.action,
                                           {"RelayState": posted.fields["RelayState"]})
    assert (status, error_code(body)) == (400, "INVALID_PAYLOAD")
    assert users_linked_to(app, "mallory") == [] and _used_assertions(app) == 0

    # the genuine one still works, signed on the assertion, the response, or both
    for sign in ("assertion", "response", "both"):
        status, _, body, _ = browser_cls(app.test_client()).login(user=f"ok-{sign}",
                                                                  sign=sign)
        assert status == 200, (sign, body)
        assert len(users_linked_to(app, f"ok-{sign}")) == 1


@pytest.mark.backends(*BACKENDS)
def test_replayed_response_is_refused(backend: str, make_app: Any, saml_idp: Any,
                                      browser_cls: Any, admin_headers: dict[str, str]) -> None:
    app = make_app(saml_idp.settings())
    other = make_app(saml_idp.settings(), bootstrap=False)  # another process, same database
    browser = browser_cls(app.test_client())
    posted = browser.at_idp(browser.start(), user="rex")
    status, _, body, _ = browser.post_form(posted.action, posted.fields)
    assert status == 200, body
    for client in (app.test_client(), other.test_client()):
        status, _, body, _ = browser_cls(client).post_form(posted.action, posted.fields)
        assert (status, error_code(body)) == (401, "INVALID_CREDENTIALS")
    assert _used_assertions(app) == 1
    # the plugin's table is not content
    resp = app.test_client().get("/items/transom_saml_assertions", headers=admin_headers)
    assert resp.status_code == 403, resp.get_json()


@pytest.mark.backends("sqlite")
def test_relay_state_is_checked(backend: str, make_app: Any, saml_idp: Any,
                                browser_cls: Any) -> None:
    app = make_app(saml_idp.settings())
    secret = base_config(sa.make_url("sqlite://"))["SECRET"]
    browser = browser_cls(app.test_client())
    posted = browser.at_idp(browser.start(), user="rita")
    request_id, target = relay.unseal(secret, posted.fields["RelayState"], "corp")
    assert target is None and request_id.startswith("id-")
    body_part, sig = posted.fields["RelayState"].split(".")
    forged = {
        "missing": None,
        "altered": body_part[:-2] + "AA." + sig,
        "other provider": relay.seal(secret, "other", request_id, None),
        "expired": relay.seal(secret, "corp", request_id, None, ttl_s=-1),
        # a genuine RelayState of another login: the response does not answer its request
        "other request": relay.seal(secret, "corp", "id-ffffffffffffffff", None),
    }
    for case, value in forged.items():
        fields = dict(posted.fields)
        if value is None:
            del fields["RelayState"]
        else:
            fields["RelayState"] = value
        status, _, body, _ = browser.post_form(posted.action, fields)
        assert (status, error_code(body)) == (401, "INVALID_CREDENTIALS"), case
    assert users_linked_to(app, "rita") == []
    status, _, body, _ = browser.post_form(posted.action, posted.fields)
    assert status == 200, body


@pytest.mark.backends(*BACKENDS)
def test_redirect_allow_list_and_cookies(backend: str, make_app: Any, saml_idp: Any,
                                         browser_cls: Any) -> None:
    app = make_app(saml_idp.settings(REDIRECT_ALLOW_LIST="https://app.example.com/after"))
    client = app.test_client()
    for target in ("https://evil.example.com/after", "//evil.example.com/x",
                   "https://app.example.com/other", "javascript:alert(1)"):
        resp = client.get("/auth/login/corp", query_string={"redirect": target})
        assert resp.status_code == 400, target
        assert error_code(resp.get_json()) == "INVALID_PAYLOAD"
    # a path on this server needs no listing
    assert client.get("/auth/login/corp",
                      query_string={"redirect": "/admin/content"}).status_code == 302

    browser = browser_cls(app.test_client())
    status, headers, _, _ = browser.login(redirect="https://app.example.com/after", user="sid")
    assert (status, headers["Location"]) == (302, "https://app.example.com/after")
    me = browser.client.get("/users/me")  # the session cookie the redirect set
    assert me.status_code == 200, me.get_json()
    assert me.get_json()["data"]["id"] == users_linked_to(app, "sid")[0]["id"]

    # logout ends that session and clears the cookie
    resp = browser.client.post("/auth/login/corp/logout")
    assert resp.status_code == 204
    assert browser.client.get("/users/me").status_code in (401, 403)
    resp = browser.client.post("/auth/login/corp/logout",
                               query_string={"redirect": "https://evil.example.com/"})
    assert resp.status_code == 400

    # a refusal goes back to the app as ?reason=, Directus-style
    status, headers, _, _ = browser_cls(app.test_client()).login(
        redirect="https://app.example.com/after", user="sid", sign="none")
    assert (status, headers["Location"]) == \
        (302, "https://app.example.com/after?reason=INVALID_CREDENTIALS")

    # MODE=cookie: the refresh token in the refresh cookie
    app = make_app(saml_idp.settings(MODE="cookie", REDIRECT_ALLOW_LIST="https://app.example.com/"),
                   bootstrap=False)
    browser = browser_cls(app.test_client())
    status, headers, _, _ = browser.login(redirect="https://app.example.com/", user="sid")
    assert (status, headers["Location"]) == (302, "https://app.example.com/")
    refreshed = browser.client.post("/auth/refresh", json={"mode": "json"})
    assert refreshed.status_code == 200, refreshed.get_json()
    token = refreshed.get_json()["data"]["refresh_token"]
    # logout ends the refresh cookie's session: its successor is refused too
    assert browser.client.post("/auth/login/corp/logout").status_code == 204
    again = browser.client.post("/auth/refresh", json={"refresh_token": token, "mode": "json"})
    assert again.status_code == 401, again.get_json()


@pytest.mark.backends(*BACKENDS)
def test_registration_closed_and_accounts_of_other_providers(
        backend: str, make_app: Any, saml_idp: Any, browser_cls: Any,
        admin_headers: dict[str, str]) -> None:
    app = make_app(saml_idp.settings(ALLOW_PUBLIC_REGISTRATION="false",
                                     REDIRECT_ALLOW_LIST="https://app.example.com/done"))
    status, _, body, _ = browser_cls(app.test_client()).login(user="stranger")
    assert (status, error_code(body)) == (401, "INVALID_CREDENTIALS")
    status, headers, _, _ = browser_cls(app.test_client()).login(
        redirect="https://app.example.com/done", user="stranger")
    assert (status, headers["Location"]) == \
        (302, "https://app.example.com/done?reason=INVALID_CREDENTIALS")
    assert users_linked_to(app, "stranger") == []

    app = make_app(saml_idp.settings(), bootstrap=False)
    client = app.test_client()
    # a local account with the email a new identity claims is not taken over
    assert client.post("/users", json={"email": "lena@example.org", "password": "Lena-123"},
                       headers=admin_headers).status_code == 200
    status, _, body, _ = browser_cls(app.test_client()).login(user="lena")
    assert (status, error_code(body)) == (403, "INVALID_PROVIDER")
    assert users_linked_to(app, "lena") == []

    # SSO users have no password login
    assert browser_cls(app.test_client()).login(user="sam")[0] == 200
    [sam] = users_linked_to(app, "sam")
    assert_no_password_login(client, admin_headers, sam)

    # the token route is not a way in; unknown providers are 404
    resp = client.post("/auth/login/corp", json={"SAMLResponse": "x"})
    assert (resp.status_code, error_code(resp.get_json())) == (400, "INVALID_PAYLOAD")
    assert client.get("/auth/login/nope").status_code == 404
    assert client.post("/auth/login/nope/acs").status_code == 404


@pytest.mark.backends("sqlite")
def test_attribute_keys_and_name_id(backend: str, make_app: Any, saml_idp: Any,
                                    browser_cls: Any) -> None:
    """``*_KEY`` name the attributes; ``nameID`` is the subject's NameID; an assertion
    without the identifier attribute proves nobody."""
    app = make_app(saml_idp.settings(IDENTIFIER_KEY="nameID", EMAIL_KEY="mail",
                                     GIVEN_NAME_KEY="givenName", FAMILY_NAME_KEY="sn"))
    attrs = '{"mail": ["Kim@Example.org"], "givenName": ["Kim"], "sn": ["Lee"]}'
    status, _, body, _ = browser_cls(app.test_client()).login(user="kim", attributes=attrs)
    assert status == 200, body
    [kim] = users_linked_to(app, "nid-kim")
    assert (kim["email"], kim["first_name"], kim["last_name"]) == \
        ("kim@example.org", "Kim", "Lee")

    app = make_app(saml_idp.settings(IDENTIFIER_KEY="uid"), bootstrap=False)
    status, _, body, _ = browser_cls(app.test_client()).login(user="kim", attributes=attrs)
    assert (status, error_code(body)) == (401, "INVALID_CREDENTIALS")


@pytest.mark.backends("sqlite")
def test_bad_settings_stop_the_start(backend: str, make_app: Any, saml_idp: Any) -> None:
    bad = {
        "no IdP metadata": {"AUTH_PROVIDERS": "corp", "AUTH_CORP_DRIVER": "saml"},
        "not metadata": saml_idp.settings(IDP_metadata="<nope/>"),
        "unsupported key": saml_idp.settings(SP_privateKey="-----BEGIN..."),
        "bad mode": saml_idp.settings(MODE="json"),
        "bad SP metadata": saml_idp.settings(SP_metadata="<md:EntityDescriptor/>"),
    }
    for case, config in bad.items():
        with pytest.raises(StartupError) as info:
            make_app(config, bootstrap=False)
        assert "AUTH_CORP_" in str(info.value), case


@pytest.mark.backends(*BACKENDS)
def test_live_login_on_several_workers_and_instances(
        backend: str, live_server: Any, saml_idp: Any, browser_cls: Any) -> None:
    first = live_server(backend, workers=2, env=saml_idp.settings())
    # same database and SECRET; its entity ID and ACS are the first one's (one PUBLIC_URL)
    second = live_server(workers=2, database=first,
                         env={**saml_idp.settings(), "PUBLIC_URL": first.base_url})
    status, meta = first.call("GET", "/auth")
    assert {"name": "corp", "driver": "saml"} in meta["data"], meta

    def to(server: Any, url: str) -> str:
        return urlunsplit(urlsplit(url)._replace(netloc=urlsplit(server.base_url).netloc))

    ids = set()
    for finish_on in (first, second, first, second):
        browser = browser_cls(base_url=first.base_url)
        posted = browser.at_idp(browser.start(), user=f"Liv-{backend}")
        assert posted.action == f"{first.base_url}/auth/login/corp/acs"
        status, _, body, _ = browser.post_form(to(finish_on, posted.action), posted.fields)
        assert status == 200, (body, finish_on.log_tail())
        status, me = first.call("GET", "/users/me", token=body["data"]["access_token"])
        assert status == 200, me
        ids.add(me["data"]["id"])
    assert len(ids) == 1
    status, user = first.call("GET", f"/users/{ids.pop()}?fields=provider,external_identifier")
    assert user["data"] == {"provider": "corp", "external_identifier": f"liv-{backend}"}

    # one response posted to both instances at once: exactly one login
    browser = browser_cls(base_url=first.base_url)
    posted = browser.at_idp(browser.start(), user=f"Liv-{backend}")
    results: list[int] = []
    barrier = threading.Barrier(4)

    def post(server: Any) -> None:
        barrier.wait()
        results.append(browser_cls(base_url=server.base_url).post_form(
            to(server, posted.action), posted.fields)[0])

    threads = [threading.Thread(target=post, args=(s,)) for s in (first, second) * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == [200, 401, 401, 401], (results, first.log_tail())


@pytest.mark.backends("sqlite")
def test_beside_an_oauth2_provider(backend: str, make_app: Any, saml_idp: Any,
                                   browser_cls: Any) -> None:
    """Both plugins answer ``GET /auth/login/<name>``: each name reaches its own driver."""
    settings = saml_idp.settings()
    app = make_app({**settings, "AUTH_PROVIDERS": "gh,corp", "AUTH_GH_DRIVER": "oauth2",
                    "AUTH_GH_CLIENT_ID": "x",
                    "AUTH_GH_AUTHORIZE_URL": "https://gh.example.com/authorize",
                    "AUTH_GH_ACCESS_URL": "https://gh.example.com/token",
                    "AUTH_GH_PROFILE_URL": "https://gh.example.com/user"})
    client = app.test_client()
    drivers = {p["name"]: p["driver"] for p in client.get("/auth").get_json()["data"]}
    assert drivers == {"gh": "oauth2", "corp": "saml"}
    resp = client.get("/auth/login/gh")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("https://gh.example.com/authorize?")
    assert browser_cls(app.test_client()).login(user="both")[0] == 200
    assert client.get("/auth/login/gh/metadata").status_code == 404
