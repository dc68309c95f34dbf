"""Save-time validation, the cached graph and its invalidation, schedules, templates and
the in-memory filters of the condition operation."""

from __future__ import annotations

import datetime as dt

import pytest
from transom_flows import get_state
from transom_flows.templates import FilterSyntaxError, matches, render

EVENT = {"type": "action", "scope": ["items.create"], "collections": ["articles"]}


@pytest.mark.parametrize("body", [
    {"name": "x", "status": "paused"},
    {"name": "x", "trigger": "sometimes"},
    {"name": "x", "accountability": "everything"},
    {"name": "x", "trigger": "schedule", "options": {"cron": "every minute"}},
    {"name": "x", "trigger": "schedule", "options": {}},
    {"name": "x", "trigger": "event", "options": {"type": "later", "scope": ["items.create"]}},
    {"name": "x", "trigger": "event", "options": {"type": "action", "scope": "items.create"}},
    {"name": "x", "trigger": "webhook", "options": {"method": "DELETE"}},
    {"name": "x", "options": "not an object"},
])
def test_bad_flows_are_400(api, backend, body):
    r = api.call("POST", "/flows", body)
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["errors"][0]["extensions"]["code"] == "INVALID_PAYLOAD"
    assert api.ok("GET", "/flows") == []


def test_bad_updates_and_operations_are_400(api, flow, backend):
    made = flow({"name": "s", "trigger": "schedule", "options": {"cron": "0 * * * *"}},
                [{"key": "a", "type": "log"}, {"key": "b", "type": "log"}])
    # the stored trigger is checked with the new options
    r = api.call("PATCH", f"/flows/{made['id']}", {"options": {"cron": "61 * * * *"}})
    assert r.status_code == 400
    other = flow({"name": "o", "trigger": "manual", "options": {}}, [{"key": "c", "type": "log"}])
    base = {"flow": made["id"], "position_x": 1, "position_y": 1}
    assert api.call("POST", "/operations", {**base, "key": "z", "type": "teleport"}
                    ).status_code == 400
    assert api.call("POST", "/operations", {**base, "key": "$last", "type": "log"}
                    ).status_code == 400
    assert api.call("POST", "/operations", {**base, "key": "z", "type": "trigger",
                                            "options": {"iterationMode": "random"}}
                    ).status_code == 400
    # links must stay inside the flow and never loop on themselves
    a = made["ops"]["a"]
    assert api.call("PATCH", f"/operations/{a}", {"resolve": other["ops"]["c"]}
                    ).status_code == 400
    assert api.call("PATCH", f"/operations/{a}", {"reject": a}).status_code == 400
    assert api.ok("PATCH", f"/operations/{a}", {"reject": made["ops"]["b"]})["reject"] == \
        made["ops"]["b"]


def test_graph_is_cached_and_dropped_on_change(api, flow, backend):
    state = get_state(api.app.extensions["transom"])
    made = flow({"name": "count", "trigger": "event", "options": EVENT},
                [{"key": "w", "type": "item-create",
                  "options": {"collection": "audit", "payload": {"note": "v1"}}}])
    api.ok("POST", "/items/articles", {"title": "1"})
    loads = state.store.loads
    api.ok("POST", "/items/articles", {"title": "2"})
    api.ok("POST", "/items/articles", {"title": "3"})
    assert state.store.loads == loads  # item writes read the cache
    api.ok("PATCH", f"/operations/{made['ops']['w']}",
           {"options": {"collection": "audit", "payload": {"note": "v2"}}})
    api.ok("POST", "/items/articles", {"title": "4"})
    assert state.store.loads == loads + 1
    api.ok("PATCH", f"/flows/{made['id']}", {"status": "inactive"})
    api.ok("POST", "/items/articles", {"title": "5"})
    notes = [i["note"] for i in api.ok("GET", "/items/audit?sort=id")]
    assert notes == ["v1", "v1", "v1", "v2"]


def test_filter_flow_writes_in_the_same_transaction(api, flow, backend):
    flow({"name": "side", "trigger": "event",
          "options": {"type": "filter", "scope": ["items.create"], "collections": ["articles"]}},
         [{"key": "w", "type": "item-create",
           "options": {"collection": "audit",
                       "payload": {"note": "{{ $trigger.payload.title }}"}}}])
    api.ok("POST", "/items/articles", {"title": "kept"})
    # a write that fails after the filter ran rolls the flow's write back with it
    r = api.call("POST", "/items/articles", [{"id": 50, "title": "gone"},
                                             {"id": 50, "title": "twice"}])
    assert r.status_code == 400, r.get_json()
    assert [i["note"] for i in api.ok("GET", "/items/audit")] == ["kept"]


def test_schedule_runs_once_per_tick_for_two_workers(make_app, flow_builder, api, backend):

    made = flow_builder(api.ok, {"name": "tick", "trigger": "schedule",
                                 "options": {"cron": "*/5 * * * * *"}},
                        [{"key": "w", "type": "item-create",
                          "options": {"collection": "audit", "payload": {"note": "tick"}}}])
    second = make_app(bootstrap=False)  # another worker on the same database
    workers = [get_state(api.app.extensions["transom"]).scheduler,
               get_state(second.extensions["transom"]).scheduler]
    start = dt.datetime(2030, 1, 1, 12, 0, 1).astimezone()
    for w in workers:
        w.replan(start)
    ran = []
    for tick in (5, 10, 15):
        at = start.replace(second=tick)
        for w in workers:
            ran += w.run_due(at)
    assert ran == [made["id"]] * 3
    assert len(api.ok("GET", "/items/audit?limit=-1")) == 3


def test_templates_keep_types():
    data = {"$trigger": {"payload": {"n": 3, "tags": ["a", "b"], "o": {"x": 1}}},
            "$last": None, "op": {"id": 9}}
    assert render("{{ $trigger.payload.n }}", data) == 3
    assert render(" {{$trigger.payload.o}} ", data) == {"x": 1}
    assert render("{{ $trigger.payload.tags[1] }}", data) == "b"
    assert render("n={{ $trigger.payload.n }} o={{ $trigger.payload.o }} m={{ nope.x }}",
                  data) == 'n=3 o={"x": 1} m='
    assert render({"k": ["{{ op.id }}", "plain"]}, data) == {"k": [9, "plain"]}
    assert render("{{ $last }}", data) is None


def test_filters_in_memory():
    item = {"status": "published", "n": 5, "tags": ["x"], "title": "Hello World", "none": None}
    assert matches({"status": {"_eq": "published"}, "n": {"_gte": 5}}, item)
    assert matches({"_or": [{"n": {"_lt": 1}}, {"title": {"_icontains": "world"}}]}, item)
    assert not matches({"_and": [{"n": {"_in": [1, 2]}}, {"status": {"_nnull": True}}]}, item)
    assert matches({"none": {"_null": True}, "tags": {"_contains": "x"}}, item)
    assert matches({"n": {"_between": [1, 9]}, "title": {"_starts_with": "Hell"}}, item)
    assert matches({"title": {"_regex": "/W.rld$/"}}, item)
    with pytest.raises(FilterSyntaxError):
        matches({"n": {"_sortof": 1}}, item)
