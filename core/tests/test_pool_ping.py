"""Pooled connections are pinged before use only once they have sat idle
(``DB_POOL_PING_IDLE``), and an idle connection the server has cut is replaced without the
caller seeing an error; on PostgreSQL and MariaDB (SQLite has no server to lose)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.backends("postgres", "mysql")

BACKEND_ID = {"postgres": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}
KILL = {"postgres": "SELECT pg_terminate_backend({})", "mysql": "KILL {}"}


def _counting_pings(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    real = engine.dialect.do_ping

    def spy(dbapi_connection: Any) -> Any:
        pings.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", spy)
    return pings


def test_busy_connections_are_not_pinged(make_app, backend, monkeypatch):
    engine = make_app({"DB_POOL_PING_IDLE": "30"}).extensions["transom"].engine
    pings = _counting_pings(engine, monkeypatch)
    for _ in range(20):
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    assert pings == []


def test_idle_connections_are_pinged(make_app, backend, monkeypatch):
    engine = make_app({"DB_POOL_PING_IDLE": "0.05"}).extensions["transom"].engine
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    pings = _counting_pings(engine, monkeypatch)
    time.sleep(0.1)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    assert pings == [1]


def test_a_cut_idle_connection_is_replaced(make_app, backend):
    engine = make_app({"DB_POOL_PING_IDLE": "0.05"}).extensions["transom"].engine
    with engine.connect() as conn:
        victim = conn.execute(sa.text(BACKEND_ID[backend])).scalar()
    other = sa.create_engine(engine.url, poolclass=sa.pool.NullPool)
    try:
        with other.connect() as killer:
            killer.execute(sa.text(KILL[backend].format(int(victim))))
            killer.commit()
    finally:
        other.dispose()
    time.sleep(0.2)
    with engine.connect() as conn:  # the pooled one is dead: the ping replaces it
        now = conn.execute(sa.text(BACKEND_ID[backend])).scalar()
    assert now != victim


def test_zero_pings_at_every_checkout(make_app, backend, monkeypatch):
    engine = make_app({"DB_POOL_PING_IDLE": "0"}).extensions["transom"].engine
    assert engine.pool._pre_ping is True
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    pings = _counting_pings(engine, monkeypatch)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    assert len(pings) == 1
