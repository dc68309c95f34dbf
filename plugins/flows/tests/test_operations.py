"""Webhook and manual triggers and each operation, through the Flask test client."""

from __future__ import annotations

from typing import Any

from transom_flows import get_state

from transom.testing.plugin import ADMIN_TOKEN

WEBHOOK = {"trigger": "webhook", "options": {"method": "POST"}}


def _hook(flow: Any, ops: list[dict[str, Any]], **options: Any) -> str:
    return flow({"name": "hook", "trigger": "webhook",
                 "options": {"method": "POST", **options}}, ops)["id"]


def test_webhook_answers_last_and_all(api, flow, backend):
    fid = _hook(flow, [{"key": "shape", "type": "transform",
                        "options": {"json": {"got": "{{ $trigger.body.n }}",
                                             "q": "{{ $trigger.query.x }}"}}}])
    r = api.call("POST", f"/flows/trigger/{fid}?x=1", {"n": 41})
    assert r.status_code == 200
    assert r.get_json() == {"got": 41, "q": "1"}
    # the wrong method, an unknown flow: 403 as Directus
    assert api.call("GET", f"/flows/trigger/{fid}").status_code == 403
    assert api.call("POST", "/flows/trigger/00000000-0000-4000-8000-000000000000"
                    ).status_code == 403
    fid_all = _hook(flow, [{"key": "one", "type": "transform", "options": {"json": 1}}],
                    **{"return": "$all"})
    body = api.call("POST", f"/flows/trigger/{fid_all}", {}).get_json()
    assert body["one"] == 1 and body["$last"] == 1 and "$trigger" in body


def test_webhook_get_async_and_empty(api, flow, backend):
    fid = flow({"name": "get", "trigger": "webhook", "options": {"method": "GET"}},
               [{"key": "log", "type": "log", "options": {"message": "hi {{ $trigger.path }}"}}]
               )["id"]
    assert api.call("GET", f"/flows/trigger/{fid}").status_code == 204
    fid = _hook(flow, [{"key": "w", "type": "item-create",
                        "options": {"collection": "audit", "payload": {"note": "async"}}}],
                **{"async": True})
    assert api.call("POST", f"/flows/trigger/{fid}", {}).status_code == 204
    get_state(api.app.extensions["transom"]).join_background()
    assert [i["note"] for i in api.ok("GET", "/items/audit")] == ["async"]


def test_rejected_webhook_answers_the_error(api, flow, backend):
    fid = _hook(flow, [{"key": "boom", "type": "throw-error",
                        "options": {"code": "TEAPOT", "status": 418, "message": "no tea"}}])
    r = api.call("POST", f"/flows/trigger/{fid}", {})
    assert r.status_code == 418
    assert r.get_json()["errors"][0] == {"message": "no tea", "extensions": {"code": "TEAPOT"}}


def test_manual_trigger(api, flow, backend):
    key = api.ok("POST", "/items/articles", {"title": "x"})["id"]
    fid = flow({"name": "manual", "trigger": "manual",
                "options": {"collections": ["articles"]}},
               [{"key": "read", "type": "item-read",
                 "options": {"collection": "articles", "key": "{{ $trigger.body.keys }}",
                             "query": {"fields": ["title"]}}}])["id"]
    r = api.call("POST", f"/flows/trigger/{fid}", {"collection": "articles", "keys": [key]})
    assert r.status_code == 200 and r.get_json() == {"title": "x"}
    # another collection, a missing item, no user: refused
    assert api.call("POST", f"/flows/trigger/{fid}",
                    {"collection": "audit", "keys": [1]}).status_code == 403
    assert api.call("POST", f"/flows/trigger/{fid}",
                    {"collection": "articles", "keys": [key + 100]}).status_code == 403
    assert api.call("POST", f"/flows/trigger/{fid}", {"collection": "articles", "keys": [key]},
                    headers={}).status_code == 403
    assert api.call("POST", f"/flows/trigger/{fid}",
                    {"collection": "articles", "keys": "1"}).status_code == 400


