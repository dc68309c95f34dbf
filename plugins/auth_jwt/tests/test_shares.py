"""Share links: /shares/auth, /shares/info, /shares/invite and the share token's reach."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import jwt
import pytest

from transom.testing.live_support import collection_body
from transom.testing.plugin import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SECRET = "test-secret-0123456789-0123456789-abcdef"


def error(resp: Any) -> tuple[int, str, str]:
    body = resp.get_json()["errors"][0]
    return resp.status_code, body["extensions"]["code"], body["message"]


def ok(resp: Any) -> Any:
    assert resp.status_code in (200, 204), resp.get_json()
    return resp.get_json()["data"] if resp.data else None


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def iso(delta: dt.timedelta) -> str:
    return (dt.datetime.now(dt.UTC) + delta).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def content(client: Any) -> dict[str, Any]:
    """authors <- articles (m2o author), a role reading both, two articles."""
    ok(client.post("/collections", json=collection_body("authors"), headers=ADMIN))
    ok(client.post("/collections", json=collection_body(
        "articles", {"field": "author", "type": "integer"},
        {"field": "secret_note", "type": "string"}), headers=ADMIN))
    ok(client.post("/relations", json={"collection": "articles", "field": "author",
                                       "related_collection": "authors",
                                       "meta": {"one_field": "articles"}}, headers=ADMIN))
    ada = ok(client.post("/items/authors", json={"title": "Ada"}, headers=ADMIN))
    bob = ok(client.post("/items/authors", json={"title": "Bob"}, headers=ADMIN))
    one = ok(client.post("/items/articles", json={"title": "one", "author": ada["id"],
                                                  "secret_note": "s1"}, headers=ADMIN))
    two = ok(client.post("/items/articles", json={"title": "two", "author": bob["id"]},
                         headers=ADMIN))
    policy = ok(client.post("/policies", json={"name": "readers", "app_access": False,
                                               "admin_access": False}, headers=ADMIN))
    role = ok(client.post("/roles", json={"name": "reader"}, headers=ADMIN))
    ok(client.post("/access", json={"role": role["id"], "policy": policy["id"]}, headers=ADMIN))
    for coll, fields in (("articles", ["id", "title", "author"]), ("authors", ["*"])):
        ok(client.post("/permissions", json={"policy": policy["id"], "collection": coll,
                                             "action": "read", "fields": fields,
                                             "permissions": {}}, headers=ADMIN))
    return {"ada": ada, "bob": bob, "one": one, "two": two, "role": role["id"]}


def share(client: Any, item: Any, **extra: Any) -> dict[str, Any]:
    return ok(client.post("/shares", json={"name": "s", "collection": "articles",
                                           "item": str(item), **extra}, headers=ADMIN))


def share_login(client: Any, share_id: str, **extra: Any) -> Any:
    return client.post("/shares/auth", json={"share": share_id, **extra})


def test_share_token_reads_only_its_item(app: Any, client: Any) -> None:
    c = content(client)
    s = share(client, c["one"]["id"], role=c["role"])
    resp = share_login(client, s["id"])
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert set(data) == {"access_token", "refresh_token", "expires"}
    claims = jwt.decode(data["access_token"], SECRET, algorithms=["HS256"], issuer="directus")
    assert claims["share"] == s["id"] and "id" not in claims
    assert claims["share_scope"] == {"collection": "articles", "item": str(c["one"]["id"])}
    assert claims["role"] == c["role"]
    assert (claims["app_access"], claims["admin_access"]) == (False, False)
    me = bearer(data["access_token"])

    item = ok(client.get(f"/items/articles/{c['one']['id']}?fields=id,title,author.title",
                         headers=me))
    assert item == {"id": c["one"]["id"], "title": "one", "author": {"title": "Ada"}}
    assert error(client.get(f"/items/articles/{c['two']['id']}", headers=me))[:2] == \
        (403, "FORBIDDEN")
    listed = ok(client.get("/items/articles?fields=id", headers=me))
    assert listed == [{"id": c["one"]["id"]}]
    # the related author only, not the other one
    assert ok(client.get("/items/authors?fields=title", headers=me)) == [{"title": "Ada"}]
    assert error(client.get(f"/items/authors/{c['bob']['id']}", headers=me))[:2] == \
        (403, "FORBIDDEN")
    # the role's field limits still apply
    assert error(client.get(f"/items/articles/{c['one']['id']}?fields=secret_note",
                            headers=me))[:2] == (403, "FORBIDDEN")
    # read only
    assert error(client.patch(f"/items/articles/{c['one']['id']}", json={"title": "x"},
                              headers=me))[:2] == (403, "FORBIDDEN")
    assert error(client.post("/items/articles", json={"title": "x"}, headers=me))[:2] == \
        (403, "FORBIDDEN")
    assert error(client.get("/users", headers=me))[:2] == (403, "FORBIDDEN")
    assert ok(client.get(f"/shares/{s['id']}?fields=times_used", headers=ADMIN)) == \
        {"times_used": 1}
    # a normal user's reads are unaffected once the share rules are in place
    assert len(ok(client.get("/items/articles", headers=ADMIN))) == 2


def test_share_without_role_uses_the_creators_access(app: Any, client: Any) -> None:
    c = content(client)
    s = share(client, c["two"]["id"])  # created by the admin token's user: admin access
    me = bearer(share_login(client, s["id"]).get_json()["data"]["access_token"])
    item = ok(client.get(f"/items/articles/{c['two']['id']}?fields=title,secret_note",
                         headers=me))
    assert item == {"title": "two", "secret_note": None}
    assert error(client.get(f"/items/articles/{c['one']['id']}", headers=me))[:2] == \
        (403, "FORBIDDEN")


def test_share_password_window_and_uses(app: Any, client: Any) -> None:
    c = content(client)
    item = c["one"]["id"]
    locked = share(client, item, role=c["role"], password="open-sesame")
    assert ok(client.get(f"/shares/{locked['id']}?fields=password", headers=ADMIN)) == \
        {"password": "**********"}
    bad = ("INVALID_CREDENTIALS", "Invalid user credentials.")
    assert error(share_login(client, locked["id"]))[1:] == bad
    assert error(share_login(client, locked["id"], password="wrong"))[1:] == bad
    assert share_login(client, locked["id"], password="open-sesame").status_code == 200

    limited = share(client, item, role=c["role"], max_uses=2)
    assert share_login(client, limited["id"]).status_code == 200
    assert share_login(client, limited["id"]).status_code == 200
    assert error(share_login(client, limited["id"]))[:2] == (401, "INVALID_CREDENTIALS")
    assert ok(client.get(f"/shares/{limited['id']}?fields=times_used", headers=ADMIN)) == \
        {"times_used": 2}

    expired = share(client, item, role=c["role"], date_end=iso(-dt.timedelta(hours=1)))
    future = share(client, item, role=c["role"], date_start=iso(dt.timedelta(hours=1)))
    for s in (expired, future):
        assert error(share_login(client, s["id"]))[:2] == (401, "INVALID_CREDENTIALS")
        assert error(client.get(f"/shares/info/{s['id']}"))[:2] == (403, "FORBIDDEN")
    current = share(client, item, role=c["role"], date_start=iso(-dt.timedelta(hours=1)),
                    date_end=iso(dt.timedelta(hours=1)))
    assert share_login(client, current["id"]).status_code == 200

    assert error(share_login(client, str(uuid.uuid4())))[:2] == (401, "INVALID_CREDENTIALS")
    assert error(share_login(client, "not-a-uuid"))[:2] == (401, "INVALID_CREDENTIALS")
    assert error(client.post("/shares/auth", json={}))[:2] == (400, "INVALID_PAYLOAD")
    assert error(client.post("/shares/auth", json={"share": 5}))[:2] == (400, "INVALID_PAYLOAD")
    assert error(share_login(client, current["id"], mode="nope"))[:2] == \
        (400, "INVALID_PAYLOAD")


def test_share_refresh_and_logout(app: Any, client: Any) -> None:
    c = content(client)
    s = share(client, c["one"]["id"], role=c["role"])
    first = share_login(client, s["id"]).get_json()["data"]
    resp = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert resp.status_code == 200, resp.get_json()
    renewed = resp.get_json()["data"]
    assert renewed["refresh_token"] != first["refresh_token"]
    claims = jwt.decode(renewed["access_token"], SECRET, algorithms=["HS256"],
                        issuer="directus")
    assert claims["share"] == s["id"] and "id" not in claims
    me = bearer(renewed["access_token"])
    assert ok(client.get(f"/items/articles/{c['one']['id']}?fields=title", headers=me)) == \
        {"title": "one"}
    assert error(client.get(f"/items/articles/{c['two']['id']}", headers=me))[:2] == \
        (403, "FORBIDDEN")
    # logout ends the session; deleting the share ends the others
    assert client.post("/auth/logout", json={"refresh_token": renewed["refresh_token"]}
                       ).status_code == 204
    assert error(client.post("/auth/refresh", json={
        "refresh_token": renewed["refresh_token"]}))[:2] == (401, "INVALID_CREDENTIALS")
    other = share_login(client, s["id"]).get_json()["data"]
    assert client.delete(f"/shares/{s['id']}", headers=ADMIN).status_code == 204
    assert error(client.post("/auth/refresh", json={
        "refresh_token": other["refresh_token"]}))[:2] == (401, "INVALID_CREDENTIALS")
    assert error(client.get(f"/items/articles/{c['one']['id']}",
                            headers=bearer(other["access_token"])))[:2] == \
        (401, "INVALID_CREDENTIALS")


def test_share_info_is_public(app: Any, client: Any) -> None:
    c = content(client)
    s = share(client, c["one"]["id"], role=c["role"], password="pw", max_uses=5)
    info = ok(client.get(f"/shares/info/{s['id']}"))
    assert info["id"] == s["id"] and info["collection"] == "articles"
    assert info["item"] == str(c["one"]["id"]) and info["password"] == "**********"
    assert (info["max_uses"], info["times_used"]) == (5, 0)
    assert set(info) == {"id", "collection", "item", "password", "max_uses", "times_used",
                         "date_start", "date_end"}
    assert error(client.get(f"/shares/info/{uuid.uuid4()}"))[:2] == (403, "FORBIDDEN")
    assert error(client.get("/shares/info/nope"))[:2] == (403, "FORBIDDEN")


@pytest.mark.backends("sqlite")
def test_share_session_mode_and_invite(app: Any, client: Any) -> None:
    c = content(client)
    s = share(client, c["one"]["id"], role=c["role"])
    resp = share_login(client, s["id"], mode="session")
    assert resp.get_json()["data"].keys() == {"expires"}
    assert ok(client.get(f"/items/articles/{c['one']['id']}?fields=title")) == {"title": "one"}
    client.delete_cookie("directus_session_token")
    # /shares/invite mails a link to the share page
    assert error(client.post("/shares/invite", json={"share": s["id"],
                                                     "emails": ["x@example.com"]}))[:2] == \
        (403, "FORBIDDEN")
    admin_login = client.post("/auth/login", json={"email": "admin@example.com",
                                                   "password": "SuperSecret123"})
    me = bearer(admin_login.get_json()["data"]["access_token"])
    assert error(client.post("/shares/invite", json={"share": s["id"], "emails": "x"},
                             headers=me))[:2] == (400, "INVALID_PAYLOAD")
    assert client.post("/shares/invite", json={"share": s["id"], "emails": ["x@example.com"]},
                       headers=me).status_code == 204
    mail = list(app.extensions["transom"].extensions["sent_mail"])[-1]
    assert mail.to == "x@example.com" and f"/admin/shared/{s['id']}" in mail.text


def test_share_reaches_o2m_children(app: Any, client: Any) -> None:
    c = content(client)
    s = ok(client.post("/shares", json={"collection": "authors", "item": str(c["ada"]["id"]),
                                        "role": c["role"]}, headers=ADMIN))
    me = bearer(share_login(client, s["id"]).get_json()["data"]["access_token"])
    author = ok(client.get(f"/items/authors/{c['ada']['id']}?fields=title,articles.title",
                           headers=me))
    assert author == {"title": "Ada", "articles": [{"title": "one"}]}
    assert ok(client.get("/items/articles?fields=title", headers=me)) == [{"title": "one"}]
    assert error(client.get(f"/items/articles/{c['two']['id']}", headers=me))[:2] == \
        (403, "FORBIDDEN")
    assert error(client.get(f"/items/authors/{c['bob']['id']}", headers=me))[:2] == \
        (403, "FORBIDDEN")


def test_share_reaches_every_depth_under_the_roles_rules(app: Any, client: Any) -> None:
    """article -> author (m2o) -> country (m2o) -> its other authors (o2m): reached two and
    three relations away, but only through what the share's role may read."""
    c = content(client)
    ok(client.post("/collections", json=collection_body(
        "countries", {"field": "hidden", "type": "boolean"}), headers=ADMIN))
    ok(client.post("/fields/authors", json={"field": "country", "type": "integer"},
                   headers=ADMIN))
    ok(client.post("/relations", json={"collection": "authors", "field": "country",
                                       "related_collection": "countries",
                                       "meta": {"one_field": "authors"}}, headers=ADMIN))
    fr = ok(client.post("/items/countries", json={"title": "France", "hidden": False},
                    headers=ADMIN))
    secret = ok(client.post("/items/countries", json={"title": "Atlantis", "hidden": True},
                            headers=ADMIN))
    cy = ok(client.post("/items/authors", json={"title": "Cy", "country": fr["id"]},
                        headers=ADMIN))
    ok(client.patch(f"/items/authors/{c['ada']['id']}", json={"country": fr["id"]},
                    headers=ADMIN))
    ok(client.patch(f"/items/authors/{c['bob']['id']}", json={"country": secret["id"]},
                    headers=ADMIN))
    policy = ok(client.get(f"/access?filter[role][_eq]={c['role']}&fields=policy",
                           headers=ADMIN))[0]["policy"]
    ok(client.post("/permissions", json={"policy": policy, "collection": "countries",
                                         "action": "read", "fields": ["id", "title", "authors"],
                                         "permissions": {"hidden": {"_neq": True}}},
                   headers=ADMIN))

    s = share(client, c["one"]["id"], role=c["role"])
    me = bearer(share_login(client, s["id"]).get_json()["data"]["access_token"])
    # two relations away, as a nested read and on its own
    nested = ok(client.get(f"/items/articles/{c['one']['id']}"
                           "?fields=title,author.country.title", headers=me))
    assert nested == {"title": "one", "author": {"country": {"title": "France"}}}
    assert ok(client.get(f"/items/countries/{fr['id']}?fields=title", headers=me)) == \
        {"title": "France"}
    # three away: the other author of the same country
    assert ok(client.get(f"/items/authors/{cy['id']}?fields=title", headers=me)) == \
        {"title": "Cy"}
    assert sorted(a["title"] for a in ok(client.get("/items/authors?fields=title",
                                                    headers=me))) == ["Ada", "Cy"]
    # unrelated to the shared article: bob, and a country the role may not read at all
    assert error(client.get(f"/items/authors/{c['bob']['id']}", headers=me))[:2] == \
        (403, "FORBIDDEN")
    assert error(client.get(f"/items/countries/{secret['id']}", headers=me))[:2] == \
        (403, "FORBIDDEN")
    # the role's field limits apply at depth too
    assert error(client.get(f"/items/countries/{fr['id']}?fields=hidden", headers=me))[:2] \
        == (403, "FORBIDDEN")


def test_share_users_me(app: Any, client: Any) -> None:
    """Directus answers /users/me for a share with the share and its role, not a user."""
    c = content(client)
    s = share(client, c["one"]["id"], role=c["role"])
    me = bearer(share_login(client, s["id"]).get_json()["data"]["access_token"])
    assert ok(client.get("/users/me", headers=me)) == {
        "share": s["id"], "role": {"id": c["role"], "admin_access": False,
                                   "app_access": False}}
    assert error(client.get("/users/me"))[:2] == (401, "INVALID_CREDENTIALS")
