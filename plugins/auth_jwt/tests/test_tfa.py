"""Two-factor authentication: generate, enable, login with a code, disable."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from transom.auth.providers import find_user
from transom.testing.plugin import ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def error(resp: Any) -> tuple[int, str, str]:
    body = resp.get_json()["errors"][0]
    return resp.status_code, body["extensions"]["code"], body["message"]


def login(client: Any, **extra: Any) -> Any:
    return client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD,
                                            **extra})


def bearer(client: Any) -> dict[str, str]:
    token = login(client).get_json()["data"]["access_token"]
    return {"Authorization": f"Bearer {token}"}


class DirectusTotp(pyotp.TOTP):
    """Codes of an 80-bit secret, as Directus (otplib) generates them."""

    min_secret_length_bits = 80


def other_code(secret: str) -> str:
    """A code that is wrong now (not the current one, nor one step either side)."""
    totp = DirectusTotp(secret)
    valid = {totp.at(time.time() + d * 30) for d in (-2, -1, 0, 1, 2)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444", "555555")
                if c not in valid)


def test_generate_enable_login_disable(app: Any, client: Any) -> None:
    me = bearer(client)
    resp = client.post("/users/me/tfa/generate", json={"password": ADMIN_PASSWORD}, headers=me)
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert set(data) == {"secret", "otpauth_url"}
    secret = data["secret"]
    url = urlsplit(data["otpauth_url"])
    assert url.scheme == "otpauth" and url.netloc == "totp"
    assert parse_qs(url.query)["secret"] == [secret]
    project = client.get("/settings", headers=ADMIN).get_json()["data"]["project_name"]
    assert parse_qs(url.query)["issuer"] == [project]
    # nothing stored until enabled
    assert find_user(app.extensions["transom"], email=ADMIN_EMAIL)["tfa_secret"] is None
    assert login(client).status_code == 200

    assert error(client.post("/users/me/tfa/enable",
                             json={"secret": secret, "otp": other_code(secret)},
                             headers=me)) == (400, "INVALID_PAYLOAD",
                                              'Invalid payload. "otp" is invalid.')
    assert client.post("/users/me/tfa/enable",
                       json={"secret": secret, "otp": pyotp.TOTP(secret).now()},
                       headers=me).status_code == 204
    assert find_user(app.extensions["transom"], email=ADMIN_EMAIL)["tfa_secret"] == secret

    assert error(login(client)) == (401, "INVALID_OTP", "Invalid user OTP.")
    assert error(login(client, otp=other_code(secret)))[:2] == (401, "INVALID_OTP")
    ok = login(client, otp=pyotp.TOTP(secret).now())
    assert ok.status_code == 200 and ok.get_json()["data"]["access_token"]

    # already set: generate and enable refuse
    assert error(client.post("/users/me/tfa/generate", json={"password": ADMIN_PASSWORD},
                             headers=me)) == (400, "INVALID_PAYLOAD",
                                              "Invalid payload. TFA Secret is already set for "
                                              "this user.")
    assert error(client.post("/users/me/tfa/disable", json={"otp": other_code(secret)},
                             headers=me))[:2] == (400, "INVALID_PAYLOAD")
    assert client.post("/users/me/tfa/disable", json={"otp": pyotp.TOTP(secret).now()},
                       headers=me).status_code == 204
    assert login(client).status_code == 200


def test_tfa_errors(app: Any, client: Any) -> None:
    me = bearer(client)
    assert error(client.post("/users/me/tfa/generate", json={}))[:2] == \
        (401, "INVALID_CREDENTIALS")
    assert error(client.post("/users/me/tfa/generate", json={}, headers=me)) == \
        (400, "INVALID_PAYLOAD", 'Invalid payload. "password" is required.')
    assert error(client.post("/users/me/tfa/generate", json={"password": "wrong"},
                             headers=me))[:2] == (401, "INVALID_CREDENTIALS")
    assert error(client.post("/users/me/tfa/enable", json={"otp": "123456"},
                             headers=me)) == (400, "INVALID_PAYLOAD",
                                              'Invalid payload. "secret" is required.')
    assert error(client.post("/users/me/tfa/enable", json={"secret": "JBSWY3DPEHPK3PXP"},
                             headers=me)) == (400, "INVALID_PAYLOAD",
                                              'Invalid payload. "otp" is required.')
    assert error(client.post("/users/me/tfa/enable", json={"secret": "not base32!",
                                                            "otp": "123456"},
                             headers=me))[:2] == (400, "INVALID_PAYLOAD")
    assert error(client.post("/users/me/tfa/disable", json={}, headers=me))[:2] == \
        (400, "INVALID_PAYLOAD")
    # without a secret there is nothing a code could match
    assert error(client.post("/users/me/tfa/disable", json={"otp": "123456"},
                             headers=me))[:2] == (400, "INVALID_PAYLOAD")
    assert error(client.post("/users/me/tfa/generate", json=["x"], headers=me))[:2] == \
        (400, "INVALID_PAYLOAD")


@pytest.mark.backends("sqlite")
def test_admin_disables_someone_elses_tfa(app: Any, client: Any) -> None:
    cms = app.extensions["transom"]
    admin_id = find_user(cms, email=ADMIN_EMAIL)["id"]
    me = bearer(client)
    secret = client.post("/users/me/tfa/generate", json={"password": ADMIN_PASSWORD},
                         headers=me).get_json()["data"]["secret"]
    client.post("/users/me/tfa/enable", json={"secret": secret,
                                              "otp": pyotp.TOTP(secret).now()}, headers=me)
    assert error(client.post(f"/users/{admin_id}/tfa/disable"))[:2] == (403, "FORBIDDEN")
    assert client.post(f"/users/{admin_id}/tfa/disable", headers=ADMIN).status_code == 204
    assert find_user(cms, email=ADMIN_EMAIL)["tfa_secret"] is None


@pytest.mark.backends("sqlite")
def test_directus_secrets_still_work(app: Any, client: Any) -> None:
    """A 16-character secret set up by Directus keeps working after a move to Transom."""
    secret = "JBSWY3DPEHPK3PXP"
    cms = app.extensions["transom"]
    users = cms.schema.get("directus_users").table
    with cms.begin() as conn:
        conn.execute(users.update().where(users.c.email == ADMIN_EMAIL)
                     .values(tfa_secret=secret))
    assert error(login(client, otp=other_code(secret)))[:2] == (401, "INVALID_OTP")
    assert login(client, otp=DirectusTotp(secret).now()).status_code == 200
