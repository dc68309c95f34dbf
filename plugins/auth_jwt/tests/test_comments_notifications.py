"""Comments, mentions and notification emails, as Directus 11 handles them."""

from __future__ import annotations

from typing import Any

from transom.testing.live_support import collection_body
from transom.testing.plugin import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def ok(resp: Any) -> Any:
    assert resp.status_code in (200, 204), resp.get_json()
    return resp.get_json()["data"] if resp.data else None


def error(resp: Any) -> tuple[int, str, str]:
    body = resp.get_json()["errors"][0]
    return resp.status_code, body["extensions"]["code"], body["message"]


def mails(app: Any) -> list[Any]:
    return list(app.extensions["transom"].extensions.get("sent_mail", []))


def setup(client: Any) -> dict[str, Any]:
    """notes (two items); a role reading note 1 only and commenting; two users of it and
    one without any access."""
    ok(client.post("/collections", json=collection_body("notes"), headers=ADMIN))
    one = ok(client.post("/items/notes", json={"title": "one"}, headers=ADMIN))
    two = ok(client.post("/items/notes", json={"title": "two"}, headers=ADMIN))
    policy = ok(client.post("/policies", json={"name": "commenters", "app_access": True},
                            headers=ADMIN))
    for body in ({"collection": "notes", "action": "read", "fields": ["*"],
                  "permissions": {"id": {"_eq": one["id"]}}},
                 {"collection": "directus_comments", "action": "create", "fields": ["*"]},
                 {"collection": "directus_comments", "action": "read", "fields": ["*"]}):
        ok(client.post("/permissions", json={"policy": policy["id"], **body}, headers=ADMIN))
    role = ok(client.post("/roles", json={"name": "commenters"}, headers=ADMIN))
    ok(client.post("/access", json={"role": role["id"], "policy": policy["id"]},
                   headers=ADMIN))
    users = {}
    for name, extra in (("cora", {"role": role["id"]}), ("dan", {"role": role["id"]}),
                        ("eve", {})):
        users[name] = ok(client.post("/users", json={
            "email": f"{name}@example.org", "password": f"{name}-password-1",
            "first_name": name.title(), **extra}, headers=ADMIN))
    token = client.post("/auth/login", json={"email": "cora@example.org",
                                             "password": "cora-password-1"}
                        ).get_json()["data"]["access_token"]
    return {"one": one, "two": two, "users": users,
            "cora": {"Authorization": f"Bearer {token}"}}


def test_comments_need_their_fields_and_a_readable_item(app: Any, client: Any) -> None:
    c = setup(client)
    cora = c["cora"]
    for missing in ("comment", "collection", "item"):
        body = {"comment": "hi", "collection": "notes", "item": str(c["one"]["id"])}
        body.pop(missing)
        assert error(client.post("/comments", json=body, headers=cora)) == \
            (400, "INVALID_PAYLOAD", f'Invalid payload. "{missing}" is required.')
    made = ok(client.post("/comments", json={"comment": "fine", "collection": "notes",
                                             "item": str(c["one"]["id"])}, headers=cora))
    assert made["user_created"] == c["users"]["cora"]["id"]
    # an item she cannot read, and one that does not exist: 403 alike
    for item in (c["two"]["id"], 999999):
        assert error(client.post("/comments", json={
            "comment": "x", "collection": "notes", "item": str(item)}, headers=cora))[:2] \
            == (403, "FORBIDDEN")
    assert [m["comment"] for m in ok(client.get("/comments?fields=comment",
                                                headers=ADMIN))] == ["fine"]


def test_mentions_notify_readers_and_notifications_are_mailed(app: Any, client: Any) -> None:
    c = setup(client)
    u = c["users"]
    ok(client.patch(f"/users/{u['eve']['id']}", json={"email_notifications": True},
                    headers=ADMIN))
    ok(client.patch(f"/users/{u['dan']['id']}", json={"email_notifications": True},
                    headers=ADMIN))
    before = len(mails(app))
    ok(client.post("/comments", json={
        "comment": f"@{u['dan']['id']} and @{u['eve']['id']} and me @{u['cora']['id']}",
        "collection": "notes", "item": str(c["one"]["id"])}, headers=c["cora"]))
    notes = ok(client.get("/notifications?fields=recipient,sender,subject,message,"
                          "collection,item", headers=ADMIN))
    # dan reads the note; eve may not, and cora wrote it
    assert [(n["recipient"], n["sender"], n["subject"], n["collection"], n["item"])
            for n in notes] == [(u["dan"]["id"], u["cora"]["id"], "You were mentioned in notes",
                                 "notes", str(c["one"]["id"]))]
    assert "Cora has mentioned you" in notes[0]["message"] and "@Dan" in notes[0]["message"]
    sent = mails(app)[before:]
    assert [(m.to, m.subject) for m in sent] == \
        [("dan@example.org", "You were mentioned in notes")]
    assert f"/admin/content/notes/{c['one']['id']}" in sent[0].text

    # a notification to someone who said no sends nothing
    ok(client.patch(f"/users/{u['dan']['id']}", json={"email_notifications": False},
                    headers=ADMIN))
    ok(client.post("/notifications", json={"recipient": u["dan"]["id"], "subject": "quiet"},
                   headers=ADMIN))
    ok(client.post("/notifications", json={"recipient": u["eve"]["id"], "subject": "loud",
                                           "message": "line 1\nline <2>"}, headers=ADMIN))
    sent = mails(app)[before + 1:]
    assert [(m.to, m.subject) for m in sent] == [("eve@example.org", "loud")]
    assert "line &lt;2&gt;" in sent[0].html and "Open it" not in sent[0].text
