"""Putting content into storage and ``directus_files`` rows around it.

Content is streamed into its location under ``<id><ext>`` while the first bytes are kept
for metadata; the row is then written through the items service as the caller, so
permissions (create/update on ``directus_files``) apply as to any collection. When the row
cannot be written the content is removed again.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from transom.api import (
    ContentTooLargeError,
    ForbiddenError,
    InvalidPayloadError,
    ItemsService,
    Storage,
    storages,
)

from .meta import HEAD_BYTES, extension, format_title, guess_type, image_metadata

FILES = "directus_files"
_JSON_FIELDS = {"metadata", "tags", "tus_data"}
_INT_FIELDS = {"focal_point_x", "focal_point_y", "width", "height", "duration"}
_SIZES = {"": 1, "b": 1, "kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3, "tb": 1024 ** 4}


def parse_size(value: Any) -> int | None:
    """``FILES_MAX_UPLOAD_SIZE``: bytes, or ``10mb``, ``1.5gb``; empty means no limit."""
    if value in (None, "", 0):
        return None
    if isinstance(value, int | float):
        return int(value)
    match = re.fullmatch(r"\s*([\d.]+)\s*([kmgt]?b?)\s*", str(value).lower())
    if not match:
        raise ValueError(f"{value!r} is not a size such as 1048576 or 50mb")
    return int(float(match.group(1)) * _SIZES[match.group(2)])


class Limits:
    """Upload limits from the settings, checked while content streams in."""

    def __init__(self, config: Any) -> None:
        self.max_size = parse_size(config.get("FILES_MAX_UPLOAD_SIZE"))
        allow = config.get("FILES_MIME_TYPE_ALLOW_LIST") or ["*/*"]
        self.allow = [allow] if isinstance(allow, str) else list(allow)

    def check_type(self, mime: str) -> None:
        if not any(fnmatch.fnmatch(mime, pattern.strip().lower()) for pattern in self.allow):
            raise InvalidPayloadError(f'File type "{mime}" is not allowed')

    def counted(self, chunks: Iterable[bytes], head: bytearray) -> Iterator[bytes]:
        """Pass chunks on, keep the first :data:`HEAD_BYTES`, stop past the size limit."""
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if self.max_size is not None and size > self.max_size:
                raise ContentTooLargeError()
            if len(head) < HEAD_BYTES:
                head += chunk[:HEAD_BYTES - len(head)]
            yield chunk


def _coerce(fields: dict[str, Any]) -> dict[str, Any]:
    """Form fields arrive as text: JSON fields and integers are parsed as Directus does."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, str) and key in _JSON_FIELDS:
            try:
                value = json.loads(value)
            except ValueError:
                pass
        elif isinstance(value, str) and key in _INT_FIELDS and re.fullmatch(r"-?\d+", value):
            value = int(value)
        elif value == "" and key in ("folder", "description", "location"):
            value = None
        out[key] = value
    return out


def transforms_prefix(file_id: str) -> str:
    """Where the cached transforms of a file live (next to it: ``<id>__<hash>.<ext>``)."""
    return f"{file_id}__"


def remove_content(storage: Storage, file_id: str, filename_disk: str | None) -> None:
    """Delete a file's content and every cached transform of it."""
    if filename_disk:
        storage.delete(filename_disk)
    for key in list(storage.list(transforms_prefix(file_id))):
        storage.delete(key)


class FileStore:
    """Uploads and replacements for one caller."""

    def __init__(self, cms: Any, accountability: Any) -> None:
        self.cms = cms
        self.accountability = accountability
        self.limits = Limits(cms.config)
        self.storages = storages(cms)

    def service(self) -> ItemsService:
        return ItemsService(self.cms, FILES, self.accountability)

    def _write(self, storage: Storage, file_id: str, filename: str, declared: str | None,
               chunks: Iterable[bytes]) -> dict[str, Any]:
        """Stream content in; the row fields it determines."""
        mime = guess_type(filename, declared)
        self.limits.check_type(mime)
        key = f"{file_id}{extension(filename, mime)}"
        head = bytearray()
        size = storage.write(key, self.limits.counted(chunks, head))
        row = {"filename_disk": key, "type": mime, "filesize": size,
               "width": None, "height": None}
        row.update(image_metadata(bytes(head), mime))
        return row

    def create(self, filename: str, declared: str | None, chunks: Iterable[bytes],
               fields: dict[str, Any]) -> Any:
        """A new file from content and the fields sent with it; its primary key."""
        self.service().permissions.require(FILES, "create")  # 403 before any byte is stored
        payload = _coerce(fields)
        location = str(payload.get("storage") or self.storages.default)
        storage = self.storages.get(location)
        file_id = str(payload.get("id") or uuid.uuid4())
        written = self._write(storage, file_id, filename, declared, chunks)
        row = {**{k: v for k, v in written.items() if k not in payload or k in (
            "filename_disk", "filesize", "type")}, "id": file_id, "storage": location}
        row["filename_download"] = payload.pop("filename_download", None) or filename
        row["title"] = payload.pop("title", None) or format_title(filename)
        row["uploaded_on"] = dt.datetime.now(dt.UTC).isoformat()
        for k, v in payload.items():
            row.setdefault(k, v)
        try:
            key = self.service().create_one(row)
        except Exception:
            remove_content(storage, file_id, written["filename_disk"])
            raise
        self._uploaded(key, row)
        return key

    def _uploaded(self, key: Any, row: dict[str, Any]) -> None:
        """Directus's ``files.upload`` action, once the content and its row are stored."""
        self.cms.emit_action("files.upload", {"event": "files.upload", "payload": row,
                                              "key": key, "collection": FILES},
                             self.accountability)

    def replace(self, file_id: str, filename: str, declared: str | None,
                chunks: Iterable[bytes], fields: dict[str, Any]) -> Any:
        """New content for an existing file (``PATCH /files/:id`` multipart)."""
        svc = self.service()
        # 403 before anything is written: the caller must be allowed to update this row
        if not svc.keys_by_query({"filter": {"id": {"_eq": file_id}}, "limit": 1}, "update"):
            raise ForbiddenError()
        current = ItemsService(self.cms, FILES, None).read_one(
            file_id, {"fields": ["id", "storage", "filename_disk"]})
        payload = _coerce(fields)
        location = str(payload.get("storage") or current["storage"])
        storage = self.storages.get(location)
        old = self.storages.get(current["storage"])
        # straight over the old key: drivers replace atomically, a failed upload keeps it
        written = self._write(storage, file_id, filename, declared, chunks)
        if location != current["storage"] or written["filename_disk"] != current["filename_disk"]:
            old.delete(current["filename_disk"])
        remove_content(old, file_id, None)
        row = {**written, "storage": location,
               "filename_download": payload.pop("filename_download", None) or filename}
        row.update(payload)
        key = svc.update_one(file_id, row)
        self._uploaded(key, row)
        return key
