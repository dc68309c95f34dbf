"""The real server (``transom start``, 2 workers) over HTTP: an item create runs its flow
exactly once, a webhook answers ``$last`` on every worker (and follows changes at once), and
a schedule flow runs once per tick for the whole deployment."""

from __future__ import annotations

from collections import Counter

import pytest

from transom.testing.live import collection_body, wait_for

pytestmark = pytest.mark.live

AUDIT = collection_body("audit", {"field": "note", "type": "string"},
                        {"field": "ref", "type": "integer"})


def _call(server):
    return lambda method, path, body=None: server.ok(method, path, body)


def _audit(server):
    return server.ok("GET", "/items/audit?limit=-1&fields=note,ref") or []


def test_item_create_runs_its_flow_exactly_once(live_server, flow_builder, backend):
    server = live_server(workers=2)
    server.ok("POST", "/collections", collection_body("articles"))
    server.ok("POST", "/collections", AUDIT)
    made = flow_builder(_call(server), {
        "name": "once", "trigger": "event",
        "options": {"type": "action", "scope": ["items.create"], "collections": ["articles"]}},
        [{"key": "w", "type": "item-create",
          "options": {"collection": "audit", "permissions": "$full",
                      "payload": {"note": "{{ $trigger.payload.title }}",
                                  "ref": "{{ $trigger.key }}"}}}])
    n = 24
    answers = server.burst("POST", "/items/articles", n=n,
                           body=lambda i: {"title": f"t{i}"}, full=True)
    assert [s for s, _ in answers] == [200] * n
    keys = sorted(body["data"]["id"] for _, body in answers)
    assert wait_for(lambda: len(_audit(server)) >= n, timeout=60) is not None
    rows = _audit(server)
    assert Counter(r["ref"] for r in rows) == Counter(keys)  # one row per item, none twice
    runs_url = (f"/activity?filter[action][_eq]=run&filter[item][_eq]={made['id']}"
                "&limit=-1&fields=id")
    # a run's activity row is written once its last operation is done, after the audit row
    assert wait_for(lambda: len(server.ok("GET", runs_url)) >= n, timeout=30) is not None
    assert len(server.ok("GET", runs_url)) == n  # and never twice
    assert server.traceback() is None


def test_webhook_answers_last_on_every_worker(live_server, flow_builder, backend):
    server = live_server(workers=2)
    made = flow_builder(_call(server), {"name": "hook", "trigger": "webhook",
                                        "options": {"method": "GET"}},
                        [{"key": "out", "type": "transform",
                          "options": {"json": {"v": 1, "q": "{{ $trigger.query.q }}"}}}])
    path = f"/flows/trigger/{made['id']}?q=x"
    answers = server.burst("GET", path, n=12, full=True)
    assert answers == [(200, {"v": 1, "q": "x"})] * 12
    # a change made through one worker is honoured by every worker at once
    server.ok("PATCH", f"/operations/{made['ops']['out']}",
              {"options": {"json": {"v": 2, "q": "{{ $trigger.query.q }}"}}})
    assert server.burst("GET", path, n=12, full=True) == [(200, {"v": 2, "q": "x"})] * 12
    server.ok("PATCH", f"/flows/{made['id']}", {"status": "inactive"})
    assert set(server.burst("GET", path, n=12)) == {403}


def test_schedule_runs_once_per_tick_across_workers(live_server, flow_builder, backend):
    server = live_server(workers=2)
    server.ok("POST", "/collections", AUDIT)
    made = flow_builder(_call(server), {"name": "every second", "trigger": "schedule",
                                        "options": {"cron": "* * * * * *"}},
                        [{"key": "w", "type": "item-create",
                          "options": {"collection": "audit",
                                      "payload": {"note": "{{ $trigger.timestamp }}"}}}])
    assert wait_for(lambda: len(_audit(server)) >= 4, timeout=60) is not None
    server.ok("PATCH", f"/flows/{made['id']}", {"status": "inactive"})
    notes = Counter(r["note"] for r in _audit(server))
    assert notes and max(notes.values()) == 1, notes  # no tick ran twice
    assert server.traceback() is None


def test_two_instances_run_each_trigger_once(live_server, flow_builder, live_redis_url,
                                             tmp_path):
    def env(name: str) -> dict[str, str]:
        return {"MESSENGER_STORE": "redis", "REDIS": live_redis_url,
                "MESSENGER_LOCAL_PATH": str(tmp_path / f"ring-{name}")}

    first = live_server("sqlite", workers=2, env=env("a"))
    second = live_server(workers=2, env=env("b"), database=first)
    first.ok("POST", "/collections", collection_body("articles"))
    first.ok("POST", "/collections", AUDIT)
    # made on the first instance, triggered on both
    flow_builder(_call(first), {
        "name": "once", "trigger": "event",
        "options": {"type": "action", "scope": ["items.create"], "collections": ["articles"]}},
        [{"key": "w", "type": "item-create",
          "options": {"collection": "audit", "payload": {"note": "item",
                                                         "ref": "{{ $trigger.key }}"}}}])
    ticks = flow_builder(_call(second), {"name": "tick", "trigger": "schedule",
                                         "options": {"cron": "* * * * * *"}},
                         [{"key": "w", "type": "item-create",
                           "options": {"collection": "audit",
                                       "payload": {"note": "{{ $trigger.timestamp }}"}}}])
    keys = []
    for server in (first, second):
        answers = server.burst("POST", "/items/articles", n=8, body={"title": "x"}, full=True)
        assert [s for s, _ in answers] == [200] * 8
        keys += [body["data"]["id"] for _, body in answers]

    def items() -> list[int]:
        return [r["ref"] for r in _audit(first) if r["note"] == "item"]

    def tick_notes() -> list[str]:
        return [r["note"] for r in _audit(first) if r["note"] != "item"]

    assert wait_for(lambda: len(items()) >= 16 and len(tick_notes()) >= 4,
                    timeout=60) is not None
    second.ok("PATCH", f"/flows/{ticks['id']}", {"status": "inactive"})
    assert Counter(items()) == Counter(keys)
    notes = Counter(tick_notes())
    assert max(notes.values()) == 1, notes
    assert first.traceback() is None and second.traceback() is None