def test_item_operations(api, flow, backend):
    a = api.ok("POST", "/items/articles", {"title": "a", "status": "draft"})["id"]
    b = api.ok("POST", "/items/articles", {"title": "b", "status": "draft"})["id"]
    fid = _hook(flow, [
        {"key": "upd", "type": "item-update", "resolve": "one",
         "options": {"collection": "articles", "key": [a, b], "payload": {"status": "done"}}},
        {"key": "one", "type": "item-update", "resolve": "del",
         "options": {"collection": "articles", "key": a, "payload": {"title": "A"}}},
        {"key": "del", "type": "item-delete", "resolve": "read",
         "options": {"collection": "articles", "key": b}},
        {"key": "read", "type": "item-read",
         "options": {"collection": "articles", "query": {"fields": ["id", "title", "status"]}}},
    ], **{"return": "$all"})
    body = api.call("POST", f"/flows/trigger/{fid}", {}).get_json()
    assert sorted(body["upd"]) == sorted([a, b])
    assert body["one"] == a and body["del"] == b
    assert body["read"] == [{"id": a, "title": "A", "status": "done"}]


def test_item_permissions(api, flow, backend):
    role = api.ok("POST", "/roles", {"name": "nobody"})["id"]
    ops = [{"key": "w", "type": "item-create",
            "options": {"collection": "audit", "payload": {"note": "x"}}}]
    # anonymous caller, $trigger permissions: the public policy cannot create
    fid = _hook(flow, ops)
    r = api.call("POST", f"/flows/trigger/{fid}", {}, headers={})
    assert r.status_code == 403
    # a role without permissions
    fid = _hook(flow, [{**ops[0], "options": {**ops[0]["options"], "permissions": role}}])
    assert api.call("POST", f"/flows/trigger/{fid}", {}).status_code == 403
    # $full: the system
    fid = _hook(flow, [{**ops[0], "options": {**ops[0]["options"], "permissions": "$full"}}])
    r = api.call("POST", f"/flows/trigger/{fid}", {}, headers={})
    assert r.status_code == 200 and len(r.get_json()) == 1
    assert [i["note"] for i in api.ok("GET", "/items/audit")] == ["x"]


LOCAL_OK = {"FLOWS_REQUEST_IP_ALLOW_LIST": "127.0.0.1"}


def test_request_operation(make_api, flow_builder, backend, receiver):
    api = make_api(LOCAL_OK)  # the receiver listens on 127.0.0.1, denied by default

    def flow(f, ops):
        return flow_builder(api.ok, f, ops)

    fid = _hook(flow, [
        {"key": "call", "type": "request", "resolve": "fail",
         "options": {"url": receiver.url + "/hook", "method": "POST",
                     "headers": [{"header": "X-Flow", "value": "{{ $trigger.body.tag }}"}],
                     "body": {"tag": "{{ $trigger.body.tag }}"}}},
        {"key": "fail", "type": "request", "reject": "after",
         "options": {"url": receiver.url + "/fail"}},
        {"key": "after", "type": "transform",
         "options": {"json": {"first": "{{ call.data.echo.tag }}",
                              "status": "{{ $last.extensions.response.status }}"}}},
    ])
    r = api.call("POST", f"/flows/trigger/{fid}", {"tag": "t1"})
    assert r.get_json() == {"first": "t1", "status": 500}
    assert receiver.calls[0]["method"] == "POST"
    assert receiver.calls[0]["headers"]["X-Flow"] == "t1"
    assert receiver.calls[0]["body"] == {"tag": "t1"}
    assert [c["path"] for c in receiver.calls] == ["/hook", "/fail"]
    bad = _hook(flow, [{"key": "c", "type": "request", "options": {"url": "file:///etc/x"}}])
    assert api.call("POST", f"/flows/trigger/{bad}", {}).status_code == 400


