"""SQLite dialect for Transom (the standard library's ``sqlite3`` driver)."""

from __future__ import annotations

from typing import Any

from transom import hookimpl
from transom.api import Setting

from .dialect import SQLiteDialect

__all__ = ["SQLiteDialect", "register_dialects", "register_settings"]


@hookimpl
def register_dialects() -> list[type[Any]]:
    return [SQLiteDialect]


@hookimpl
def register_settings() -> list[Setting]:
    return [Setting("DB_SQLITE_CACHE_MB", 16, "float",
                    "SQLite page cache per pooled connection, in MiB (SQLite's own default "
                    "is 2; 0 keeps it). A scan re-reads from the OS what does not fit.")]
