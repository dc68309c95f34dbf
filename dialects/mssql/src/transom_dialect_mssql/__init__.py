"""Microsoft SQL Server dialect for Transom (pyodbc).

Importing this package does not import pyodbc: the driver (and unixODBC) is only loaded
when an engine is created, so the plugin can be discovered on machines without them.
"""

from __future__ import annotations

from typing import Any

from transom import hookimpl

from .dialect import MSSQLDialect

__all__ = ["MSSQLDialect", "register_dialects"]


@hookimpl
def register_dialects() -> list[type[Any]]:
    return [MSSQLDialect]
