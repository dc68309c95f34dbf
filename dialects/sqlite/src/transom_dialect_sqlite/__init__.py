"""SQLite dialect for Transom (the standard library's ``sqlite3`` driver)."""

from __future__ import annotations

from typing import Any

from transom import hookimpl

from .dialect import SQLiteDialect

__all__ = ["SQLiteDialect", "register_dialects"]


@hookimpl
def register_dialects() -> list[type[Any]]:
    return [SQLiteDialect]
