"""``GET /assets/:id``: the content of a file the caller may read, streamed.

Ranges (206/416), ``ETag``/``Last-Modified``, ``Cache-Control: max-age=ASSETS_CACHE_TTL``
and conditional requests (304). Image transforms are computed once per distinct request
under a bounded semaphore (503 when ``ASSETS_TRANSFORM_MAX_CONCURRENT`` are running) and
kept in storage next to the file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

from flask import Response, request

from transom.api import (
    ForbiddenError,
    InvalidQueryError,
    ItemsService,
    ServiceUnavailableError,
    Storage,
    storages,
)

from . import transforms
from .store import FILES

_MIME = re.compile(r"[\w.+-]+/[\w.+-]+")
_FIELDS = ["id", "storage", "filename_disk", "filename_download", "type", "filesize",
           "modified_on", "uploaded_on"]


class TransformGate:
    """At most N transforms at once per worker; the next one gets a 503 at once."""

    def __init__(self, limit: int) -> None:
        self._sem = threading.BoundedSemaphore(max(1, limit))

    def __enter__(self) -> TransformGate:
        if not self._sem.acquire(blocking=False):
            raise ServiceUnavailableError("assets", "Too many transforms are running")
        return self

    def __exit__(self, *exc: object) -> None:
        self._sem.release()


def _when(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, str) and value:
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None


def _transform_params(cms: Any) -> dict[str, Any]:
    """The request's transform parameters, a preset's when ``key`` is given."""
    settings = ItemsService(cms, "directus_settings", None, emit_events=False).read_singleton(
        {"fields": ["storage_asset_transform", "storage_asset_presets"]})
    mode = settings.get("storage_asset_transform") or "all"
    asked = {k: v for k, v in request.args.items() if k not in ("download", "key", "access_token")}
    key = request.args.get("key")
    if key:
        presets = settings.get("storage_asset_presets") or []
        preset = next((p for p in presets if isinstance(p, dict) and p.get("key") == key), None)
        if preset is None or mode == "none":
            raise InvalidQueryError(f'Transformation preset "{key}" does not exist')
        if asked and mode != "all":
            raise InvalidQueryError("Only preset transformations are allowed")
        params = {k: v for k, v in preset.items() if k != "key" and v is not None}
        return {**params, **asked}
    if asked and mode != "all" and any(k in asked for k in (
            "width", "height", "fit", "quality", "format", "transforms", "withoutEnlargement")):
        raise InvalidQueryError("Dynamic asset generation has been disabled for this project")
    return asked


def _transformed(cms: Any, state: Any, storage: Storage, row: dict[str, Any],
                 t: transforms.Transform) -> tuple[str, str, int]:
    """The key, type and size of a transform of ``row``, computed now if not cached."""
    source_format = {"image/png": "PNG", "image/webp": "WEBP", "image/gif": "GIF",
                     "image/tiff": "TIFF", "image/avif": "AVIF"}.get(row["type"], "JPEG")
    key = t.key(str(row["id"]), source_format)
    mime = t.mime(row["type"])
    found = storage.stat(key)
    if found is not None:
        return key, mime, found.size
    with state.gate:
        with tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024) as tmp:
            for chunk in storage.read(row["filename_disk"]):
                tmp.write(chunk)
            tmp.seek(0)
            data, _fmt = transforms.apply(tmp, t, state.max_dimension)
    size = storage.write(key, [data])
    return key, mime, size


def serve(cms: Any, state: Any, file_id: str, accountability: Any) -> Response:
    """The answer of ``GET /assets/:id``."""
    ItemsService(cms, FILES, accountability).read_one(file_id, {"fields": ["id"]})  # 403
    row = ItemsService(cms, FILES, None).read_one(file_id, {"fields": _FIELDS})
    storage = storages(cms).get(row["storage"])
    key = row["filename_disk"]
    if not key:
        raise ForbiddenError()  # a row without content (created as JSON)
    mime = row["type"] if _MIME.fullmatch(str(row["type"] or "")) else \
        "application/octet-stream"
    params = _transform_params(cms)
    accept = request.headers.get("Accept", "")
    t = None
    if mime in transforms.TRANSFORMABLE:
        t = transforms.parse(params, accept=accept, max_dimension=state.max_dimension,
                             max_operations=state.max_operations)
    if t is not None:
        key, mime, size = _transformed(cms, state, storage, row, t)
    else:
        found = storage.stat(key) if row.get("filesize") is None else None
        size = int(row["filesize"]) if row.get("filesize") is not None else (
            found.size if found else 0)
    modified = _when(row.get("modified_on")) or _when(row.get("uploaded_on"))
    etag = hashlib.sha1(f"{row['id']}:{key}:{size}:{modified}".encode()).hexdigest()
    headers = {"ETag": f'"{etag}"', "Accept-Ranges": "bytes",
               "Cache-Control": f"public, max-age={state.cache_ttl}"}
    if modified is not None:
        headers["Last-Modified"] = modified.strftime("%a, %d %b %Y %H:%M:%S GMT")
    if request.args.get("format") == "auto":
        headers["Vary"] = "Accept"
    disposition = "attachment" if "download" in request.args else "inline"
    headers["Content-Disposition"] = content_disposition(
        disposition, str(row.get("filename_download") or key))
    headers["X-Content-Type-Options"] = "nosniff"
    if _not_modified(etag, modified):
        return Response(status=304, headers=headers)
    start, end, status = 0, size, 200
    rng = request.range
    if rng is not None:
        bounds = rng.range_for_length(size) if len(rng.ranges) == 1 else None
        if bounds is None:
            return Response(status=416, headers={**headers,
                                                 "Content-Range": f"bytes */{size}"})
        start, end = bounds
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    body: Iterator[bytes] = iter(()) if request.method == "HEAD" else \
        storage.read(key, start, end)
    return Response(body, status=status, headers=headers, mimetype=mime,
                    direct_passthrough=True)


def content_disposition(kind: str, filename: str) -> str:
    """``inline``/``attachment`` with the file name: ASCII fallback plus RFC 5987 UTF-8."""
    clean = "".join(c for c in filename if c.isprintable() and c not in '"\\')
    ascii_name = clean.encode("ascii", "replace").decode().replace("?", "_") or "file"
    if ascii_name == clean:
        return f'{kind}; filename="{clean}"'
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{urllib.parse.quote(clean)}"


def _not_modified(etag: str, modified: dt.datetime | None) -> bool:
    if request.if_none_match:
        return request.if_none_match.contains(etag)
    since = request.if_modified_since
    return bool(since and modified and modified.replace(microsecond=0) <= since)
