"""The messenger over PostgreSQL ``LISTEN/NOTIFY``: instances that share a PostgreSQL
database reach each other with no other service.

Each process keeps one dedicated connection (outside the pool) that listens on
``<namespace>_messenger``; messages are sent with ``pg_notify`` on a pooled connection after
the change committed. NOTIFY payloads are limited to 8,000 bytes: a larger message goes
without its payload ("anything in this topic changed"). When the listening connection
breaks, the listener reconnects with a growing pause and asks for a resync.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from transom.messenger import Message
from transom.messenger.listener import ListeningTransport

log = logging.getLogger("transom.messenger")

MAX_PAYLOAD = 7900


def channel_name(namespace: str) -> str:
    """A safe, lower-case identifier of at most 63 bytes."""
    base = re.sub(r"[^a-z0-9_]", "_", namespace.lower()) or "transom"
    return f"{base}_messenger"[:63]


class PostgresNotifyTransport(ListeningTransport):
    name = "postgres"

    def __init__(self, engine: sa.Engine, namespace: str,
                 resync: Callable[[str], None]) -> None:
        super().__init__(resync)
        self.engine = engine
        self.channel = channel_name(namespace)
        self._conn: Any = None

    def send(self, message: Message) -> None:
        data = message.encode().decode()
        if len(data.encode()) > MAX_PAYLOAD:
            data = message.bare().encode().decode()
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_notify(:channel, :payload)"),
                             {"channel": self.channel, "payload": data})
                conn.commit()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("messenger: pg_notify failed (%s)", exc)

    def open(self) -> Any:
        import psycopg

        args, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        conn = psycopg.connect(*args, **kwargs, autocommit=True, connect_timeout=5)
        conn.execute(f'LISTEN "{self.channel}"')
        self._conn = conn
        return conn

    def listen(self, session: Any, deliver: Callable[[Message], None]) -> None:
        while not self.stopping.is_set():
            for note in session.notifies(timeout=1.0):
                message = Message.decode(note.payload)
                if message is not None:
                    deliver(message)

    def close_session(self, session: Any) -> None:
        self._conn = None
        session.close()
