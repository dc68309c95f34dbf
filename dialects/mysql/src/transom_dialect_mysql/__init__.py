"""MySQL and MariaDB dialect for Transom (PyMySQL)."""

from __future__ import annotations

from typing import Any

from transom import hookimpl

from .dialect import MySQLDialect

__all__ = ["MySQLDialect", "register_dialects"]


@hookimpl
def register_dialects() -> list[type[Any]]:
    return [MySQLDialect]
