"""Transom: an open, plugin-first headless CMS, wire-compatible with Directus 11.

The public surface for plugin authors is what this module exports; everything else is
internal and may change between releases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

__version__ = "0.1.0"

#: Marks a function of a plugin module as a hook implementation.
hookimpl = pluggy.HookimplMarker("transom")

__all__ = [
    "__version__",
    "hookimpl",
    "create_app",
]

if TYPE_CHECKING:  # pragma: no cover
    from .app import create_app


def __getattr__(name: str) -> Any:
    # Lazy, so that importing ``transom`` for ``hookimpl`` loads neither Flask nor SQLAlchemy.
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
