"""Admin web app (Data Studio) for Transom editors and administrators.

Server-rendered pages under ``/admin`` (Jinja2 + a vendored htmx). Every page acts with the
caller's own accountability (resolved by the kernel from the ``directus_session_token``
cookie that ``/auth/login`` sets in ``session`` mode) and goes through the services of
``transom.api``, so it shows and does exactly what the caller's policies allow.
"""

from __future__ import annotations

from typing import Any

from transom.api import hookimpl

from . import (  # noqa: F401 - routes
    access_views,
    auth_views,
    content_views,
    history_views,
    model_views,
    permission_views,
    richtext,
)
from .common import bp


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp
