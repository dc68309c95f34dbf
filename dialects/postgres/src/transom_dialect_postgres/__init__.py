"""PostgreSQL dialect for Transom (psycopg 3)."""

from __future__ import annotations

from typing import Any

from transom import hookimpl

from .dialect import PostgresDialect
from .notify import PostgresNotifyTransport

__all__ = ["PostgresDialect", "PostgresNotifyTransport", "register_dialects"]


@hookimpl
def register_dialects() -> list[type[Any]]:
    return [PostgresDialect]


@hookimpl
def register_message_transports(cms: Any, namespace: str, resync: Any) -> Any:
    """``LISTEN/NOTIFY`` for the messenger, when the database is PostgreSQL."""
    if not isinstance(cms.dialect, PostgresDialect):
        return None
    return PostgresNotifyTransport(cms.engine, namespace, resync)
