"""A streaming ``multipart/form-data`` reader: fields and files in the order they come.

Directus applies the fields sent before a file to that file, so order matters; and a file
may be larger than memory, so its content is handed on chunk by chunk as it arrives (the
sans-io decoder of werkzeug, fed 64 KiB at a time). Field values are bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from werkzeug.sansio.multipart import Data, Field, File

from transom.api import InvalidPayloadError, multipart_events

CHUNK = 64 * 1024
MAX_FIELD = 1024 * 1024


@dataclass
class Part:
    """One file of the form: its name, type, the fields sent before it, its content."""

    filename: str
    content_type: str | None
    fields: dict[str, str]
    chunks: Iterator[bytes]


def _events(stream: BinaryIO, boundary: bytes) -> Iterator[Any]:
    return multipart_events(stream, boundary, CHUNK)


def read_parts(stream: BinaryIO, boundary: str,
               on_part: Callable[[Part], Any]) -> list[Any]:
    """Call ``on_part`` for each file, in order; return what each call returned.

    ``on_part`` must consume ``part.chunks`` (what it leaves is skipped).
    """
    events = _events(stream, boundary.encode("latin-1"))
    fields: dict[str, str] = {}
    results: list[Any] = []

    def body() -> Iterator[bytes]:
        for event in events:
            if not isinstance(event, Data):
                raise InvalidPayloadError("Malformed multipart body")
            if event.data:
                yield event.data
            if not event.more_data:
                return

    for event in events:
        if isinstance(event, File):
            if not event.filename:
                raise InvalidPayloadError(f'File field "{event.name}" has no file name')
            content = body()
            part = Part(event.filename, event.headers.get("content-type"), fields, content)
            fields = {}  # as Directus: the fields before a file belong to that file only
            results.append(on_part(part))
            for _ in content:  # skip what the handler left
                pass
        elif isinstance(event, Field):
            value = bytearray()
            for chunk in body():
                value += chunk
                if len(value) > MAX_FIELD:
                    raise InvalidPayloadError(f'Field "{event.name}" is too long')
            fields[event.name] = value.decode("utf-8", "replace")
    if not results:
        raise InvalidPayloadError("No file was uploaded")
    return results