def test_mail_notification_sleep_log(api, flow, backend):
    admin = api.ok("GET", "/users/me")["id"]
    fid = _hook(flow, [
        {"key": "mail", "type": "mail", "resolve": "note",
         "options": {"to": ["a@example.com"], "subject": "Hi {{ $trigger.body.who }}",
                     "body": "Hello\nthere"}},
        {"key": "note", "type": "notification", "resolve": "nap",
         "options": {"recipient": admin, "subject": "ping",
                     "message": "for {{ $trigger.body.who }}"}},
        {"key": "nap", "type": "sleep", "resolve": "log", "options": {"milliseconds": 1}},
        {"key": "log", "type": "log", "options": {"message": "done"}},
    ], **{"return": "$all"})
    body = api.call("POST", f"/flows/trigger/{fid}", {"who": "Ann"}).get_json()
    assert body["mail"] is None and body["nap"] is None and body["log"] is None
    mails = list(api.app.extensions["transom"].extensions["sent_mail"])
    assert [(m.recipients, m.subject) for m in mails[-2:]] == [
        (["a@example.com"], "Hi Ann"),
        # the notification, mailed as Directus does (the admin's email_notifications)
        (["admin@example.com"], "ping")]
    notes = api.ok("GET", "/notifications?fields=recipient,subject,message")
    assert notes == [{"recipient": admin, "subject": "ping", "message": "for Ann"}]
    assert len(body["note"]) == 1


def test_trigger_another_flow_with_iteration(api, flow, backend):
    child = flow({"name": "child", "trigger": "operation", "options": {"return": "$last"}},
                 [{"key": "w", "type": "item-create", "resolve": "out",
                   "options": {"collection": "audit", "payload": {"note": "{{ $trigger.n }}"}}},
                  {"key": "out", "type": "transform", "options": {"json": "{{ $trigger.n }}"}}])
    for mode in ("serial", "batch", "parallel"):
        fid = _hook(flow, [{"key": "each", "type": "trigger",
                            "options": {"flow": child["id"], "iterationMode": mode,
                                        "batchSize": 2, "payload": "{{ $trigger.body }}"}}])
        r = api.call("POST", f"/flows/trigger/{fid}", [{"n": 1}, {"n": 2}, {"n": 3}])
        assert r.get_json() == [1, 2, 3], mode
    fid = _hook(flow, [{"key": "one", "type": "trigger",
                        "options": {"flow": child["id"], "payload": {"n": 7}}}])
    assert api.call("POST", f"/flows/trigger/{fid}", {}).get_json() == 7
    assert len(api.ok("GET", "/items/audit?limit=-1")) == 10
    # a webhook flow is not callable as a sub-flow
    fid2 = _hook(flow, [{"key": "bad", "type": "trigger", "options": {"flow": fid}}])
    assert api.call("POST", f"/flows/trigger/{fid2}", {}).status_code == 400


def test_env_allow_list(make_api, flow_builder, backend, monkeypatch):
    monkeypatch.setenv("FLOW_VISIBLE", "yes")
    monkeypatch.setenv("FLOW_SECRET", "no")
    api = make_api({"FLOWS_ENV_ALLOW_LIST": "FLOW_VISIBLE"})
    fid = flow_builder(api.ok, {"name": "env", **WEBHOOK},
                       [{"key": "e", "type": "transform", "options": {"json": "{{ $env }}"}}]
                       )["id"]
    assert api.call("POST", f"/flows/trigger/{fid}", {}).get_json() == {"FLOW_VISIBLE": "yes"}


def test_bad_bodies_and_loops_end_cleanly(api, flow, backend):
    fid = _hook(flow, [{"key": "a", "type": "transform", "resolve": "b",
                        "options": {"json": "{{ $last }}"}},
                       {"key": "b", "type": "log", "resolve": "a", "options": {"message": "x"}}])
    r = api.client.post(f"/flows/trigger/{fid}", data=b"{not json",
                        headers={"Authorization": f"Bearer {ADMIN_TOKEN}",
                                 "Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.get_json()["errors"][0]["extensions"]["code"] == "INVALID_PAYLOAD"
    # a resolve cycle stops after the step limit instead of running forever
    r = api.call("POST", f"/flows/trigger/{fid}", {})
    assert r.status_code == 204
    state = get_state(api.app.extensions["transom"])
    run = state.engine.run(state.store.get(fid), {}, None)
    assert len(run.steps) == 1000


def test_public_permissions(api, flow, backend):
    fid = _hook(flow, [{"key": "r", "type": "item-read",
                        "options": {"collection": "articles", "permissions": "$public"}}])
    r = api.call("POST", f"/flows/trigger/{fid}", {})
    assert r.status_code == 403  # the public policy may not read articles

