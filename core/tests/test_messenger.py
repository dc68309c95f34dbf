"""The messenger: the local ring shared by the workers of a machine, the Redis transport
between instances, and what the kernel does with their messages (two apps on one database
stand for two workers)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from transom.messenger import RESYNC, Message, Messenger
from transom.messenger.local import SLOT_SIZE, SLOTS, LocalBus
from transom.testing.databases import in_ci
from transom.testing.live import wait_for


def _pair(tmp_path):
    path = str(tmp_path / "bus")
    return Messenger((), LocalBus(path)), Messenger((), LocalBus(path))


def test_local_bus_delivers_to_the_other_process_only(tmp_path):
    a, b = _pair(tmp_path)
    got_a, got_b = [], []
    a.subscribe("schema", got_a.append)
    b.subscribe("schema", got_b.append)
    a.publish("schema", {"collections": ["articles"]})
    assert got_a == [{"collections": ["articles"]}]  # applied at once where it was made
    assert got_b == []  # nothing until the other side looks
    b.sync()
    assert got_b == [{"collections": ["articles"]}]
    b.sync()  # nothing new: handled once
    a.sync()  # its own message is not handled twice
    assert got_b == [{"collections": ["articles"]}] and len(got_a) == 1


def test_local_bus_keeps_order_and_topics(tmp_path):
    a, b = _pair(tmp_path)
    seen = []
    b.subscribe("schema", lambda p: seen.append(("schema", p.get("n"))))
    b.subscribe("access", lambda p: seen.append(("access", p.get("n"))))
    for n in range(5):
        a.publish("schema" if n % 2 else "access", {"n": n})
    b.sync()
    assert seen == [("access", 0), ("schema", 1), ("access", 2), ("schema", 3), ("access", 4)]


def test_a_reader_that_fell_behind_the_ring_resyncs(tmp_path):
    a, b = _pair(tmp_path)
    resyncs = []
    b.subscribe("schema", lambda p: resyncs.append(p))
    for n in range(SLOTS + 5):
        a.publish("other", {"n": n})
    b.sync()
    assert {} in resyncs  # every handler ran with an empty payload: drop everything


def test_a_message_too_large_for_a_slot_goes_without_its_payload(tmp_path):
    a, b = _pair(tmp_path)
    got = []
    b.subscribe("schema", got.append)
    a.publish("schema", {"collections": ["x" * 50 for _ in range(SLOT_SIZE // 10)]})
    b.sync()
    assert got == [{}]


def test_sync_is_thread_safe_and_handles_each_message_once(tmp_path):
    a, b = _pair(tmp_path)
    count = []
    b.subscribe("t", lambda p: (time.sleep(0.01), count.append(p["n"])))
    for n in range(20):
        a.publish("t", {"n": n})
    threads = [threading.Thread(target=b.sync) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(count) == list(range(20))


def test_a_forked_worker_reads_the_ring_through_its_own_mapping(tmp_path):
    a, b = _pair(tmp_path)
    got = []
    b.subscribe("t", got.append)
    pid = os.fork()
    if pid == 0:  # the child publishes, as another gunicorn worker would
        try:
            a.publish("t", {"from": "child"})
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    b.sync()
    assert got == [{"from": "child"}]


def test_remote_messages_are_deduplicated_and_resync_runs_every_handler(tmp_path):
    m = Messenger((), LocalBus(str(tmp_path / "bus")))
    seen = []
    m.subscribe("a", lambda p: seen.append(("a", p)))
    m.subscribe("b", lambda p: seen.append(("b", p)))
    msg = Message("a", {"x": 1}, origin="elsewhere")
    m.deliver(msg)
    m.deliver(msg)  # the same message through a second transport
    m.deliver(Message("a", {"x": 2}, origin=m.origin))  # its own: ignored
    m.deliver(Message(RESYNC, {}, origin="elsewhere"))
    assert seen == [("a", {"x": 1}), ("a", {}), ("b", {})]


def test_a_closed_bus_stays_readable_for_threads_still_running(tmp_path):
    a, b = _pair(tmp_path)
    a.publish("t", {})
    head = b.local.head()
    b.local.close()
    assert b.local.head() == head  # a request finishing during shutdown: no error
    b.sync()  # nothing is read any more, nothing fails
    b.publish("t", {})  # nor written
    assert a.local.head() == head


def test_message_codec_round_trip_and_garbage():
    msg = Message("schema", {"collections": ["a"]}, origin="o")
    back = Message.decode(msg.encode())
    assert back == msg
    assert Message.decode(b"not json") is None
    assert Message.decode(b'{"p": {}}') is None


# -- Redis between instances --------------------------------------------------------------
def _redis_url() -> str:
    import redis

    url = os.environ.get("TRANSOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if in_ci():
            pytest.fail(f"CI=true but Redis is unreachable: {exc}")
        pytest.skip(f"Redis unreachable: {exc}")
    return url




def test_redis_transport_reaches_another_instance(tmp_path):
    from transom.messenger.redis import RedisTransport

    url = _redis_url()
    ns = f"t{os.getpid()}{time.monotonic_ns()}"
    a = Messenger([RedisTransport(url, ns, lambda why: None)])
    b = Messenger()
    b.transports = [RedisTransport(url, ns, b.resync)]
    got = []
    b.subscribe("schema", got.append)
    a.start()
    b.start()
    try:
        assert b.transports[0].ready.wait(5)
        # the delay itself is measured by the live tests, not asserted here; a resync after
        # a reconnect delivers {} as well. Pub/sub gives no delivery guarantee to a
        # subscriber that has only just been confirmed (seen once in ~10 CI runs), so the
        # message is sent again until it arrives: what is checked is that messages cross.
        for _ in range(10):
            a.publish("schema", {"collections": ["articles"]})
            if wait_for(lambda: {"collections": ["articles"]} in got, timeout=1) is not None:
                break
        assert {"collections": ["articles"]} in got
    finally:
        a.close()
        b.close()


# -- the kernel: two apps on one database stand for two workers ---------------------------
def test_every_app_has_a_local_bus_by_default(make_app, db_url):
    from transom.messenger.local import default_path
    from transom.messenger.setup import database_identity

    cms = make_app(bootstrap=False).extensions["transom"]
    assert cms.messenger.local is not None
    assert cms.messenger.local.path == default_path(database_identity(cms), "transom")
    off = make_app({"MESSENGER_LOCAL_PATH": "false"}, bootstrap=False).extensions["transom"]
    assert off.messenger.local is None


@pytest.fixture
def two_workers(make_app, tmp_path):
    config = {"MESSENGER_LOCAL_PATH": str(tmp_path / "bus")}
    return make_app(config), make_app(config, bootstrap=False)


def test_a_schema_change_is_honoured_by_the_other_worker_at_once(two_workers, admin_headers):
    a, b = (app.test_client() for app in two_workers)
    body = {"collection": "notes", "fields": [
        {"field": "id", "type": "integer",
         "schema": {"is_primary_key": True, "has_auto_increment": True}},
        {"field": "title", "type": "string"}]}
    assert a.post("/collections", json=body, headers=admin_headers).status_code == 200
    assert b.get("/items/notes", headers=admin_headers).status_code == 200
    assert a.post("/fields/notes", json={"field": "rating", "type": "integer"},
                  headers=admin_headers).status_code == 200
    r = b.post("/items/notes", json={"title": "x", "rating": 3}, headers=admin_headers)
    assert r.status_code == 200, r.get_json()
    assert a.delete("/collections/notes", headers=admin_headers).status_code == 204
    assert b.get("/items/notes", headers=admin_headers).status_code == 403


def test_a_targeted_refresh_rebuilds_only_what_changed(two_workers, admin_headers):
    app_a, app_b = two_workers
    a = app_a.test_client()
    for name in ("one", "two"):
        assert a.post("/collections", json={"collection": name, "fields": [
            {"field": "id", "type": "integer",
             "schema": {"is_primary_key": True, "has_auto_increment": True}}]},
            headers=admin_headers).status_code == 200
    cms_b = app_b.extensions["transom"]
    cms_b.messenger.sync()
    before = cms_b.schema
    assert a.post("/fields/one", json={"field": "t", "type": "string"},
                  headers=admin_headers).status_code == 200
    cms_b.messenger.sync()
    after = cms_b.schema
    assert after.version != before.version
    assert after.get("two") is before.get("two")  # untouched: the same object
    assert "t" in after.get("one").fields
    # the targeted result equals a full re-read
    full = cms_b.refresh_schema()
    assert full.version == after.version


def test_permission_changes_reach_the_other_worker_at_once(two_workers, admin_headers):
    a, b = (app.test_client() for app in two_workers)
    assert a.post("/collections", json={"collection": "docs", "fields": [
        {"field": "id", "type": "integer",
         "schema": {"is_primary_key": True, "has_auto_increment": True}}]},
        headers=admin_headers).status_code == 200
    policy = a.post("/policies", json={"name": "readers", "app_access": False},
                    headers=admin_headers).get_json()["data"]["id"]
    role = a.post("/roles", json={"name": "Reader"}, headers=admin_headers).get_json()
    role = role["data"]["id"]
    assert a.post("/access", json={"role": role, "policy": policy},
                  headers=admin_headers).status_code == 200
    assert a.post("/users", json={"email": "r@example.com", "password": "pw-123456",
                                  "role": role, "token": "reader-token", "status": "active"},
                  headers=admin_headers).status_code == 200
    reader = {"Authorization": "Bearer reader-token"}
    assert b.get("/items/docs", headers=reader).status_code == 403
    perm = a.post("/permissions", json={"policy": policy, "collection": "docs",
                                        "action": "read", "fields": ["*"], "permissions": {}},
                  headers=admin_headers).get_json()["data"]["id"]
    assert b.get("/items/docs", headers=reader).status_code == 200
    assert a.delete(f"/permissions/{perm}", headers=admin_headers).status_code == 204
    assert b.get("/items/docs", headers=reader).status_code == 403
