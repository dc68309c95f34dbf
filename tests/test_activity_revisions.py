"""Activity and revisions per the collection's ``accountability`` setting, ``/activity``,
``/revisions`` and ``POST /utils/revert/:revision``, on every backend; the other ``/utils``
helpers on SQLite."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import sqlalchemy as sa


def make_notes(app: Any, accountability: str | None = "all", meta: bool = True) -> None:
    """A ``notes`` collection, with a ``directus_collections`` row carrying the setting."""
    cms = app.extensions["transom"]
    md = sa.MetaData()
    sa.Table("notes", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("title", sa.String(100), nullable=False),
             sa.Column("body", sa.Text),
             sa.Column("rating", sa.Integer))
    collections = sa.table("directus_collections", sa.column("collection"),
                           sa.column("accountability"))
    with cms.engine.begin() as conn:
        md.create_all(conn)
        if meta:
            conn.execute(collections.insert().values(collection="notes",
                                                     accountability=accountability))
    cms.refresh_schema()


def rows(app: Any, table: str, collection: str = "notes") -> list[dict[str, Any]]:
    with app.extensions["transom"].connect() as conn:
        result = conn.execute(sa.text(
            f"SELECT * FROM {table} WHERE collection = :c ORDER BY id"), {"c": collection})
        return [dict(r._mapping) for r in result]


def as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def admin_id(client: Any, headers: dict[str, str]) -> str:
    return client.get("/users/me", headers=headers).get_json()["data"]["id"]


def test_all_writes_activity_and_revisions(app, client, admin_headers):
    make_notes(app, "all")
    me = admin_id(client, admin_headers)
    ua = {"User-Agent": "transom-tests/1.0", **admin_headers}
    created = client.post("/items/notes", json={"title": "first", "rating": 1},
                          headers=ua).get_json()["data"]
    key = created["id"]
    client.patch(f"/items/notes/{key}", json={"title": "second"}, headers=ua)
    client.delete(f"/items/notes/{key}", headers=ua)

    activity = rows(app, "directus_activity")
    assert [a["action"] for a in activity] == ["create", "update", "delete"]
    for a in activity:
        assert str(a["user"]) == me and a["collection"] == "notes" and a["item"] == str(key)
        assert a["ip"] == "127.0.0.1" and a["user_agent"] == "transom-tests/1.0"
        assert a["timestamp"] is not None

    revisions = rows(app, "directus_revisions")
    assert [r["activity"] for r in revisions] == [a["id"] for a in activity[:2]]
    first, second = (as_json(r["data"]) for r in revisions)
    assert first["title"] == "first" and first["rating"] == 1 and first["id"] == key
    assert second["title"] == "second" and second["rating"] == 1
    assert as_json(revisions[0]["delta"]) == {"title": "first", "rating": 1}
    assert as_json(revisions[1]["delta"]) == {"title": "second"}
    assert all(r["item"] == str(key) for r in revisions)

    # and the read-only API serves them
    body = client.get("/activity?filter[collection][_eq]=notes&sort=id&fields=action,item",
                      headers=admin_headers).get_json()
    assert [a["action"] for a in body["data"]] == ["create", "update", "delete"]
    body = client.get("/revisions?filter[collection][_eq]=notes&sort=id"
                      "&fields=data,delta,activity.action", headers=admin_headers).get_json()
    assert [r["activity"]["action"] for r in body["data"]] == ["create", "update"]
    assert body["data"][1]["data"]["title"] == "second"
    assert client.post("/activity", json={}, headers=admin_headers).status_code in (403, 404,
                                                                                    405)


def test_no_metadata_row_means_all(app, client, admin_headers):
    make_notes(app, meta=False)
    client.post("/items/notes", json={"title": "x"}, headers=admin_headers)
    assert len(rows(app, "directus_activity")) == 1
    assert len(rows(app, "directus_revisions")) == 1


def test_activity_only(app, client, admin_headers):
    make_notes(app, "activity")
    key = client.post("/items/notes", json={"title": "x"},
                      headers=admin_headers).get_json()["data"]["id"]
    client.patch(f"/items/notes/{key}", json={"title": "y"}, headers=admin_headers)
    assert [a["action"] for a in rows(app, "directus_activity")] == ["create", "update"]
    assert rows(app, "directus_revisions") == []


def test_null_accountability_tracks_nothing(app, client, admin_headers):
    make_notes(app, None)
    key = client.post("/items/notes", json={"title": "x"},
                      headers=admin_headers).get_json()["data"]["id"]
    client.patch(f"/items/notes/{key}", json={"title": "y"}, headers=admin_headers)
    client.delete(f"/items/notes/{key}", headers=admin_headers)
    assert rows(app, "directus_activity") == []
    assert rows(app, "directus_revisions") == []


def test_a_rolled_back_write_leaves_no_activity(app, client, admin_headers):
    make_notes(app, "all")
    resp = client.post("/items/notes", json=[{"title": "ok"}, {"body": "no title"}],
                       headers=admin_headers)
    assert resp.status_code == 400
    assert rows(app, "directus_activity") == [] and rows(app, "directus_revisions") == []


def test_revert_restores_an_earlier_revision(app, client, admin_headers):
    make_notes(app, "all")
    key = client.post("/items/notes", json={"title": "v1", "body": "one", "rating": 1},
                      headers=admin_headers).get_json()["data"]["id"]
    client.patch(f"/items/notes/{key}", json={"title": "v2", "rating": 2},
                 headers=admin_headers)
    client.patch(f"/items/notes/{key}", json={"body": "three"}, headers=admin_headers)
    first = rows(app, "directus_revisions")[0]["id"]

    resp = client.post(f"/utils/revert/{first}", headers=admin_headers)
    assert resp.status_code == 204 and resp.data == b""
    item = client.get(f"/items/notes/{key}", headers=admin_headers).get_json()["data"]
    assert item == {"id": key, "title": "v1", "body": "one", "rating": 1}
    # the revert is a change like any other: one more activity and revision
    activity = rows(app, "directus_activity")
    assert [a["action"] for a in activity] == ["create", "update", "update", "update"]
    assert as_json(rows(app, "directus_revisions")[-1]["data"])["title"] == "v1"

    missing = client.post("/utils/revert/999999", headers=admin_headers)
    assert missing.status_code == 403
    assert client.post("/utils/revert/abc", headers=admin_headers).status_code == 403
    client.delete(f"/items/notes/{key}", headers=admin_headers)
    assert client.post(f"/utils/revert/{first}", headers=admin_headers).status_code == 403


def _user_with_permissions(client: Any, admin: dict[str, str],
                           permissions: list[dict[str, Any]]) -> dict[str, str]:
    policy = client.post("/policies", json={"name": f"p-{uuid.uuid4().hex[:6]}",
                                            "app_access": False, "admin_access": False},
                         headers=admin).get_json()["data"]
    for perm in permissions:
        resp = client.post("/permissions", json={"policy": policy["id"], **perm},
                           headers=admin)
        assert resp.status_code == 200, resp.get_json()
    role = client.post("/roles", json={"name": f"r-{uuid.uuid4().hex[:6]}"},
                       headers=admin).get_json()["data"]
    client.post("/access", json={"role": role["id"], "policy": policy["id"]}, headers=admin)
    token = uuid.uuid4().hex
    resp = client.post("/users", json={"email": f"{token[:8]}@example.com", "role": role["id"],
                                       "token": token, "status": "active"}, headers=admin)
    assert resp.status_code == 200, resp.get_json()
    return {"Authorization": f"Bearer {token}"}


def test_revert_needs_update_permission(app, client, admin_headers):
    make_notes(app, "all")
    key = client.post("/items/notes", json={"title": "v1"},
                      headers=admin_headers).get_json()["data"]["id"]
    client.patch(f"/items/notes/{key}", json={"title": "v2"}, headers=admin_headers)
    first = rows(app, "directus_revisions")[0]["id"]

    reader = _user_with_permissions(client, admin_headers, [
        {"collection": "notes", "action": "read", "fields": ["*"]}])
    assert client.post(f"/utils/revert/{first}", headers=reader).status_code == 403
    assert client.post(f"/utils/revert/{first}").status_code == 403  # anonymous

    editor = _user_with_permissions(client, admin_headers, [
        {"collection": "notes", "action": "read", "fields": ["*"]},
        {"collection": "notes", "action": "update", "fields": ["*"]}])
    assert client.post(f"/utils/revert/{first}", headers=editor).status_code == 204
    item = client.get(f"/items/notes/{key}", headers=admin_headers).get_json()["data"]
    assert item["title"] == "v1"
    last = rows(app, "directus_activity")[-1]
    assert last["action"] == "update" and last["user"] is not None
    assert str(last["user"]) != admin_id(client, admin_headers)  # the editor did it


@pytest.mark.backends("sqlite")
def test_utils_random_string(client):
    data = client.get("/utils/random/string").get_json()["data"]
    assert len(data) == 32 and data.replace("_", "").replace("-", "").isalnum()
    assert len(client.get("/utils/random/string?length=500").get_json()["data"]) == 500
    resp = client.get("/utils/random/string?length=501")
    assert resp.status_code == 400
    assert resp.get_json()["errors"][0]["extensions"]["code"] == "INVALID_QUERY"
    assert client.get("/utils/random/string?length=0").status_code == 400


@pytest.mark.backends("sqlite")
def test_utils_hash_generate_and_verify(client):
    hashed = client.post("/utils/hash/generate", json={"string": "s3cret"}).get_json()["data"]
    assert hashed.startswith("$argon2")
    verify = client.post("/utils/hash/verify", json={"string": "s3cret", "hash": hashed})
    assert verify.get_json() == {"data": True}
    wrong = client.post("/utils/hash/verify", json={"string": "nope", "hash": hashed})
    assert wrong.get_json() == {"data": False}
    resp = client.post("/utils/hash/generate", json={})
    assert resp.status_code == 400
    assert resp.get_json()["errors"][0]["extensions"]["code"] == "INVALID_PAYLOAD"
    assert client.post("/utils/hash/verify", json={"string": "x"}).status_code == 400
