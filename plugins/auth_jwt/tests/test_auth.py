"""transom-auth-jwt end to end, on every backend: logins, tokens, sessions, resets."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import jwt
import pyotp
import pytest
import sqlalchemy as sa

from transom import hookimpl
from transom.auth.passwords import hash_password
from transom.auth.providers import AuthProvider, find_user
from transom.errors import ForbiddenError, InvalidCredentialsError, InvalidPayloadError
from transom.events import Filter, Listener
from transom.system.tables import system_metadata
from transom.testing.plugin import ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_TOKEN

SECRET = "test-secret-0123456789-0123456789-abcdef"  # what transom.testing configures


# -- helpers ------------------------------------------------------------------------------------
def cms_of(app: Any) -> Any:
    return app.extensions["transom"]


def login(client: Any, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD,
          path: str = "/auth/login", **extra: Any) -> Any:
    return client.post(path, json={"email": email, "password": password, **extra})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def whoami(client: Any, token: str | None = None) -> Any:
    return client.get("/test/whoami", headers=bearer(token) if token else {})


def add_user(app: Any, email: str, password: str = "Password123", status: str = "active",
             role: str | None = None, provider: str = "default") -> str:
    user_id = str(uuid.uuid4())
    users = sa.table("directus_users", *(sa.column(c) for c in (
        "id", "email", "password", "status", "role", "provider")))
    with cms_of(app).begin() as conn:
        conn.execute(users.insert().values(id=user_id, email=email,
                                           password=hash_password(password), status=status,
                                           role=role, provider=provider))
    return user_id


def set_user(app: Any, email: str, **values: Any) -> None:
    users = sa.table("directus_users", sa.column("email"), *(sa.column(c) for c in values))
    with cms_of(app).begin() as conn:
        conn.execute(users.update().where(users.c.email == email).values(**values))
    cms_of(app).access.invalidate()


def user_row(app: Any, email: str) -> dict[str, Any]:
    user = find_user(cms_of(app), email=email)
    assert user is not None
    return user


def session_count(app: Any) -> int:
    with cms_of(app).connect() as conn:
        return conn.execute(sa.text("SELECT COUNT(*) FROM directus_sessions")).scalar_one()


def error(resp: Any) -> tuple[int, str, str]:
    body = resp.get_json()["errors"][0]
    return resp.status_code, body["extensions"]["code"], body["message"]


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def set_cookie_headers(resp: Any, name: str) -> list[str]:
    return [h for h in resp.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]


# -- login ----------------------------------------------------------------------------------------
def test_login_json_mode_shape_and_claims(app: Any, client: Any) -> None:
    resp = login(client)
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert set(data) == {"access_token", "refresh_token", "expires"}
    assert data["expires"] == 900_000
    assert len(data["refresh_token"]) == 64
    assert jwt.get_unverified_header(data["access_token"])["alg"] == "HS256"
    claims = jwt.decode(data["access_token"], SECRET, algorithms=["HS256"], issuer="directus")
    admin = user_row(app, ADMIN_EMAIL)
    assert claims["id"] == admin["id"] and claims["role"] == admin["role"]
    assert claims["admin_access"] is True and claims["app_access"] is True
    assert "session" not in claims
    assert claims["exp"] - claims["iat"] == 900
    assert not set_cookie_headers(resp, "directus_refresh_token")

    me = whoami(client, data["access_token"]).get_json()["data"]
    assert me["user"] == admin["id"] and me["admin"] is True and me["session"] is None
    info = client.get("/server/info", headers=bearer(data["access_token"])).get_json()
    assert "version" in info["data"]
    assert "version" not in client.get("/server/info").get_json()["data"]


def test_login_cookie_mode(client: Any) -> None:
    resp = login(client, mode="cookie")
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert set(data) == {"access_token", "expires"}
    (cookie,) = set_cookie_headers(resp, "directus_refresh_token")
    assert "HttpOnly" in cookie and "Path=/" in cookie and "SameSite=Lax" in cookie
    assert "Max-Age=604800" in cookie and "Secure" not in cookie
    assert whoami(client, data["access_token"]).get_json()["data"]["admin"] is True


def test_login_session_mode(app: Any, client: Any) -> None:
    resp = login(client, mode="session")
    assert resp.status_code == 200
    assert resp.get_json() == {"data": {"expires": 86_400_000}}
    (cookie,) = set_cookie_headers(resp, "directus_session_token")
    assert "HttpOnly" in cookie and "Max-Age=86400" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    claims = claims_of(token)
    assert claims["session"] and claims["exp"] - claims["iat"] == 86_400
    # The test client sends the cookie back: the session cookie alone authenticates.
    me = whoami(client).get_json()["data"]
    assert me["user"] == claims["id"] and me["session"] == claims["session"]


def test_email_is_case_insensitive_and_last_access_recorded(app: Any, client: Any) -> None:
    assert login(client, email=ADMIN_EMAIL.upper()).status_code == 200
    with cms_of(app).connect() as conn:
        last = conn.execute(sa.text("SELECT last_access FROM directus_users WHERE email = :e"),
                            {"e": ADMIN_EMAIL}).scalar_one()
    assert last is not None


def test_missing_and_malformed_fields(client: Any) -> None:
    resp = client.post("/auth/login", json={"email": ADMIN_EMAIL})
    assert resp.status_code == 400
    assert resp.get_json() == {"errors": [{
        "message": 'Invalid payload. "password" is required.',
        "extensions": {"reason": '"password" is required', "code": "INVALID_PAYLOAD"},
    }]}
    assert error(client.post("/auth/login", json={"password": "x"}))[2] == \
        'Invalid payload. "email" is required.'
    assert error(login(client, mode="bogus"))[2] == \
        'Invalid payload. "mode" must be one of [cookie, json, session].'
    assert error(login(client, email="not-an-email"))[2] == \
        'Invalid payload. "email" must be a valid email.'
    assert error(client.post("/auth/login", json=[1]))[1] == "INVALID_PAYLOAD"
    assert error(client.post("/auth/login", data="{", content_type="application/json"))[1] \
        == "INVALID_PAYLOAD"


def test_bad_credentials_answer_identically(client: Any) -> None:
    expected = {"errors": [{"message": "Invalid user credentials.",
                            "extensions": {"code": "INVALID_CREDENTIALS"}}]}
    wrong = login(client, password="nope")
    unknown = login(client, email="nobody@example.com", password="nope")
    for resp in (wrong, unknown):
        assert resp.status_code == 401 and resp.get_json() == expected


@pytest.mark.parametrize("status", ["suspended", "invited", "draft", "archived"])
@pytest.mark.backends("sqlite")
def test_inactive_users_cannot_log_in(app: Any, client: Any, status: str) -> None:
    add_user(app, "someone@example.com", status=status)
    resp = login(client, "someone@example.com", "Password123")
    code = "USER_SUSPENDED" if status == "suspended" else "INVALID_CREDENTIALS"
    assert error(resp)[:2] == (401, code)


def test_login_stall_hides_what_failed(auth_app: Callable[..., Any]) -> None:
    client = auth_app(LOGIN_STALL_TIME="200").test_client()
    for email, password in ((ADMIN_EMAIL, "wrong"), ("nobody@example.com", "wrong")):
        started = time.monotonic()
        assert login(client, email, password).status_code == 401
        assert time.monotonic() - started >= 0.2


# -- tokens ---------------------------------------------------------------------------------------
def test_expired_tokens(auth_app: Callable[..., Any]) -> None:
    app = auth_app(ACCESS_TOKEN_TTL="1ms")
    client = app.test_client()
    token = login(client).get_json()["data"]["access_token"]
    time.sleep(0.01)
    assert error(whoami(client, token)) == (401, "TOKEN_EXPIRED", "Token expired.")
    # A token signed like Directus's, long expired (sample 20).
    now = int(time.time())
    old = jwt.encode({**claims_of(token), "iat": now - 100, "exp": now - 10}, SECRET,
                     algorithm="HS256")
    assert error(whoami(client, old)) == (401, "TOKEN_EXPIRED", "Token expired.")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_forged_tokens_are_invalid(client: Any) -> None:
    token = login(client).get_json()["data"]["access_token"]
    claims = claims_of(token)
    header, _payload, signature = token.split(".")
    forged = {
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.",
        "HS512": jwt.encode(claims, SECRET, algorithm="HS512"),
        "other secret": jwt.encode(claims, "another-secret-" * 4, algorithm="HS256"),
        "tampered": f"{header}.{b64({**claims, 'role': None, 'exp': claims['exp'] + 9})}."
                    f"{signature}",
        "bad signature": f"{header}.{_payload}.{signature[::-1]}",
    }
    for name, bad in forged.items():
        assert error(whoami(client, bad)) == (403, "INVALID_TOKEN", "Invalid token."), name


DIRECTUS_CLAIMS = {"id", "role", "app_access", "admin_access", "iat", "exp", "iss"}


def test_tokens_carry_exactly_directus_claims(client: Any) -> None:
    """flask-jwt-extended checks the tokens, but they stay Directus's: no jti/type/fresh/nbf."""
    data = login(client).get_json()["data"]
    refreshed = client.post("/auth/refresh", json={"refresh_token": data["refresh_token"]})
    for token in (data["access_token"], refreshed.get_json()["data"]["access_token"]):
        assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
        claims = claims_of(token)
        assert set(claims) == DIRECTUS_CLAIMS and claims["iss"] == "directus"
        assert all(isinstance(claims[k], int) for k in ("iat", "exp"))
    resp = login(client, mode="session")
    token = set_cookie_headers(resp, "directus_session_token")[0].split(";")[0].split("=", 1)[1]
    assert set(claims_of(token)) == DIRECTUS_CLAIMS | {"session"}


