"""Bulk ``/utils`` routes: import, export (a background job) and manual sort.

**Import** (``POST /utils/import/:collection``, one multipart file, CSV or JSON) is read as
it arrives: the multipart body through werkzeug's sans-io decoder, CSV through the csv
module over a text wrapper of that stream, JSON arrays through a bounded scanner (one item
and one chunk in memory). Rows are written in batches of :data:`BATCH` through
:class:`ItemsService` as the caller, so permissions, presets, validation and hooks apply.
As Directus, a row whose primary key already exists updates that item (upsert).

Transactions: Directus runs a whole import in one transaction. Transom commits **each batch
on its own** (all or nothing per batch), so a long import never holds one transaction (and
SQLite's write lock) for minutes. A bad row answers 400 ``INVALID_PAYLOAD`` naming the row
(1-based, the header not counted) and the field; the rows of the batches committed before
it stay, the rest of its batch and everything after it are not written.

**Export** (``POST /utils/export/:collection`` ``{query, format, file?}``) answers 204 at
once; a thread of the worker streams the items (``ItemsService.stream_by_query``) through
the export formats into storage, adds the ``directus_files`` row and notifies the caller in
``directus_notifications`` ("Your export of <collection> is ready"), as Directus does.

**Sort** (``POST /utils/sort/:collection`` ``{item, to}``) is Directus's manual sort: the
collection's ``sort_field`` of the rows between the two items shift by one.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

import sqlalchemy as sa
from flask import Response, request
from werkzeug.sansio.multipart import Data, File

from .. import hookimpl
from ..errors import (
    ErrorGroup,
    ForbiddenError,
    InvalidPayloadError,
    TransomError,
    UnsupportedMediaTypeError,
)
from ..http.context import current_cms, get_accountability
from ..http.multipart import multipart_events
from ..http.openapi import Blueprint
from ..http.responses import no_content, request_json
from ..query import parse_query_dict
from ..query.export import EXPORT_TYPES, export_filename, export_items, stream_json_export
from ..services.items import ItemsService
from ..storage import storages

log = logging.getLogger("transom.utils")
bp = Blueprint("transom_utils_bulk", __name__, description="Import, export, sort.")

#: rows per transaction of an import
BATCH = 500
CHUNK = 64 * 1024
#: the largest single JSON item the scanner holds (a guard against one endless value)
MAX_JSON_ITEM = 16 * 1024 * 1024
_EXPORTS_KEY = "transom.utils.exports"
#: the body limit of an import (Flask falls back to MAX_CONTENT_LENGTH for None)
UNBOUNDED = 1 << 60


# -- reading the upload -----------------------------------------------------------------
def multipart_file(stream: BinaryIO, boundary: str) -> tuple[str, str | None, Iterator[bytes]]:
    """The first file of a multipart body: ``(filename, content type, chunks)``, streamed."""
    it = multipart_events(stream, boundary, CHUNK)
    for event in it:
        if isinstance(event, File):
            def chunks() -> Iterator[bytes]:
                for data in it:
                    if not isinstance(data, Data):
                        raise InvalidPayloadError("Malformed multipart body")
                    if data.data:
                        yield data.data
                    if not data.more_data:
                        return
            return event.filename or "", event.headers.get("content-type"), chunks()
    raise InvalidPayloadError("No file was uploaded")


class ChunkStream(io.RawIOBase):
    """A readable binary stream over an iterator of byte chunks (for ``TextIOWrapper``)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._rest:
            try:
                self._rest = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._rest))
        buffer[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n


def text_of(chunks: Iterable[bytes]) -> io.TextIOWrapper:
    """UTF-8 text (a leading BOM dropped) over byte chunks, read as it is consumed."""
    return io.TextIOWrapper(io.BufferedReader(ChunkStream(chunks), CHUNK),
                            encoding="utf-8-sig", newline="")


def _csv_value(value: str) -> Any:
    """Directus's CSV cell rule: empty -> left out, JSON objects/lists/booleans/null parsed,
    numbers and everything else kept as the text (the field's type converts it)."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    if isinstance(parsed, bool) or not isinstance(parsed, int | float | str):
        return parsed
    return value


def _nest(row: dict[str, Any], key: str, value: Any) -> None:
    """``a.b`` headers become nested objects, as Directus's import sets them."""
    parts = key.split(".")
    target = row
    for part in parts[:-1]:
        nxt = target.get(part)
        if not isinstance(nxt, dict):
            nxt = target[part] = {}
        target = nxt
    target[parts[-1]] = value


def csv_rows(text: io.TextIOBase) -> Iterator[dict[str, Any]]:
    """The rows of a CSV document as dicts keyed by its header."""
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise InvalidPayloadError(f"Invalid CSV: {exc}") from exc
    header = [h.strip() for h in header]
    row_number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _row_error(row_number + 1, None, f"Invalid CSV: {exc}") from exc
        row_number += 1
        if len(cells) > len(header):
            raise _row_error(row_number, None,
                             f"Row has {len(cells)} cells, the header has {len(header)}")
        row: dict[str, Any] = {}
        for name, cell in zip(header, cells, strict=False):
            if cell != "" and name:
                _nest(row, name, _csv_value(cell))
        yield row


def json_items(text: io.TextIOBase) -> Iterator[Any]:
    """The items of a JSON array, decoded one at a time from a bounded buffer."""
    decoder = json.JSONDecoder()
    buf = ""
    pos = 0
    eof = False

    def fill() -> bool:
        nonlocal buf, pos, eof
        if eof:
            return False
        chunk = text.read(CHUNK)
        if not chunk:
            eof = True
            return False
        buf = buf[pos:] + chunk
        pos = 0
        return True

    def skip_ws() -> str | None:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            if pos < len(buf):
                return buf[pos]
            if not fill():
                return None

    if skip_ws() != "[":
        raise InvalidPayloadError("Invalid JSON: the import expects an array of items")
    pos += 1
    first = True
    count = 0
    while True:
        ch = skip_ws()
        if ch is None:
            raise InvalidPayloadError("Invalid JSON: the array is not closed")
        if ch == "]":
            pos += 1
            break
        if not first:
            if ch != ",":
                raise _row_error(count + 1, None, "Invalid JSON: expected ',' between items")
            pos += 1
            skip_ws()
        while True:
            try:
                value, end = decoder.raw_decode(buf, pos)
            except ValueError as exc:
                # maybe the item is cut by the buffer's end: read more, unless it is too long
                if len(buf) - pos > MAX_JSON_ITEM or not fill():
                    raise _row_error(count + 1, None, f"Invalid JSON: {exc.msg}") from exc
                continue
            # a number at the buffer's end may go on in the next chunk
            if end == len(buf) and not eof and fill():
                continue
            break
        pos = end
        first = False
        count += 1
        yield value
    if skip_ws() is not None:
        raise InvalidPayloadError("Invalid JSON: text after the array")


def rows_of(filename: str, content_type: str | None, text: io.TextIOBase) -> Iterator[Any]:
    """CSV or JSON rows by content type, else by file extension (415 otherwise)."""
    mime = (content_type or "").split(";")[0].strip().lower()
    name = filename.lower()
    if mime in ("text/csv", "application/csv") or (
            mime in ("", "application/octet-stream", "text/plain") and name.endswith(".csv")):
        return csv_rows(text)
    if mime == "application/json" or (
            mime in ("", "application/octet-stream", "text/plain") and name.endswith(".json")):
        return json_items(text)
    raise UnsupportedMediaTypeError(f'Unsupported media type "{mime or name}"')


def _row_error(row: int, field: str | None, message: str) -> InvalidPayloadError:
    text = f"Row {row}" + (f', field "{field}"' if field else "") + f": {message}"
    err = InvalidPayloadError(text, row=row)
    if field:
        err.extensions["field"] = field
    return err


# -- writing ----------------------------------------------------------------------------
def _batches(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _existing_keys(cms: Any, collection: str, pk: str, keys: list[Any]) -> set[str]:
    if not keys:
        return set()
    rows = ItemsService(cms, collection, None).read_by_query(
        {"fields": [pk], "filter": {pk: {"_in": keys}}, "limit": -1})
    return {str(r[pk]) for r in rows}


def _write_batch(cms: Any, accountability: Any, collection: str, batch: list[Any],
                 first_row: int) -> None:
    """Create (or update, for a known key) the rows of one batch in one transaction."""
    coll = ItemsService(cms, collection, accountability).coll()
    pk = coll.primary_key
    for i, row in enumerate(batch):
        if not isinstance(row, dict):
            raise _row_error(first_row + i, None, "An item must be an object")
    keyed = [r[pk] for r in batch if pk and r.get(pk) is not None]
    existing = _existing_keys(cms, collection, pk, keyed) if pk else set()
    updates = [r for r in batch if pk and r.get(pk) is not None and str(r[pk]) in existing]
    creates = [r for r in batch if not (pk and r.get(pk) is not None
                                        and str(r[pk]) in existing)]
    try:
        if not updates:
            ItemsService(cms, collection, accountability).create_many(creates)
        else:
            with cms.begin() as conn:
                if creates:
                    ItemsService(cms, collection, accountability,
                                 connection=conn).create_many(creates)
                ItemsService(cms, collection, accountability,
                             connection=conn).update_batch(updates)
    except TransomError as exc:
        if exc.status >= 500:
            raise
        raise _locate(cms, accountability, collection, batch, first_row, exc) from exc


def _locate(cms: Any, accountability: Any, collection: str, batch: list[Any],
            first_row: int, error: TransomError) -> TransomError:
    """The batch failed: replay it row by row (no hooks, rolled back) to name the row."""
    svc_kwargs = {"accountability": accountability, "emit_events": False}
    found: TransomError | None = None

    class _Rollback(Exception):
        pass

    pk = ItemsService(cms, collection, accountability).coll().primary_key
    try:
        with cms.begin() as conn:
            service = ItemsService(cms, collection, connection=conn, **svc_kwargs)
            for i, row in enumerate(batch):
                try:
                    key = row.get(pk) if pk else None
                    if key is not None and str(key) in _existing_keys(cms, collection, pk,
                                                                        [key]):
                        service.update_one(key, {k: v for k, v in row.items() if k != pk})
                    else:
                        service.create_one(row)
                except TransomError as exc:
                    found = _named(exc, first_row + i)
                    break
            raise _Rollback
    except _Rollback:
        pass
    except Exception:  # noqa: BLE001 - the diagnosis is best effort; the error stands
        log.debug("import row diagnosis failed", exc_info=True)
    if found is not None:
        return found
    last = first_row + len(batch) - 1
    return InvalidPayloadError(f"Rows {first_row}-{last}: {error.message}", row=first_row)


def _named(exc: TransomError, row: int) -> TransomError:
    """The row's error with the row number (and its field, when the error names one)."""
    for one in exc.errors if isinstance(exc, ErrorGroup) else [exc]:
        field = one.extensions.get("field")
        one.message = (f"Row {row}" + (f', field "{field}"' if field else "")
                       + f": {one.message}")
        one.extensions["row"] = row
    if isinstance(exc, ErrorGroup) and exc.errors:
        exc.message = exc.errors[0].message
    return exc


def import_rows(cms: Any, accountability: Any, collection: str, rows: Iterable[Any],
                batch_size: int | None = None,
                progress: Callable[[int], Any] | None = None) -> int:
    """Write ``rows`` into ``collection`` in committed batches; the number written."""
    service = ItemsService(cms, collection, accountability)
    service.coll()  # 403 for an unknown collection
    service.permissions.require(collection, "create")
    done = 0
    for batch in _batches(rows, batch_size or BATCH):
        _write_batch(cms, accountability, collection, batch, done + 1)
        done += len(batch)
        if progress is not None:
            progress(len(batch))
    return done


def import_file(cms: Any, accountability: Any, collection: str, source: BinaryIO,
                progress: Callable[[int], Any] | None = None) -> int:
    """Import an open CSV or JSON file (the CLI), chosen by its name's extension."""
    def chunks() -> Iterator[bytes]:
        while chunk := source.read(CHUNK):
            yield chunk
    name = str(getattr(source, "name", ""))
    return import_rows(cms, accountability, collection,
                       rows_of(name, None, text_of(chunks())), progress=progress)


@bp.post("/utils/import/<collection>")
def import_view(collection: str) -> Response:
    """Import items from a CSV or JSON file"""
    cms = current_cms()
    accountability = get_accountability()
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaTypeError(
            f'Unsupported media type "{request.mimetype or ""}": send multipart/form-data')
    boundary = request.mimetype_params.get("boundary")
    if not boundary:
        raise InvalidPayloadError("multipart/form-data without a boundary")
    service = ItemsService(cms, collection, accountability)
    service.coll()
    service.permissions.require(collection, "create")  # 403 before a byte is read
    request.max_content_length = UNBOUNDED  # streamed in batches: not MAX_PAYLOAD_SIZE
    filename, content_type, chunks = multipart_file(request.stream, boundary)
    import_rows(cms, accountability, collection,
                rows_of(filename, content_type, text_of(chunks)))
    return no_content()


# -- export -----------------------------------------------------------------------------
def export_chunks(chunks: Iterable[list[Any]], fmt: str) -> Iterator[bytes]:
    """The bytes of an export of items arriving in chunks. CSV writes the first chunk's
    header once (the columns come from the query's fields, so every chunk has the same,
    except when a JSON field holds objects of different shapes: keep such fields out of
    CSV exports or use JSON); XML, one document element around every item, is built whole."""
    if fmt == "json":
        yield from stream_json_export(chunks)
        return
    if fmt == "xml":
        yield export_items([item for chunk in chunks for item in chunk], fmt)[0]
        return
    first = True
    for chunk in chunks:
        if not chunk:
            continue
        body = export_items(chunk, fmt)[0]
        if fmt.startswith("csv"):
            if not first:  # the header line (and csv_utf8's BOM, which starts it) goes
                body = body.split(b"\n", 1)[1] if b"\n" in body else b""
            if body and not body.endswith(b"\n"):
                body += b"\n"
        first = False
        yield body
    if first:
        yield export_items([], fmt)[0]


def run_export(cms: Any, accountability: Any, collection: str, query: Any, fmt: str,
               file: dict[str, Any]) -> Any:
    """Write the export to storage with its ``directus_files`` row, then notify the
    caller; on failure the notification says why. The file's key, or None."""
    user = getattr(accountability, "user", None)
    try:
        chunks = ItemsService(cms, collection, accountability).stream_by_query(query)
        location = str(file.get("storage") or storages(cms).default)
        storage = storages(cms).get(location)
        mimetype, extension = EXPORT_TYPES[fmt]
        file_id = str(uuid.uuid4())
        key = f"{file_id}.{extension}"
        size = storage.write(key, export_chunks(chunks, fmt))
        row = {k: v for k, v in file.items() if k not in ("id", "filename_disk", "filesize")}
        row.update({"id": file_id, "storage": location, "filename_disk": key,
                    "filename_download": file.get("filename_download")
                    or export_filename(collection, fmt),
                    "title": file.get("title") or f"Export: {collection}",
                    "type": mimetype.split(";")[0], "filesize": size,
                    "uploaded_on": dt.datetime.now(dt.UTC).isoformat()})
        if user:
            row.setdefault("uploaded_by", user)
        try:
            saved = ItemsService(cms, "directus_files", accountability).create_one(row)
        except Exception:
            storage.delete(key)
            raise
    except Exception as exc:  # noqa: BLE001 - a job's failure is reported to its owner
        log.warning("export of %s failed: %s", collection, exc)
        _notify(cms, user, f"Your export of {collection} failed",
                f"Please contact your system administrator for more information.\n\n"
                f"{getattr(exc, 'message', None) or exc}", None)
        return None
    _notify(cms, user, f"Your export of {collection} is ready", None, saved)
    return saved


def _notify(cms: Any, user: Any, subject: str, message: str | None, item: Any) -> None:
    if not user:
        return
    row = {"recipient": user, "sender": user, "subject": subject, "message": message,
           "collection": "directus_files" if item is not None else None,
           "item": str(item) if item is not None else None}
    try:
        ItemsService(cms, "directus_notifications", None).create_one(row)
    except Exception:  # noqa: BLE001 - nothing else can tell the user
        log.exception("could not notify %s of an export", user)


def export_jobs(cms: Any) -> list[threading.Thread]:
    """The export threads this worker started (tests wait for them)."""
    return cms.state(_EXPORTS_KEY, list)


@bp.post("/utils/export/<collection>")
def export_view(collection: str) -> Response:
    """Export items to a file in storage (a background job)"""
    cms = current_cms()
    accountability = get_accountability()
    body = request_json()
    if not isinstance(body, dict):
        raise InvalidPayloadError('"value" must be of type object')
    fmt = body.get("format")
    if fmt not in EXPORT_TYPES:
        raise InvalidPayloadError(f'"format" must be one of [{", ".join(EXPORT_TYPES)}]')
    raw_query = body.get("query") or {}
    if not isinstance(raw_query, dict):
        raise InvalidPayloadError('"query" must be of type object')
    file = body.get("file") or {}
    if not isinstance(file, dict):
        raise InvalidPayloadError('"file" must be of type object')
    query = parse_query_dict(raw_query)
    if query.limit is None:
        query.limit = -1  # as Directus: an export without a limit takes every item
    service = ItemsService(cms, collection, accountability)
    service.coll()
    service.permissions.require(collection, "read")
    service.read_by_query({**raw_query, "limit": 0})  # a bad field or filter: 4xx now
    if "storage" in file:
        storages(cms).get(str(file["storage"]))
    thread = threading.Thread(target=run_export, name=f"transom-export-{collection}",
                              args=(cms, accountability, collection, query, fmt, file),
                              daemon=True)
    jobs = export_jobs(cms)
    jobs[:] = [t for t in jobs if t.is_alive()]
    jobs.append(thread)
    thread.start()
    return no_content()


# -- sort -------------------------------------------------------------------------------
def manual_sort(cms: Any, accountability: Any, collection: str, item: Any, to: Any) -> None:
    """Move ``item`` to ``to``'s place, shifting the sort values in between by one."""
    service = ItemsService(cms, collection, accountability)
    coll = service.coll()
    service.permissions.require(collection, "update")
    sort_field = coll.sort_field
    if not sort_field or sort_field not in coll.fields or coll.table is None:
        raise InvalidPayloadError(f"Collection {collection} doesn't have a sort field")
    pk = coll.primary_key
    if pk is None:
        raise InvalidPayloadError(f"Collection {collection} has no primary key")
    table = coll.table
    key_col, sort_col = table.c[pk], table.c[sort_field]
    with cms.begin() as conn:
        def value_of(key: Any) -> Any:
            found = conn.execute(sa.select(sort_col).where(key_col == key)).first()
            if found is None:
                raise ForbiddenError()
            return found[0]

        source, target = value_of(item), value_of(to)
        missing = conn.execute(sa.select(key_col).where(sort_col.is_(None))
                               .order_by(key_col)).scalars().all()
        if missing:
            last = conn.execute(sa.select(sa.func.max(sort_col))).scalar() or 0
            for key in missing:
                last += 1
                conn.execute(sa.update(table).where(key_col == key).values({sort_field: last}))
            source, target = value_of(item), value_of(to)
        if target < source:
            conn.execute(sa.update(table).where(sort_col >= target, sort_col <= source)
                         .values({sort_field: sort_col + 1}))
        else:
            conn.execute(sa.update(table).where(sort_col <= target, sort_col >= source)
                         .values({sort_field: sort_col - 1}))
        conn.execute(sa.update(table).where(key_col == item).values({sort_field: target}))
    for name in ("items.sort", f"{collection}.items.sort"):
        cms.emit_action(name, {"event": name, "collection": collection, "item": item,
                               "to": to}, accountability)


@bp.post("/utils/sort/<collection>")
def sort_view(collection: str) -> Response:
    """Move an item to another item's place in the manual sort"""
    body = request_json()
    if not isinstance(body, dict):
        raise InvalidPayloadError('"value" must be of type object')
    for name in ("item", "to"):
        if body.get(name) is None or isinstance(body[name], dict | list | bool):
            raise InvalidPayloadError(f'"{name}" is required')
    manual_sort(current_cms(), get_accountability(), collection, body["item"], body["to"])
    return no_content()


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp
