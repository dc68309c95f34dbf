"""Configuration as code: ``GET /settings/export`` and ``POST /settings/import`` carry roles,
policies, access, permissions, settings and schema metadata to another database."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
import yaml

from transom.services import config_export
from transom.testing.helpers import call, data, other_app
from transom.testing.plugin import ADMIN_TOKEN

pytestmark = pytest.mark.backends("sqlite")

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def build_source(app: Any, client: Any) -> dict[str, Any]:
    """A collection, a reader role whose policy may read published titles, a user with a
    personal policy, settings, and a webhook (the webhooks plugin's table)."""
    call(client, "post", "/collections", {
        "collection": "articles", "meta": {"icon": "article", "note": "News"}, "schema": {},
        "fields": [
            {"field": "id", "type": "integer",
             "schema": {"is_primary_key": True, "has_auto_increment": True}},
            {"field": "title", "type": "string", "meta": {"note": "Headline"}},
            {"field": "status", "type": "string", "schema": {"default_value": "draft"}},
            {"field": "secret", "type": "string"},
        ]})
    role = data(call(client, "post", "/roles", {"name": "Reader", "icon": "visibility"}))
    policy = data(call(client, "post", "/policies", {
        "name": "Read published", "app_access": False, "admin_access": False}))
    call(client, "post", "/access", {"role": role["id"], "policy": policy["id"]})
    call(client, "post", "/permissions", {
        "policy": policy["id"], "collection": "articles", "action": "read",
        "permissions": {"status": {"_eq": "published"}}, "fields": ["id", "title", "status"]})
    personal = data(call(client, "post", "/policies", {"name": "Personal",
                                                       "ip_access": ["10.0.0.0/8"]}))
    user = data(call(client, "post", "/users", {"email": "someone@example.com",
                                                "password": "pw-secret", "role": role["id"]}))
    call(client, "post", "/access", {"user": user["id"], "policy": personal["id"]})
    call(client, "patch", "/settings", {"project_name": "Acme", "project_color": "#123456",
                                        "custom_aspect_ratios": [{"text": "4:3",
                                                                  "value": 1.33}]})
    hook = data(call(client, "post", "/webhooks", {"name": "ping", "url": "https://example.com/h",
                                                  "events": ["items.create"]}))
    return {"webhook": hook, "role": role, "policy": policy, "user": user, "personal": personal}


def test_export_shape(app, client):
    made = build_source(app, client)
    out = data(call(client, "get", "/settings/export"))
    assert out["version"] == 1
    assert set(out) == {"version", "roles", "policies", "access", "permissions", "settings",
                        "collections_meta", "fields_meta", "relations_meta", "webhooks"}
    assert made["role"]["id"] in {r["id"] for r in out["roles"]}
    policy = next(p for p in out["policies"] if p["id"] == made["policy"]["id"])
    assert policy["name"] == "Read published"
    [perm] = [p for p in out["permissions"] if p["policy"] == made["policy"]["id"]]
    assert perm["permissions"] == {"status": {"_eq": "published"}} and "id" not in perm
    assert {"role": made["role"]["id"], "policy": made["policy"]["id"]}.items() <= next(
        a for a in out["access"] if a["policy"] == made["policy"]["id"]).items()
    assert out["settings"]["project_name"] == "Acme"
    assert out["settings"]["custom_aspect_ratios"] == [{"text": "4:3", "value": 1.33}]
    assert "id" not in out["settings"] and "project_id" not in out["settings"]
    assert not any(k.endswith("_api_key") for k in out["settings"])
    assert {c["collection"] for c in out["collections_meta"]} == {"articles"}
    assert ("articles", "title") in {(f["collection"], f["field"]) for f in out["fields_meta"]}
    assert out["webhooks"][0]["name"] == "ping"
    assert out["webhooks"][0]["id"] == made["webhook"]["id"]
    text = str(out)
    assert "someone@example.com" not in text and "argon2" not in text  # no users, no hashes

    resp = call(client, "get", "/settings/export?export=yaml")
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="config-')
    assert yaml.safe_load(resp.get_data(as_text=True)) == out


def test_admin_only_and_bad_payloads(client):
    assert client.get("/settings/export").status_code == 403
    resp = client.post("/settings/import", json={"version": 1})
    assert resp.status_code == 403
    assert resp.get_json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    call(client, "post", "/settings/import", {"version": 99}, status=400)
    call(client, "post", "/settings/import", {"version": 1, "roles": [{"name": "no id"}]},
         status=400)
    call(client, "post", "/settings/import", {"version": 1, "permissions": "x"}, status=400)


@pytest.mark.parametrize("target_backend", ["sqlite", "postgres", "mysql"])
def test_round_trip_to_a_fresh_database(app, client, tmp_path, target_backend):
    made = build_source(app, client)
    exported = call(client, "get", "/settings/export?export=yaml").get_data()
    snapshot = data(call(client, "get", "/schema/snapshot"))
    with other_app(target_backend, tmp_path) as target:
        tc = target.test_client()
        # the schema first (schema sync), then the configuration that refers to it
        call(tc, "post", "/schema/apply", data(call(tc, "post", "/schema/diff", snapshot)),
             status=204)
        upload = {"file": (io.BytesIO(exported), "config.yaml")}
        summary = data(call(tc, "post", "/settings/import", data=upload,
                            content_type="multipart/form-data"))
        assert summary["roles"]["created"] == 2  # Reader and the source's Administrator
        assert summary["permissions"]["created"] == 1
        assert summary["access"]["skipped"] == 1  # the personal policy of a missing user
        assert summary["settings"]["updated"] == 1
        assert summary["webhooks"]["created"] == 1
        # importing again changes nothing
        again = data(call(tc, "post", "/settings/import", yaml.safe_load(exported)))
        assert all(c["created"] == 0 and c["updated"] == 0 for c in again.values()), again

        role = data(call(tc, "get", f"/roles/{made['role']['id']}"))
        assert role["name"] == "Reader" and role["icon"] == "visibility"
        policy = data(call(tc, "get", f"/policies/{made['personal']['id']}"))
        assert policy["ip_access"] == ["10.0.0.0/8"]
        assert data(call(tc, "get", "/settings"))["project_name"] == "Acme"
        assert data(call(tc, "get", "/collections/articles"))["meta"]["note"] == "News"
        assert data(call(tc, "get", "/fields/articles/title"))["meta"]["note"] == "Headline"
        assert data(call(tc, "get", "/users?filter[email][_eq]=someone@example.com")) == []
        rows = data(call(tc, "get", "/webhooks"))
        assert [(r["id"], r["name"]) for r in rows] == [(made["webhook"]["id"], "ping")]
        new = data(call(tc, "post", "/webhooks", {"name": "next", "url": "https://example.com/n",
                                                  "events": ["items.create"]}))
        assert new["id"] > made["webhook"]["id"]  # sequences moved on too

        # a reader made afterwards with the imported role reads what the permissions allow
        for title, status in (("Out", "published"), ("Soon", "draft")):
            call(tc, "post", "/items/articles", {"title": title, "status": status,
                                                 "secret": "x"})
        token = uuid.uuid4().hex
        call(tc, "post", "/users", {"email": "reader@example.com", "password": "pw",
                                    "role": made["role"]["id"], "token": token,
                                    "status": "active"})
        reader = {"Authorization": f"Bearer {token}"}
        items = data(call(tc, "get", "/items/articles", headers=reader))
        assert [(i["title"], i["status"]) for i in items] == [("Out", "published")]
        assert "secret" not in items[0]
        call(tc, "post", "/items/articles", {"title": "nope"}, headers=reader, status=403)


def test_import_updates_changed_rows_and_keeps_others(app, client):
    made = build_source(app, client)
    exported = data(call(client, "get", "/settings/export"))
    call(client, "patch", f"/roles/{made['role']['id']}", {"name": "Renamed"})
    extra = data(call(client, "post", "/roles", {"name": "Kept"}))
    perm = exported["permissions"][0]
    call(client, "delete", f"/permissions/{_perm_id(client, perm)}", status=204)
    summary = config_export.import_config(app.extensions["transom"], {"data": exported})
    assert summary["roles"]["updated"] == 1 and summary["permissions"]["created"] == 1
    assert data(call(client, "get", f"/roles/{made['role']['id']}"))["name"] == "Reader"
    assert data(call(client, "get", f"/roles/{extra['id']}"))["name"] == "Kept"  # upsert only


def _perm_id(client: Any, perm: dict[str, Any]) -> Any:
    rows = data(call(client, "get", f"/permissions?filter[policy][_eq]={perm['policy']}"
                                    f"&filter[collection][_eq]={perm['collection']}",
                     headers=ADMIN))
    return rows[0]["id"]