def test_verified_claims_travel_with_the_caller(client: Any) -> None:
    token = login(client).get_json()["data"]["access_token"]
    me = whoami(client, token).get_json()["data"]
    assert me["claims"] == claims_of(token) == me["request_claims"]
    # Static tokens carry no JWT claims.
    static = whoami(client, ADMIN_TOKEN).get_json()["data"]
    assert static["claims"] is None and static["request_claims"] is None


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_more_forged_tokens_are_invalid(app: Any, client: Any) -> None:
    token = login(client).get_json()["data"]["access_token"]
    claims = claims_of(token)
    header, payload, signature = token.split(".")
    no_exp = {k: v for k, v in claims.items() if k != "exp"}
    forged = {
        "no exp": jwt.encode(no_exp, SECRET, algorithm="HS256"),
        "HS384": jwt.encode(claims, SECRET, algorithm="HS384"),
        "header says HS512": f"{b64({'alg': 'HS512', 'typ': 'JWT'})}.{payload}.{signature}",
        "alg none, no signature": f"{b64({'alg': 'none'})}.{payload}.",
        "mangled signature": f"{header}.{payload}.!!not-base64!!",
        "one-byte secret": jwt.encode(claims, "x", algorithm="HS256"),
    }
    for name, bad in forged.items():
        assert error(whoami(client, bad)) == (403, "INVALID_TOKEN", "Invalid token."), name
    # A payload that does not decode is not recognisably ours: on to the static tokens.
    assert error(whoami(client, f"{header}.{payload}x.{signature}"))[:2] == \
        (401, "INVALID_CREDENTIALS")
    # Expiry is checked before anything else is trusted, even on a token without a user.
    now = int(time.time())
    expired = jwt.encode({"iss": "directus", "iat": now - 20, "exp": now - 10}, SECRET,
                         algorithm="HS256")
    assert error(whoami(client, expired)) == (401, "TOKEN_EXPIRED", "Token expired.")
    # A genuine password-reset link is not an access token.
    reset = jwt.encode({"id": claims["id"], "email": ADMIN_EMAIL, "scope": "password-reset",
                        "iss": "directus", "iat": now, "exp": now + 60},
                       f"{SECRET}:{'0' * 64}", algorithm="HS256")
    assert error(whoami(client, reset))[:2] == (403, "INVALID_TOKEN")


