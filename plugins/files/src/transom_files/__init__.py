"""Files and assets for Transom: ``/files`` and ``/assets`` as in Directus 11.

``/files`` is ``directus_files`` served through the same items service and route handlers
as every collection (the whole query language, permissions like any collection, anonymous
callers through the public policy), plus streamed multipart uploads, imports from a URL and
content replacement. ``/assets/:id`` streams content with ranges, validators and image
transforms. Content lives in storage locations (``transom.api.storages``); drivers come
from ``register_storage`` (``local`` is built in; ``transom-storage-s3`` adds ``s3``).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, request

from transom.api import (
    InvalidPayloadError,
    ItemsService,
    Setting,
    current_cms,
    get_accountability,
    hookimpl,
    item_routes,
    no_content,
    parse_query_dict,
    request_json,
    storages,
)

from . import assets, importer
from .multipart import read_parts
from .store import FILES, FileStore, remove_content

__all__ = ["FilesState", "get_state"]

EXTENSION_KEY = "transom_files"
logger = logging.getLogger("transom.files")
#: the request body limit of uploads (each file is bounded on its own)
UNBOUNDED = 1 << 60

SETTINGS = (
    Setting("STORAGE_LOCATIONS", "local", "csv",
            "Storage locations, the first is the default (STORAGE_<LOC>_DRIVER picks each "
            "one's driver; local is built in)."),
    Setting("STORAGE_LOCAL_ROOT", "./uploads", "str", "Folder of the local location."),
    Setting("FILES_MAX_UPLOAD_SIZE", None, "str",
            "Largest upload, in bytes or as 50mb, 2gb (unset: no limit); 413 beyond."),
    Setting("FILES_MIME_TYPE_ALLOW_LIST", "*/*", "csv",
            "MIME types that may be uploaded (wildcards: image/*); 400 otherwise."),
    Setting("IMPORT_IP_DENY_LIST", "0.0.0.0,169.254.169.254", "csv",
            "Addresses /files/import refuses; 0.0.0.0 means every local address."),
    Setting("ASSETS_CACHE_TTL", "30d", "duration", "Cache-Control max-age of /assets."),
    Setting("ASSETS_TRANSFORM_MAX_CONCURRENT", 25, "int",
            "Image transforms running at once per worker; 503 beyond."),
    Setting("ASSETS_TRANSFORM_IMAGE_MAX_DIMENSION", 6000, "int",
            "Largest width or height, of a source image or a requested size."),
    Setting("ASSETS_TRANSFORM_MAX_OPERATIONS", 5, "int",
            "Most operations in a transforms array."),
)


class FilesState:
    """Per-app settings and the transform gate (``cms.state("transom_files")``)."""

    def __init__(self, cms: Any) -> None:
        cfg = cms.config
        self.cache_ttl = int(cfg.get("ASSETS_CACHE_TTL", 2592000000)) // 1000
        self.max_dimension = int(cfg.get("ASSETS_TRANSFORM_IMAGE_MAX_DIMENSION", 6000))
        self.max_operations = int(cfg.get("ASSETS_TRANSFORM_MAX_OPERATIONS", 5))
        self.gate = assets.TransformGate(int(cfg.get("ASSETS_TRANSFORM_MAX_CONCURRENT", 25)))
        deny = cfg.get("IMPORT_IP_DENY_LIST")
        self.deny = [deny] if isinstance(deny, str) else list(deny or [])


def get_state(cms: Any) -> FilesState:
    return cms.state(EXTENSION_KEY, lambda: FilesState(cms))


@hookimpl
def register_settings() -> Any:
    return list(SETTINGS)


@hookimpl
def init_app(cms: Any, app: Any) -> None:
    get_state(cms)


bp = Blueprint("transom_files", __name__)


def _service() -> ItemsService:
    return ItemsService(current_cms(), FILES, get_accountability())


def _store() -> FileStore:
    return FileStore(current_cms(), get_accountability())


def _boundary() -> str | None:
    if request.mimetype != "multipart/form-data":
        return None
    boundary = request.mimetype_params.get("boundary")
    if not boundary:
        raise InvalidPayloadError("multipart/form-data without a boundary")
    # uploads are streamed and bounded per file (FILES_MAX_UPLOAD_SIZE), not by the JSON
    # body limit MAX_PAYLOAD_SIZE
    request.max_content_length = UNBOUNDED
    return boundary


def _read_back(keys: list[Any], single: bool) -> Response:
    return item_routes.read_back(_service(), keys, item_routes.request_query(), single)


@bp.route("/files", methods=["GET", "SEARCH"])
def list_files() -> Response:
    return item_routes.list_items(_service())


@bp.get("/files/<key>")
def read_file(key: str) -> Response:
    return item_routes.read_item(_service(), key)


@bp.post("/files")
def create_files() -> Response:
    boundary = _boundary()
    if boundary is None:
        return item_routes.create_items(_service())
    store = _store()
    keys = read_parts(request.stream, boundary, lambda part: store.create(
        part.filename, part.content_type, part.chunks, part.fields))
    return _read_back(keys, single=len(keys) == 1)


@bp.post("/files/import")
def import_file() -> Response:
    body = request_json()
    if not isinstance(body, dict) or not isinstance(body.get("url"), str):
        raise InvalidPayloadError('"url" is required')
    data = body.get("data") or {}
    if not isinstance(data, dict):
        raise InvalidPayloadError('"data" must be an object')
    name, mime, chunks = importer.fetch(body["url"], get_state(current_cms()).deny)
    key = _store().create(name, mime, chunks, data)
    return _read_back([key], single=True)


@bp.patch("/files")
def update_files() -> Response:
    return item_routes.update_items(_service())


@bp.patch("/files/<key>")
def update_file(key: str) -> Response:
    boundary = _boundary()
    if boundary is None:
        return item_routes.update_item(_service(), key)
    store = _store()
    keys = read_parts(request.stream, boundary, lambda part: store.replace(
        key, part.filename, part.content_type, part.chunks, part.fields))
    if len(keys) != 1:
        raise InvalidPayloadError("Only one file can replace a file's content")
    return _read_back(keys, single=True)


def _delete(keys: list[Any]) -> None:
    """Delete rows as the caller, then their content and cached transforms."""
    cms = current_cms()
    rows = ItemsService(cms, FILES, None).read_many(
        keys, {"fields": ["id", "storage", "filename_disk"]}) if keys else []
    _service().delete_many(keys)
    places = storages(cms)
    for row in rows:
        try:
            remove_content(places.get(row["storage"]), str(row["id"]), row["filename_disk"])
        except Exception:  # the row is gone; leftovers must not fail the request
            logger.exception("removing the content of file %s failed", row["id"])


@bp.delete("/files")
def delete_files() -> Response:
    payload = request_json()
    if isinstance(payload, list):
        keys = payload
    elif isinstance(payload, dict) and isinstance(payload.get("keys"), list):
        keys = payload["keys"]
    elif isinstance(payload, dict) and isinstance(payload.get("query"), dict):
        keys = _service().keys_by_query(parse_query_dict(payload["query"]), "delete")
    else:
        raise InvalidPayloadError('Body must be an array of keys, {"keys": [...]} or '
                                  '{"query": {...}}')
    _delete(keys)
    return no_content()


@bp.delete("/files/<key>")
def delete_file(key: str) -> Response:
    _delete([key])
    return no_content()


@bp.route("/assets/<key>", methods=["GET", "HEAD"])
def read_asset(key: str) -> Response:
    cms = current_cms()
    return assets.serve(cms, get_state(cms), key, get_accountability())


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp

