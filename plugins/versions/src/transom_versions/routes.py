"""``POST /versions/:id/save``, ``GET /versions/:id/compare``, ``POST /versions/:id/promote``.

The CRUD routes of ``/versions`` are the core's system routes; these add Directus's three
version actions on top, each a thin call into :mod:`.service`.
"""

from __future__ import annotations

from flask import Blueprint, Response

from transom.api import current_cms, get_accountability, json_response, request_json

from . import service

bp = Blueprint("transom_versions", __name__)


@bp.post("/versions/<pk>/save")
def save_version(pk: str) -> Response:
    """Merge a partial item into the version's delta; answers the merged item."""
    data = service.save(current_cms(), pk, request_json({}), get_accountability())
    return json_response({"data": data})


@bp.get("/versions/<pk>/compare")
def compare_version(pk: str) -> Response:
    """``{outdated, mainHash, current, main}``: the version's delta next to the main item."""
    return json_response({"data": service.compare(current_cms(), pk, get_accountability())})


@bp.post("/versions/<pk>/promote")
def promote_version(pk: str) -> Response:
    """Apply the delta (or ``fields`` of it) to the main item; answers the item's key."""
    key = service.promote(current_cms(), pk, request_json({}), get_accountability())
    return json_response({"data": key})