@pytest.mark.backends("sqlite")
def test_reset_link_is_not_an_access_token(auth_app: Callable[..., Any]) -> None:
    app = auth_app()
    client = app.test_client()
    client.post("/auth/password/request", json={"email": ADMIN_EMAIL})
    token = re.search(r"token=([\w.-]+)", _mail(app)[-1].text).group(1)
    assert error(whoami(client, token))[:2] == (403, "INVALID_TOKEN")
    assert client.post("/auth/password/reset",
                       json={"token": token, "password": "NewPassword456"}).status_code == 204


def test_expired_reset_link(auth_app: Callable[..., Any]) -> None:
    app = auth_app(PASSWORD_RESET_TOKEN_TTL="1ms")
    client = app.test_client()
    client.post("/auth/password/request", json={"email": ADMIN_EMAIL})
    token = re.search(r"token=([\w.-]+)", _mail(app)[-1].text).group(1)
    time.sleep(1.1)  # whole seconds in exp
    resp = client.post("/auth/password/reset", json={"token": token, "password": "x" * 12})
    assert error(resp) == (401, "TOKEN_EXPIRED", "Token expired.")


def test_session_refresh_with_an_expired_session_jwt(app: Any, client: Any) -> None:
    """In session mode the cookie's signature is checked but not its expiry: the row rules."""
    resp = login(client, mode="session")
    token = set_cookie_headers(resp, "directus_session_token")[0].split(";")[0].split("=", 1)[1]
    now = int(time.time())
    stale = jwt.encode({**claims_of(token), "iat": now - 100, "exp": now - 10}, SECRET,
                       algorithm="HS256")
    client.set_cookie("directus_session_token", stale)
    assert error(whoami(client))[:2] == (401, "TOKEN_EXPIRED")
    client.set_cookie("directus_session_token", stale)  # that answer cleared the cookie
    refreshed = client.post("/auth/refresh", json={"mode": "session"})
    assert refreshed.status_code == 200
    assert whoami(client).get_json()["data"]["session"]
    # A forged cookie is refused, expired or not.
    forged = jwt.encode({**claims_of(token), "exp": now - 10}, "another-secret-" * 4,
                        algorithm="HS256")
    client.set_cookie("directus_session_token", forged)
    assert error(client.post("/auth/refresh", json={"mode": "session"}))[:2] == \
        (403, "INVALID_TOKEN")


@pytest.mark.backends("sqlite")
def test_library_errors_keep_directus_envelope(app: Any) -> None:
    """The JWTManager's error handlers answer in Directus's envelope, should a token error of
    flask-jwt-extended ever escape to Flask (a route calling ``decode_token`` unguarded)."""
    from flask_jwt_extended import decode_token
    from flask_jwt_extended.exceptions import NoAuthorizationError

    now = int(time.time())
    expired = jwt.encode({"iss": "directus", "iat": now - 20, "exp": now - 10}, SECRET,
                         algorithm="HS256")

    def missing() -> None:
        raise NoAuthorizationError("Missing Authorization Header")

    calls = {"expired": lambda: decode_token(expired), "decode": lambda: decode_token("x.y.z"),
             "missing": missing}

    @app.get("/test/raise/<name>")
    def _raise(name: str) -> Any:
        calls[name]()
        return "unreachable"

    client = app.test_client()
    assert error(client.get("/test/raise/expired")) == (401, "TOKEN_EXPIRED", "Token expired.")
    assert error(client.get("/test/raise/decode")) == (403, "INVALID_TOKEN", "Invalid token.")
    assert error(client.get("/test/raise/missing"))[:2] == (401, "INVALID_CREDENTIALS")


def test_token_transport_rules(client: Any) -> None:
    token = login(client).get_json()["data"]["access_token"]
    assert whoami(client, token).status_code == 200
    assert client.get(f"/test/whoami?access_token={token}").get_json()["data"]["admin"]
    both = client.get(f"/test/whoami?access_token={token}", headers=bearer(token))
    assert error(both)[:2] == (400, "INVALID_PAYLOAD")
    assert error(whoami(client, "not-a-valid-token"))[:2] == (401, "INVALID_CREDENTIALS")
    # JWT-shaped but not issued by Directus: treated as a static token, unknown.
    foreign = jwt.encode({"sub": "x", "iss": "elsewhere"}, SECRET, algorithm="HS256")
    assert error(whoami(client, foreign))[:2] == (401, "INVALID_CREDENTIALS")
    # Static tokens still work beside JWTs.
    assert whoami(client, ADMIN_TOKEN).get_json()["data"]["admin"] is True


def test_changing_secret_invalidates_tokens(auth_app: Callable[..., Any]) -> None:
    first = auth_app().test_client()
    token = login(first).get_json()["data"]["access_token"]
    assert whoami(first, token).status_code == 200
    other = auth_app(SECRET="a-completely-different-secret-0123456789").test_client()
    assert error(whoami(other, token))[:2] == (403, "INVALID_TOKEN")


@pytest.mark.backends("sqlite")
def test_random_secret_when_unset(auth_app: Callable[..., Any],
                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="transom.auth"):
        app = auth_app(SECRET=None)
    assert any("SECRET is not set" in r.message for r in caplog.records)
    client = app.test_client()
    token = login(client).get_json()["data"]["access_token"]
    assert whoami(client, token).get_json()["data"]["admin"] is True
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, SECRET, algorithms=["HS256"])


