"""transom-PLUGINNAME: ONE LINE saying what this plugin adds to Transom.

A plugin is a module of ``@hookimpl`` functions (the hook reference is docs/hooks/); import
from ``transom.api`` only, the documented surface for extension code.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from transom.api import Filter, InvalidPayloadError, Setting, current_context, hookimpl

__version__ = "0.1.0"

bp = Blueprint("transom_PLUGINNAME", __name__)


@bp.get("/PLUGINNAME/hello")
def hello() -> Any:
    """An endpoint: ``current_context()`` is the caller, its services and settings."""
    ctx = current_context()
    return {"data": {"greeting": ctx.config.get("PLUGINUPPER_GREETING"),
                     "user": ctx.accountability.user if ctx.accountability else None}}


def no_shouting(payload: dict[str, Any], meta: dict[str, Any], context: Any) -> Any:
    """A filter: runs inside the write's transaction; raise to cancel the write."""
    title = payload.get("title")
    if isinstance(title, str) and title.isupper() and len(title) > 3:
        raise InvalidPayloadError("Titles may not be all capitals")
    return payload


@hookimpl
def register_settings() -> Any:
    return [Setting("PLUGINUPPER_GREETING", "hello", "str", "What /PLUGINNAME/hello says.")]


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp


@hookimpl
def register_filters(cms: Any) -> Any:
    return [Filter("items.create", no_shouting), Filter("items.update", no_shouting)]
