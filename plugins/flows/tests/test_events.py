"""Event triggers (action and filter), the data chain, templates and run logs, through the
Flask test client on every backend."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa


def _rows(api: Any, sql: str, **params: Any) -> list[Any]:
    with api.app.extensions["transom"].engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params))


def test_action_flow_writes_an_item_with_templates(api, flow, backend):
    made = flow({"name": "audit new", "trigger": "event",
                 "options": {"type": "action", "scope": ["items.create"],
                             "collections": ["articles"]}},
                [{"key": "note", "type": "item-create",
                  "options": {"collection": "audit", "permissions": "$full",
                              "payload": {"note": "new: {{ $trigger.payload.title }}",
                                          "ref": "{{ $trigger.key }}"}}}])
    key = api.ok("POST", "/items/articles", {"title": "Hello"})["id"]
    assert api.ok("GET", "/items/audit?fields=note,ref") == [{"note": "new: Hello", "ref": key}]
    # another collection's create does not match the flow
    api.ok("POST", "/items/audit", {"note": "direct"})
    assert len(api.ok("GET", "/items/audit")) == 2
    # the run log: activity "run" and a revision with the steps
    acts = _rows(api, "SELECT id, action, collection, item FROM directus_activity "
                      "WHERE action = 'run'")
    assert [(a.action, a.collection, a.item) for a in acts] == \
        [("run", "directus_flows", made["id"])]
    rev = _rows(api, "SELECT data FROM directus_revisions WHERE activity = :a", a=acts[0].id)
    data = json.loads(rev[0].data) if isinstance(rev[0].data, str) else rev[0].data
    assert [(s["key"], s["status"]) for s in data["steps"]] == [("note", "resolve")]
    assert data["steps"][0]["options"]["payload"] == {"note": "new: Hello", "ref": key}
    assert data["data"]["$trigger"]["event"] == "articles.items.create"


def test_resolve_and_reject_paths(api, flow, backend):
    flow({"name": "route", "trigger": "event",
          "options": {"type": "action", "scope": ["items.create"], "collections": ["articles"]}},
         [{"key": "check", "type": "condition", "resolve": "yes", "reject": "no",
           "options": {"filter": {"$trigger": {"payload": {"status": {"_eq": "published"}}}}}},
          {"key": "yes", "type": "item-create",
           "options": {"collection": "audit", "payload": {"note": "published"}}},
          {"key": "no", "type": "item-create",
           "options": {"collection": "audit",
                       "payload": {"note": "{{ $last.message }}"}}}])
    api.ok("POST", "/items/articles", {"title": "a", "status": "published"})
    api.ok("POST", "/items/articles", {"title": "b", "status": "draft"})
    notes = [r["note"] for r in api.ok("GET", "/items/audit?sort=id")]
    assert notes == ["published", "The condition is not met"]


def test_filter_flow_changes_the_payload(api, flow, backend):
    flow({"name": "shout", "trigger": "event",
          "options": {"type": "filter", "scope": ["items.create"], "collections": ["articles"],
                      "return": "$last"}},
         [{"key": "upper", "type": "transform",
           "options": {"json": {"title": "{{ $trigger.payload.title }}!", "status": "checked"}}}])
    key = api.ok("POST", "/items/articles", {"title": "hi"})["id"]
    assert api.ok("GET", f"/items/articles/{key}?fields=title,status") == \
        {"title": "hi!", "status": "checked"}


def test_filter_flow_cancels_the_write(api, flow, backend):
    flow({"name": "guard", "trigger": "event", "accountability": None,
          "options": {"type": "filter", "scope": ["items.create", "items.update"],
                      "collections": ["articles"]}},
         [{"key": "title_needed", "type": "condition",
           "options": {"filter": {"$trigger": {"payload": {"title": {"_nnull": True}}}}}}])
    r = api.call("POST", "/items/articles", {"status": "x"})
    assert r.status_code == 400
    assert r.get_json()["errors"][0]["extensions"]["code"] == "INVALID_PAYLOAD"
    assert api.ok("GET", "/items/articles") == []
    assert api.ok("POST", "/items/articles", {"title": "ok"})["title"] == "ok"
    # no run log with accountability null
    assert _rows(api, "SELECT id FROM directus_activity WHERE action = 'run'") == []


def test_update_and_delete_events_and_the_chain(api, flow, backend):
    flow({"name": "changes", "trigger": "event",
          "options": {"type": "action", "scope": ["items.update", "items.delete"],
                      "collections": ["articles"]}},
         [{"key": "w", "type": "item-create",
           "options": {"collection": "audit",
                       "payload": {"note": "{{ $trigger.event }} by {{ $accountability.admin }}"
                                           " last={{ $last.collection }}",
                                   "ref": "{{ $trigger.keys[0] }}"}}}])
    key = api.ok("POST", "/items/articles", {"title": "a"})["id"]
    api.ok("PATCH", f"/items/articles/{key}", {"title": "b"})
    api.call("DELETE", f"/items/articles/{key}")
    rows = api.ok("GET", "/items/audit?sort=id&fields=note,ref")
    assert rows == [{"note": "articles.items.update by true last=articles", "ref": key},
                    {"note": "articles.items.delete by true last=articles", "ref": key}]


def test_role_permissions_allow_what_the_role_may(api, flow, backend):
    policy = api.ok("POST", "/policies", {"name": "writers", "icon": "badge",
                                          "app_access": False, "admin_access": False})
    role = api.ok("POST", "/roles", {"name": "writer"})["id"]
    api.ok("POST", "/access", {"role": role, "policy": policy["id"]})
    api.ok("POST", "/permissions", {"policy": policy["id"], "collection": "audit",
                                    "action": "create", "fields": ["note"], "permissions": {}})
    made = flow({"name": "as role", "trigger": "webhook", "options": {"method": "POST"}},
                [{"key": "ok", "type": "item-create", "resolve": "bad",
                  "options": {"collection": "audit", "permissions": role,
                              "payload": {"note": "by role"}}},
                 {"key": "bad", "type": "item-create",
                  "options": {"collection": "audit", "permissions": role,
                              "payload": {"note": "x", "ref": 1}}}])
    r = api.call("POST", f"/flows/trigger/{made['id']}", {})
    assert r.status_code == 403  # the role may not write "ref"
    assert [i["note"] for i in api.ok("GET", "/items/audit")] == ["by role"]