def test_suspended_user_token_stops_at_once(app: Any, client: Any) -> None:
    add_user(app, "editor@example.com")
    data = login(client, "editor@example.com", "Password123").get_json()["data"]
    me = whoami(client, data["access_token"]).get_json()["data"]
    assert me["admin"] is False and me["user"]
    set_user(app, "editor@example.com", status="suspended")
    assert error(whoami(client, data["access_token"]))[:2] == (401, "USER_SUSPENDED")
    refreshed = client.post("/auth/refresh", json={"refresh_token": data["refresh_token"]})
    assert error(refreshed)[:2] == (401, "USER_SUSPENDED")
    set_user(app, "editor@example.com", status="active")
    # The refused refresh ended that session for good.
    again = client.post("/auth/refresh", json={"refresh_token": data["refresh_token"]})
    assert error(again)[:2] == (401, "INVALID_CREDENTIALS")


# -- refresh and logout ---------------------------------------------------------------------------
def test_refresh_rotation_json(auth_app: Callable[..., Any]) -> None:
    client = auth_app().test_client()
    first = login(client).get_json()["data"]
    resp = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert resp.status_code == 200
    second = resp.get_json()["data"]
    assert set(second) == {"access_token", "refresh_token", "expires"}
    assert second["refresh_token"] != first["refresh_token"]
    assert whoami(client, second["access_token"]).get_json()["data"]["admin"] is True
    # Inside the grace period the old token gives the same successor (concurrent refresh).
    again = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 200
    assert again.get_json()["data"]["refresh_token"] == second["refresh_token"]
    # The successor rotates normally.
    third = client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert third.status_code == 200
    assert third.get_json()["data"]["refresh_token"] not in (first["refresh_token"],
                                                             second["refresh_token"])


def test_concurrent_refreshes_share_the_successor(app: Any) -> None:
    token = login(app.test_client()).get_json()["data"]["refresh_token"]
    barrier = threading.Barrier(4)
    answers: list[Any] = []

    def refresh() -> None:
        client = app.test_client()
        barrier.wait()
        resp = client.post("/auth/refresh", json={"refresh_token": token})
        answers.append((resp.status_code, resp.get_json()))

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [status for status, _ in answers] == [200] * 4, answers
    assert len({body["data"]["refresh_token"] for _, body in answers}) == 1
    assert session_count(app) == 2  # the rotated row (in its grace period) and its successor


def test_old_refresh_token_refused_after_grace(auth_app: Callable[..., Any]) -> None:
    client = auth_app(SESSION_REFRESH_GRACE_PERIOD="0").test_client()
    first = login(client).get_json()["data"]
    second = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    time.sleep(1.1)  # MySQL keeps whole seconds (and may round up)
    reused = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert error(reused) == (401, "INVALID_CREDENTIALS", "Invalid user credentials.")
    new = second.get_json()["data"]["refresh_token"]
    assert client.post("/auth/refresh", json={"refresh_token": new}).status_code == 200


def test_refresh_cookie_mode(client: Any) -> None:
    first = login(client, mode="cookie")
    old_cookie = set_cookie_headers(first, "directus_refresh_token")[0]
    resp = client.post("/auth/refresh")  # no body: cookie mode, cookie sent by the client
    assert resp.status_code == 200
    assert set(resp.get_json()["data"]) == {"access_token", "expires"}
    (new_cookie,) = set_cookie_headers(resp, "directus_refresh_token")
    assert new_cookie.split(";")[0] != old_cookie.split(";")[0]


def test_refresh_session_mode(app: Any, client: Any) -> None:
    login(client, mode="session")
    before = whoami(client).get_json()["data"]["session"]
    resp = client.post("/auth/refresh", json={"mode": "session"})
    assert resp.status_code == 200 and set(resp.get_json()["data"]) == {"expires"}
    assert set_cookie_headers(resp, "directus_session_token")
    after = whoami(client).get_json()["data"]
    assert after["session"] and after["session"] != before and after["admin"] is True


def test_refresh_needs_a_token(client: Any) -> None:
    resp = client.post("/auth/refresh", json={})
    assert error(resp) == (400, "INVALID_PAYLOAD", "Invalid payload. The refresh token is "
                                                   "required in either the payload or cookie.")
    assert error(client.post("/auth/refresh", json={"refresh_token": "nope"}))[:2] == \
        (401, "INVALID_CREDENTIALS")


