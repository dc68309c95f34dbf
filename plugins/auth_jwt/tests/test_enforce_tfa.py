"""``enforce_tfa`` on policies, and TFA at login through REST and GraphQL.

A user whose policies enforce TFA and who has not set it up can log in (Directus's app then
sends them to its TFA setup page), but the token reaches nothing except who they are, their
global flags and the TFA setup routes until a secret is stored; then the same token works.
"""

from __future__ import annotations

from typing import Any

import pyotp

from transom.testing.live_support import collection_body
from transom.testing.plugin import ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
EMAIL, PASSWORD = "tess@example.org", "tess-password-1"


def error(resp: Any) -> tuple[int, str, str]:
    body = resp.get_json()["errors"][0]
    return resp.status_code, body["extensions"]["code"], body["message"]


def ok(resp: Any) -> Any:
    assert resp.status_code in (200, 204), resp.get_json()
    return resp.get_json()["data"] if resp.data else None


def login(client: Any, email: str = EMAIL, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post("/auth/login", json={"email": email, "password": password, **extra})


def enforced_user(client: Any) -> str:
    """notes (one item), a policy enforcing TFA that reads it, a role and a user with it."""
    ok(client.post("/collections", json=collection_body("notes"), headers=ADMIN))
    ok(client.post("/items/notes", json={"title": "hello"}, headers=ADMIN))
    policy = ok(client.post("/policies", json={"name": "strict", "app_access": True,
                                               "admin_access": False, "enforce_tfa": True},
                            headers=ADMIN))
    ok(client.post("/permissions", json={"policy": policy["id"], "collection": "notes",
                                         "action": "read", "fields": ["*"]}, headers=ADMIN))
    role = ok(client.post("/roles", json={"name": "strict"}, headers=ADMIN))
    ok(client.post("/access", json={"role": role["id"], "policy": policy["id"]},
                   headers=ADMIN))
    user = ok(client.post("/users", json={"email": EMAIL, "password": PASSWORD,
                                          "role": role["id"]}, headers=ADMIN))
    return str(user["id"])


def test_enforced_user_may_only_set_up_tfa(app: Any, client: Any) -> None:
    user_id = enforced_user(client)
    resp = login(client)  # no code yet: there is no secret to make one from
    assert resp.status_code == 200, resp.get_json()
    me = {"Authorization": f"Bearer {resp.get_json()['data']['access_token']}"}

    assert ok(client.get("/users/me?fields=id,email", headers=me)) == \
        {"id": user_id, "email": EMAIL}
    assert ok(client.get("/policies/me/globals", headers=me)) == \
        {"app_access": True, "admin_access": False, "enforce_tfa": True}
    status, code, message = error(client.get("/items/notes", headers=me))
    assert (status, code) == (403, "FORBIDDEN") and "two-factor" in message.lower()
    assert error(client.patch("/users/me", json={"first_name": "T"}, headers=me))[:2] == \
        (403, "FORBIDDEN")
    assert error(client.get("/permissions/me", headers=me))[:2] == (403, "FORBIDDEN")
    assert error(client.post("/graphql", json={"query": "{ notes { title } }"},
                             headers=me))[:2] == (403, "FORBIDDEN")
    # the admin's own globals: no policy of theirs enforces TFA
    assert ok(client.get("/policies/me/globals", headers=ADMIN))["enforce_tfa"] is False

    secret = ok(client.post("/users/me/tfa/generate", json={"password": PASSWORD},
                            headers=me))["secret"]
    ok(client.post("/users/me/tfa/enable",
                   json={"secret": secret, "otp": pyotp.TOTP(secret).now()}, headers=me))
    # the same token now reaches what the policy allows
    assert ok(client.get("/items/notes?fields=title", headers=me)) == [{"title": "hello"}]
    assert client.get("/permissions/me", headers=me).status_code == 200

    assert error(login(client)) == (401, "INVALID_OTP", "Invalid user OTP.")
    again = login(client, otp=pyotp.TOTP(secret).now())
    assert again.status_code == 200, again.get_json()


def test_policies_me_globals_for_the_public(app: Any, client: Any) -> None:
    assert ok(client.get("/policies/me/globals"))["enforce_tfa"] is False


AUTH_LOGIN = """mutation($email: String!, $password: String!, $otp: String) {
  auth_login(email: $email, password: $password, otp: $otp) { access_token }
}"""


def test_graphql_auth_login_asks_for_the_code(app: Any, client: Any) -> None:
    me = {"Authorization": "Bearer " + login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
          .get_json()["data"]["access_token"]}
    secret = ok(client.post("/users/me/tfa/generate", json={"password": ADMIN_PASSWORD},
                            headers=me))["secret"]
    ok(client.post("/users/me/tfa/enable",
                   json={"secret": secret, "otp": pyotp.TOTP(secret).now()}, headers=me))

    def gql(**variables: Any) -> Any:
        return client.post("/graphql/system", json={"query": AUTH_LOGIN, "variables": {
            "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, **variables}}).get_json()

    missing = gql()
    assert missing["errors"][0]["extensions"]["code"] == "INVALID_OTP"
    assert not (missing.get("data") or {}).get("auth_login")
    wrong = pyotp.TOTP(pyotp.random_base32()).now()  # another secret's code
    assert gql(otp=wrong)["errors"][0]["extensions"]["code"] == "INVALID_OTP"
    good = gql(otp=pyotp.TOTP(secret).now())
    assert "errors" not in good, good
    assert good["data"]["auth_login"]["access_token"]
