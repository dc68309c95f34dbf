"""Check a pooled connection before use only when it has sat idle, not at every checkout.

SQLAlchemy's ``pool_pre_ping`` sends a ``SELECT 1`` round trip before every checkout: on a
busy worker that is one extra round trip per request, about as long as the read itself on
PostgreSQL (44 % of a list request's wall time in bench/hotpath's profile). A connection
in steady use has just proven itself; one that sat idle may have been cut by a restart,
a failover or a firewall. So the ping runs only after ``DB_POOL_PING_IDLE`` seconds idle
(0: at every checkout, SQLAlchemy's own pre-ping; negative: never). A connection that
fails mid-use still reports a disconnect, which invalidates the pool, so every connection
older than the failure is replaced (tests/live/test_live_outages.py).
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

_IDLE_SINCE = "transom_idle_since"


def ping_idle_seconds(config: Any) -> float:
    """``DB_POOL_PING_IDLE``: seconds idle before a checkout pings (1 unless set)."""
    return float(config.get("DB_POOL_PING_IDLE", 1.0))


def install_idle_ping(engine: sa.Engine, idle_seconds: float) -> None:
    """Ping connections idle longer than ``idle_seconds`` when they are checked out; a
    dead one is replaced transparently (``DisconnectionError``: the pool opens a new one)."""
    if idle_seconds <= 0:
        return  # 0: the engine pings every checkout (pool_pre_ping); < 0: no ping at all

    @sa.event.listens_for(engine, "checkin")
    def _mark_idle(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < idle_seconds:
            return
        dialect = engine.dialect
        try:
            alive = dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                raise sa.exc.DisconnectionError(str(exc)) from exc
            raise
        if alive is False:
            raise sa.exc.DisconnectionError("the connection did not answer a ping")