def test_expired_session_refused(app: Any, client: Any) -> None:
    data = login(client).get_json()["data"]
    sessions = system_metadata().tables["directus_sessions"]
    with cms_of(app).begin() as conn:
        conn.execute(sessions.update().values(expires=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    resp = client.post("/auth/refresh", json={"refresh_token": data["refresh_token"]})
    assert error(resp)[:2] == (401, "INVALID_CREDENTIALS")


def test_logout_json_then_refresh_fails(app: Any, client: Any) -> None:
    data = login(client).get_json()["data"]
    resp = client.post("/auth/logout", json={"refresh_token": data["refresh_token"]})
    assert resp.status_code == 204 and resp.data == b""
    assert session_count(app) == 0
    again = client.post("/auth/refresh", json={"refresh_token": data["refresh_token"]})
    assert error(again)[:2] == (401, "INVALID_CREDENTIALS")
    assert error(client.post("/auth/logout", json={}))[:2] == (400, "INVALID_PAYLOAD")


def test_logout_session_mode_ends_the_session(app: Any, client: Any) -> None:
    resp = login(client, mode="session")
    token = set_cookie_headers(resp, "directus_session_token")[0].split(";")[0].split("=", 1)[1]
    out = client.post("/auth/logout", json={"mode": "session"})
    assert out.status_code == 204
    (cleared,) = set_cookie_headers(out, "directus_session_token")
    assert "Max-Age=0" in cleared or "Expires=Thu, 01 Jan 1970" in cleared
    # The JWT is still unexpired, but its session row is gone.
    resp = whoami(client, token)
    assert error(resp)[:2] == (401, "INVALID_CREDENTIALS")


def test_dead_session_cookie_is_cleared(app: Any, client: Any) -> None:
    login(client, mode="session")
    with cms_of(app).begin() as conn:
        conn.execute(sa.text("DELETE FROM directus_sessions"))
    resp = whoami(client)
    assert error(resp)[:2] == (401, "INVALID_CREDENTIALS")
    assert set_cookie_headers(resp, "directus_session_token")


def test_logout_with_broken_session_cookie(client: Any) -> None:
    client.set_cookie("directus_session_token", "garbage.not.jwt")
    out = client.post("/auth/logout", json={"mode": "session"})
    assert out.status_code == 204
    assert set_cookie_headers(out, "directus_session_token")


def test_logout_cookie_mode_clears_cookie(app: Any, client: Any) -> None:
    login(client, mode="cookie")
    out = client.post("/auth/logout")
    assert out.status_code == 204 and session_count(app) == 0
    assert set_cookie_headers(out, "directus_refresh_token")


# -- brute force ----------------------------------------------------------------------------------
def test_account_suspended_after_failed_attempts(auth_app: Callable[..., Any]) -> None:
    app = auth_app(AUTH_LOGIN_ATTEMPTS="3")
    client = app.test_client()
    add_user(app, "target@example.com")
    for _ in range(3):
        assert error(login(client, "target@example.com", "bad"))[:2] == \
            (401, "INVALID_CREDENTIALS")
    # The next attempt, even with the right password, finds the account suspended.
    assert error(login(client, "target@example.com", "Password123"))[:2] == \
        (401, "USER_SUSPENDED")
    assert user_row(app, "target@example.com")["status"] == "suspended"
    # A success resets the count.
    set_user(app, "target@example.com", status="active")
    for _ in range(2):
        login(client, "target@example.com", "bad")
    assert login(client, "target@example.com", "Password123").status_code == 200
    for _ in range(2):
        login(client, "target@example.com", "bad")
    assert login(client, "target@example.com", "Password123").status_code == 200


@pytest.mark.backends("sqlite")
def test_attempt_limit_from_project_settings(app: Any, client: Any) -> None:
    with cms_of(app).begin() as conn:
        conn.execute(sa.text("UPDATE directus_settings SET auth_login_attempts = 1"))
    login(client, password="bad")
    assert error(login(client))[:2] == (401, "USER_SUSPENDED")


def test_ip_limit(auth_app: Callable[..., Any]) -> None:
    client = auth_app(AUTH_LOGIN_IP_ATTEMPTS="2", AUTH_LOGIN_IP_WINDOW="1m",
                      IP_TRUST_PROXY="true").test_client()
    for _ in range(2):
        assert login(client, password="bad").status_code == 401
    blocked = login(client)  # even the right password waits
    assert error(blocked)[:2] == (429, "REQUESTS_EXCEEDED")
    assert 0 < int(blocked.headers["Retry-After"]) <= 60
    # Another address is not affected (IP_TRUST_PROXY is on here).
    other = client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
                        headers={"X-Forwarded-For": "203.0.113.9"})
    assert other.status_code == 200


def test_ip_limit_ignores_forwarded_for_by_default(auth_app: Callable[..., Any]) -> None:
    """Without IP_TRUST_PROXY a spoofed X-Forwarded-For is not a new address."""
    client = auth_app(AUTH_LOGIN_IP_ATTEMPTS="2", AUTH_LOGIN_IP_WINDOW="1m").test_client()
    for n in range(2):
        client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": "bad"},
                    headers={"X-Forwarded-For": f"203.0.113.{n}"})
    spoofed = client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": "bad"},
                          headers={"X-Forwarded-For": "198.51.100.7"})
    assert error(spoofed)[:2] == (429, "REQUESTS_EXCEEDED")


