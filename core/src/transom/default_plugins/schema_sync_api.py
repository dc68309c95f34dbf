"""``/schema/snapshot``, ``/schema/diff`` and ``/schema/apply``: schema as code, admin only.

Thin handlers over :mod:`transom.services.schema_sync`. Wire shapes follow Directus 11 (the
snapshot in ``data``, ``?export=json|yaml`` downloads, 204 when nothing differs, the diff
posted back as ``{hash, diff}``); ``?dry_run=true`` on apply is a Transom extension that
answers the plan instead of applying it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import yaml
from flask import Response, request

from .. import hookimpl
from ..errors import ForbiddenError, InvalidPayloadError, InvalidQueryError
from ..http.context import current_cms, get_accountability
from ..http.openapi import Blueprint
from ..http.responses import json_response, no_content, request_json
from ..services import schema_sync

bp = Blueprint("transom_schema_sync", __name__, description="Schema snapshot, diff and apply.")

EXPORT_TYPES = {"json": "application/json", "yaml": "text/yaml"}


def require_admin() -> None:
    """Schema sync is for admins only, as in Directus."""
    if not get_accountability().admin:
        raise ForbiddenError()


def flag(name: str) -> bool:
    """A boolean query flag; present without a value counts as true (Directus v11)."""
    if name not in request.args:
        return False
    return request.args.get(name, "").strip().lower() not in ("false", "0", "no")


def export_response(data: Any, stem: str) -> Response | None:
    """``?export=json|yaml``: ``data`` as a download, or None when not asked for."""
    fmt = request.args.get("export")
    if not fmt:
        return None
    fmt = fmt.lower()
    if fmt not in EXPORT_TYPES:
        raise InvalidQueryError(f'"export" must be one of {", ".join(EXPORT_TYPES)}')
    text = orjson.dumps(data, default=str,
                        option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    if fmt == "yaml":
        text = yaml.safe_dump(orjson.loads(text), sort_keys=False, allow_unicode=True)
    body = text
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H-%M-%S")
    resp = Response(body, mimetype=EXPORT_TYPES[fmt])
    resp.headers["Content-Disposition"] = f'attachment; filename="{stem}-{stamp}.{fmt}"'
    return resp


def parse_document(text: str | bytes, what: str) -> Any:
    """A JSON or YAML document (YAML is a superset of JSON, but JSON parses faster)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidPayloadError(f"The {what} is neither valid JSON nor valid YAML") from exc


def uploaded_or_json(what: str) -> Any:
    """The body as JSON, or the ``file`` of a multipart upload (JSON or YAML)."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise InvalidPayloadError(f'Upload the {what} as a multipart "file"')
        return parse_document(upload.read(), what)
    if request.mimetype in ("text/yaml", "application/yaml", "application/x-yaml"):
        return parse_document(request.get_data(cache=True), what)
    return request_json()


@bp.get("/schema/snapshot")
def get_snapshot() -> Response:
    require_admin()
    data = schema_sync.snapshot(current_cms(), refresh=True)
    return export_response(data, "snapshot") or json_response({"data": data})


@bp.post("/schema/diff")
def post_diff() -> Response:
    require_admin()
    payload = uploaded_or_json("snapshot")
    if payload is None:
        raise InvalidPayloadError("Body must be a schema snapshot")
    result = schema_sync.diff(current_cms(), payload, force=flag("force"))
    if result is None:
        return no_content()
    return json_response({"data": result})


@bp.post("/schema/apply")
def post_apply() -> Response:
    require_admin()
    payload = uploaded_or_json("diff")
    if payload is None:
        raise InvalidPayloadError('Body must be {"hash", "diff"} as /schema/diff answers it')
    dry_run = flag("dry_run")
    plan = schema_sync.apply(current_cms(), payload, dry_run=dry_run)
    if dry_run:
        return json_response({"data": {"plan": plan}})
    return no_content()


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp
