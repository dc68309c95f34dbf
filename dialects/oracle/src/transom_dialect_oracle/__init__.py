"""Oracle dialect for Transom (python-oracledb, thin mode).

Importing this package does not import oracledb; the driver is loaded when an engine is
created.
"""

from __future__ import annotations

from typing import Any

from transom import hookimpl

from .dialect import OracleDialect

__all__ = ["OracleDialect", "register_dialects"]


@hookimpl
def register_dialects() -> list[type[Any]]:
    return [OracleDialect]