def test_suspended_account_looks_unknown_to_a_wrong_password(
        auth_app: Callable[..., Any]) -> None:
    """After suspension a wrong password answers exactly as for an unknown email."""
    app = auth_app(AUTH_LOGIN_ATTEMPTS="2")
    client = app.test_client()
    add_user(app, "target@example.com")
    for _ in range(4):
        wrong = login(client, "target@example.com", "bad")
    assert user_row(app, "target@example.com")["status"] == "suspended"
    unknown = login(client, "nobody@example.com", "bad")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()
    assert error(wrong)[:2] == (401, "INVALID_CREDENTIALS")
    assert error(login(client, "target@example.com", "Password123"))[:2] == \
        (401, "USER_SUSPENDED")


# -- password reset -------------------------------------------------------------------------------
def _mail(app: Any) -> list[Any]:
    return list(cms_of(app).extensions.get("sent_mail", []))


def test_password_reset_flow(auth_app: Callable[..., Any]) -> None:
    app = auth_app(PASSWORD_RESET_URL_ALLOW_LIST="https://app.example.com/reset")
    client = app.test_client()
    unknown = client.post("/auth/password/request", json={"email": "nobody@example.com"})
    assert unknown.status_code == 204 and _mail(app) == []

    bad_url = client.post("/auth/password/request",
                          json={"email": ADMIN_EMAIL, "reset_url": "https://evil.example/x"})
    assert error(bad_url)[:2] == (400, "INVALID_PAYLOAD") and _mail(app) == []

    sessions = login(client).get_json()["data"]
    resp = client.post("/auth/password/request",
                       json={"email": ADMIN_EMAIL,
                             "reset_url": "https://app.example.com/reset?lang=en"})
    assert resp.status_code == 204
    (message,) = _mail(app)
    assert message.recipients == [ADMIN_EMAIL] and message.subject
    link = re.search(r"https://app\.example\.com/reset\?\S+", message.text).group(0)
    assert "lang=en" in link
    token = re.search(r"token=([\w.-]+)", link).group(1)
    assert claims_of(token)["scope"] == "password-reset"

    assert client.post("/auth/password/reset",
                       json={"token": token, "password": "NewPassword456"}).status_code == 204
    assert error(login(client))[:2] == (401, "INVALID_CREDENTIALS")
    assert login(client, password="NewPassword456").status_code == 200
    # Used once: the link died with the old password; old sessions are gone too.
    reused = client.post("/auth/password/reset", json={"token": token, "password": "x" * 12})
    assert error(reused) == (403, "INVALID_TOKEN", "Invalid token.")
    old = client.post("/auth/refresh", json={"refresh_token": sessions["refresh_token"]})
    assert error(old)[:2] == (401, "INVALID_CREDENTIALS")


@pytest.mark.backends("sqlite")
def test_password_reset_rejects_bad_tokens(app: Any, client: Any) -> None:
    for token in ("garbage", jwt.encode({"scope": "password-reset", "iss": "directus",
                                         "email": ADMIN_EMAIL, "exp": time.time() + 60},
                                        SECRET, algorithm="HS256")):
        resp = client.post("/auth/password/reset", json={"token": token, "password": "abc"})
        assert error(resp)[:2] == (403, "INVALID_TOKEN")
    assert error(client.post("/auth/password/reset", json={"token": "x"}))[:2] == \
        (400, "INVALID_PAYLOAD")


