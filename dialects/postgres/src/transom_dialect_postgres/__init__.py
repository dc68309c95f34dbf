"""PostgreSQL dialect for Transom (psycopg 3)."""

from __future__ import annotations

from typing import Any

from transom import hookimpl

from .dialect import PostgresDialect

__all__ = ["PostgresDialect", "register_dialects"]


@hookimpl
def register_dialects() -> list[type[Any]]:
    return [PostgresDialect]
