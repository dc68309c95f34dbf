"""The events of a streamed ``multipart/form-data`` body, for every reader of uploads.

werkzeug's sans-io decoder is fed 64 KiB at a time, so a file larger than memory is handed
on as it arrives; a body that is cut short or malformed is a 400, never a 500. Used by the
bulk import (``/utils/import``) and, through ``transom.api``, by the files plugin.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from werkzeug.sansio.multipart import Epilogue, MultipartDecoder, NeedData

from ..errors import InvalidPayloadError

#: bytes read from the request stream per step
CHUNK = 64 * 1024


def multipart_events(stream: BinaryIO, boundary: bytes | str,
                     chunk: int = CHUNK) -> Iterator[Any]:
    """werkzeug's multipart events (``Field``, ``File``, ``Data``) until the epilogue."""
    if isinstance(boundary, str):
        boundary = boundary.encode("latin-1")
    decoder = MultipartDecoder(boundary)
    done = False
    while True:
        try:
            event = decoder.next_event()
        except ValueError as exc:
            raise InvalidPayloadError(f"Malformed multipart body: {exc}") from exc
        if isinstance(event, NeedData):
            if done:
                raise InvalidPayloadError("Malformed multipart body: it ends too early")
            data = stream.read(chunk)
            done = not data
            decoder.receive_data(data or None)
        elif isinstance(event, Epilogue):
            return
        else:
            yield event