@pytest.mark.backends("sqlite")
def test_password_policy_on_reset(app: Any, client: Any) -> None:
    with cms_of(app).begin() as conn:
        conn.execute(sa.text("UPDATE directus_settings SET auth_password_policy = :p"),
                     {"p": "/^.{12,}$/"})
    client.post("/auth/password/request", json={"email": ADMIN_EMAIL})
    token = re.search(r"token=([\w.-]+)", _mail(app)[-1].text).group(1)
    short = client.post("/auth/password/reset", json={"token": token, "password": "short"})
    assert error(short)[:2] == (400, "FAILED_VALIDATION")
    ok = client.post("/auth/password/reset", json={"token": token, "password": "long-enough-1"})
    assert ok.status_code == 204


# -- providers, events, 2FA -----------------------------------------------------------------------
class MagicProvider(AuthProvider):
    name = "magic"
    driver = "magic"
    label = "Magic words"

    def validate(self, payload: Mapping[str, Any]) -> None:
        if not payload.get("email") or not payload.get("word"):
            raise InvalidPayloadError('"word" is required')

    def identify(self, cms: Any, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        return find_user(cms, email=payload["email"])

    def verify(self, cms: Any, user: dict[str, Any] | None,
               payload: Mapping[str, Any]) -> None:
        if user is None or payload["word"] != "open-sesame":
            raise InvalidCredentialsError()


class MagicPlugin:
    name = "test_magic_provider"

    @hookimpl
    def register_auth_providers(self, cms: Any) -> Any:
        return MagicProvider()


@pytest.mark.backends("sqlite")
def test_hook_register_auth_providers(auth_app: Callable[..., Any]) -> None:
    plain = auth_app().test_client()
    assert plain.get("/auth").get_json() == {"data": [], "disableDefault": False}
    assert error(login(plain, path="/auth/login/nope"))[:2] == (404, "ROUTE_NOT_FOUND")

    app = auth_app(plugins=[MagicPlugin()], AUTH_DISABLE_DEFAULT="true")
    client = app.test_client()
    assert client.get("/auth").get_json() == {
        "data": [{"name": "magic", "driver": "magic", "label": "Magic words"}],
        "disableDefault": True,
    }
    assert login(client).status_code == 404
    add_user(app, "wizard@example.com", provider="magic")
    ok = client.post("/auth/login/magic", json={"email": "wizard@example.com",
                                                "word": "open-sesame", "mode": "json"})
    assert ok.status_code == 200
    assert whoami(client, ok.get_json()["data"]["access_token"]).get_json()["data"]["user"]
    wrong = client.post("/auth/login/magic", json={"email": "wizard@example.com",
                                                   "word": "abracadabra"})
    assert error(wrong)[:2] == (401, "INVALID_CREDENTIALS")
    # A local user cannot log in through another provider.
    other = client.post("/auth/login/magic", json={"email": ADMIN_EMAIL,
                                                   "word": "open-sesame"})
    assert error(other)[:2] == (403, "INVALID_PROVIDER")


class LoginEvents:
    name = "test_login_events"

    def __init__(self) -> None:
        self.actions: list[dict[str, Any]] = []

    def _deny(self, payload: Any, meta: dict[str, Any], context: Any) -> Any:
        if payload.get("email") == "blocked@example.com":
            raise ForbiddenError("Blocked by a filter")
        return payload

    @hookimpl
    def register_filters(self, cms: Any) -> Any:
        return Filter("auth.login", self._deny)

    @hookimpl
    def register_listeners(self, cms: Any) -> Any:
        return Listener("auth.login", lambda meta, ctx: self.actions.append(meta))


@pytest.mark.backends("sqlite")
def test_login_events(auth_app: Callable[..., Any]) -> None:
    events = LoginEvents()
    app = auth_app(plugins=[events])
    client = app.test_client()
    add_user(app, "blocked@example.com")
    assert error(login(client, "blocked@example.com", "Password123"))[:2] == \
        (403, "FORBIDDEN")
    assert login(client, password="bad").status_code == 401
    assert login(client).status_code == 200
    assert [a["status"] for a in events.actions] == ["fail", "success"]
    assert all("password" not in a["payload"] for a in events.actions)
    assert events.actions[-1]["user"] == user_row(app, ADMIN_EMAIL)["id"]
    assert events.actions[-1]["provider"] == "default"


@pytest.mark.backends("sqlite")
def test_two_factor_login(app: Any, client: Any) -> None:
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    set_user(app, ADMIN_EMAIL, tfa_secret=secret)
    assert error(login(client))[:2] == (401, "INVALID_OTP")
    assert error(login(client, otp="000000"))[:2] == (401, "INVALID_OTP")
    assert login(client, otp=pyotp.TOTP(secret).now()).status_code == 200
