"""``GET /settings/export`` and ``POST /settings/import``: configuration as code, admin only.

A Transom extension next to Directus's ``/settings``: roles, policies, access, permissions,
settings and schema metadata as one JSON or YAML document (see
:mod:`transom.services.config_export`), imported back idempotently in one transaction.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from .. import hookimpl
from ..errors import InvalidPayloadError
from ..http.context import current_cms
from ..http.openapi import Blueprint
from ..http.responses import json_response
from ..services import config_export
from .schema_sync_api import export_response, require_admin, uploaded_or_json

bp = Blueprint("transom_settings_export", __name__, description="Configuration as code.")


@bp.get("/settings/export")
def export_settings() -> Response:
    require_admin()
    data = config_export.export_config(current_cms())
    return export_response(data, "config") or json_response({"data": data})


@bp.post("/settings/import")
def import_settings() -> Response:
    require_admin()
    payload = uploaded_or_json("configuration")
    if payload is None:
        raise InvalidPayloadError("Body must be a configuration export")
    return json_response({"data": config_export.import_config(current_cms(), payload)})


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp
