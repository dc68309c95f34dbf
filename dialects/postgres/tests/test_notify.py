"""The messenger over PostgreSQL LISTEN/NOTIFY, between two apps on one database (two
instances on two machines: each with its own local bus)."""

from __future__ import annotations

import time

import pytest
from transom_dialect_postgres.notify import PostgresNotifyTransport, channel_name

from transom.messenger import Messenger
from transom.testing.live import wait_for

pytestmark = pytest.mark.backends("postgres")




def test_channel_names_are_safe_identifiers():
    assert channel_name("My-App.prod") == "my_app_prod_messenger"
    assert len(channel_name("x" * 100)) == 63


def test_hook_register_message_transports(make_app, tmp_path, admin_headers, backend):
    """Two instances, each its own local bus, reach each other through NOTIFY: a new
    collection made on one is readable on the other within 100 ms."""
    ns = f"n{time.monotonic_ns()}"

    def instance(name: str):
        return make_app({"MESSENGER_STORE": "postgres", "MESSENGER_NAMESPACE": ns,
                         "MESSENGER_LOCAL_PATH": str(tmp_path / name)},
                        bootstrap=name == "a")

    app_a, app_b = instance("a"), instance("b")
    cms_b = app_b.extensions["transom"]
    transport = cms_b.messenger.transports[0]
    assert isinstance(transport, PostgresNotifyTransport)
    assert transport.ready.wait(5)
    assert app_a.extensions["transom"].messenger.transports[0].ready.wait(5)
    a, b = app_a.test_client(), app_b.test_client()
    started = time.monotonic()
    assert a.post("/collections", json={"collection": "pg_notes", "fields": [
        {"field": "id", "type": "integer",
         "schema": {"is_primary_key": True, "has_auto_increment": True}}]},
        headers=admin_headers).status_code == 200
    committed = time.monotonic()
    assert wait_for(lambda: cms_b.schema.get("pg_notes") is not None) is not None
    delay = time.monotonic() - committed
    assert delay < 0.1, f"the other instance saw the change after {delay * 1000:.0f} ms"
    assert b.get("/items/pg_notes", headers=admin_headers).status_code == 200
    assert started < committed


def test_a_lost_listener_reconnects_and_resyncs(make_app, tmp_path):
    cms = make_app({"MESSENGER_STORE": "postgres",
                    "MESSENGER_LOCAL_PATH": str(tmp_path / "bus")},
                   bootstrap=False).extensions["transom"]
    transport = cms.messenger.transports[0]
    assert transport.ready.wait(5)
    resyncs = []
    cms.messenger.subscribe("probe", resyncs.append)
    pid = transport._conn.info.backend_pid
    with cms.engine.connect() as conn:  # the server ends the listening session
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
    assert wait_for(lambda: {} in resyncs, timeout=5) is not None, \
        "no resync after the reconnect"
    other = Messenger([PostgresNotifyTransport(cms.engine, "transom", lambda why: None)])
    got = []
    cms.messenger.subscribe("hello", got.append)
    assert wait_for(lambda: transport.ready.is_set()) is not None
    other.publish("hello", {"n": 1})
    assert wait_for(lambda: got == [{"n": 1}]) is not None
