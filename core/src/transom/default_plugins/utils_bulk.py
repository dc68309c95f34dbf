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

**Export** (``POST /utils/export/:collection`` ``{query, format, file?}``) checks the query,
records a job row (``transom_export_jobs``) and answers 204; a thread of the worker streams
the items (``ItemsService.stream_by_query``, ``EXPORT_BATCH_SIZE`` per batch) through the
export formats into storage, then in one transaction adds the ``directus_files`` row,
notifies the caller in ``directus_notifications`` ("Your export of <collection> is ready")
and marks the job done, as Directus does. The job is durable: its run holds a lease
(:func:`transom.locks.lease`, ``EXPORT_JOB_LEASE_TTL``) renewed after each batch, with the
progress; every worker polls (every half lease) for unfinished jobs whose lease lapsed (their
worker died: SIGKILL, OOM) and the one that takes the lease runs the job again from the start,
deleting the dead run's file. Only the lease holder of record can finish a job, so a file and
a notification appear once. A job that stops its worker 3 times is given up (the failure is
notified); a share caller's job is not resumed.

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

from .. import hookimpl, locks
from ..config import Setting
from ..errors import (
    ErrorGroup,
    ForbiddenError,
    InvalidPayloadError,
    TransomError,
    UnsupportedMediaTypeError,
)
from ..http.context import current_cms, get_accountability
from ..http.crud import csv_header_is_known
from ..http.multipart import multipart_events
from ..http.openapi import Blueprint
from ..http.responses import no_content, request_json
from ..query import parse_query_dict
from ..query.export import EXPORT_TYPES, csv_header_of, export_filename, stream_export
from ..schedule import scheduler_enabled
from ..services.items import ItemsService
from ..storage import storages
from ..system.migrations import Migration

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
def export_chunks(chunks: Iterable[list[Any]], fmt: str,
                  csv_header: list[str] | None = None) -> Iterator[bytes]:
    """The bytes of an export of items arriving in chunks: the same streaming writers as
    ``?export=`` (XML one item at a time; CSV under ``csv_header``, or the first chunk's
    when every row has the same columns), so memory stays bounded by a chunk in every
    format."""
    return stream_export(chunks, fmt, csv_header)


# -- durable export jobs ------------------------------------------------------------------
#: the job rows: what to export, for whom, and how far it got (hidden from /items)
JOBS_TABLE = "transom_export_jobs"
_jobs_md = sa.MetaData()
jobs_table = sa.Table(
    JOBS_TABLE, _jobs_md,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("collection", sa.String(64), nullable=False),
    sa.Column("format", sa.String(16), nullable=False),
    sa.Column("query", sa.Text, nullable=False),  # the request's query, as JSON
    sa.Column("file", sa.Text, nullable=False),  # the request's file fields, as JSON
    sa.Column("user_id", sa.String(36)),
    sa.Column("role_id", sa.String(36)),
    sa.Column("share_id", sa.String(36)),
    sa.Column("ip", sa.String(255)),
    sa.Column("status", sa.String(16), nullable=False),  # pending running done failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("worker", sa.String(120)),  # the lease owner running it
    sa.Column("file_key", sa.String(255)),  # location:key being written by that attempt
    sa.Column("rows_done", sa.Integer, nullable=False, default=0),
    sa.Column("result", sa.String(36)),  # the directus_files id once done
    sa.Column("error", sa.Text),
    sa.Column("created", sa.DateTime, nullable=False),  # naive UTC on every dialect
    sa.Column("updated", sa.DateTime, nullable=False),
    sa.Index("transom_export_jobs_status", "status", "updated"),
)
#: a job that kills its worker this many times (memory, a crash) is given up
MAX_ATTEMPTS = 3
_UNFINISHED = ("pending", "running")
_TABLE_READY = "transom.utils.export_table"
_RUNNING_KEY = "transom.utils.export_running"
_POLLER_KEY = "transom.utils.export_poller"

SETTINGS = [
    Setting("EXPORT_BATCH_SIZE", 5000, "int",
            "Items read per batch by /utils/export (also how often its progress is saved)."),
    Setting("EXPORT_JOB_LEASE_TTL", 60_000, "duration",
            "How long an export job's worker may go silent before another worker resumes "
            "the job (it renews its lease after each batch)."),
]


def _create_jobs_table(conn: Any, dialect: Any = None) -> None:
    _jobs_md.create_all(conn, checkfirst=True)


def _drop_jobs_table(conn: Any, dialect: Any = None) -> None:
    _jobs_md.drop_all(conn, checkfirst=True)


def _ensure_jobs_table(cms: Any) -> None:
    """The table, also where the database was not bootstrapped (once per process)."""
    if not cms.state(_TABLE_READY, lambda: [False])[0]:
        with cms.begin() as conn:
            _create_jobs_table(conn)
        cms.state(_TABLE_READY)[0] = True


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _lease_ttl_s(cms: Any) -> float:
    return max(1.0, int(cms.config.get("EXPORT_JOB_LEASE_TTL") or 60_000) / 1000.0)


def _job_lease(cms: Any, job_id: str) -> locks.Lease:
    return locks.lease(cms, f"export:{job_id}", _lease_ttl_s(cms))


def record_export(cms: Any, accountability: Any, collection: str, raw_query: dict[str, Any],
                  fmt: str, file: dict[str, Any]) -> str:
    """Write the job row (before answering 204): whatever happens to this worker, the
    job is known to every other."""
    _ensure_jobs_table(cms)
    job_id = str(uuid.uuid4())
    now = _now()
    acc = accountability
    with cms.begin() as conn:
        conn.execute(jobs_table.insert().values(
            id=job_id, collection=collection, format=fmt, query=json.dumps(raw_query),
            file=json.dumps(file), user_id=getattr(acc, "user", None),
            role_id=getattr(acc, "role", None), share_id=getattr(acc, "share", None),
            ip=(getattr(acc, "ip", None) or "")[:255] or None, status="pending", attempts=0,
            rows_done=0, created=now, updated=now))
    return job_id


def _caller_of(cms: Any, job: Any) -> Any:
    """The accountability the export reads as, rebuilt from the job row (so a worker that
    did not receive the request gets the requester's current permissions)."""
    if job.user_id:
        return cms.access.for_user(str(job.user_id), job.role_id and str(job.role_id), job.ip)
    return cms.access.public(job.ip)


def _run_with_lease(cms: Any, job_id: str) -> Any:
    """Run one job if this worker can take its lease (the first run, or a resume after
    the lease of a dead worker expired); the directus_files id, or None."""
    running: set[str] = cms.state(_RUNNING_KEY, set)
    if job_id in running:
        return None
    running.add(job_id)
    lease = _job_lease(cms, job_id)
    try:
        if not lease.acquire():
            return None
        return _run_job(cms, job_id, lease)
    finally:
        running.discard(job_id)
        try:
            lease.release()
        except Exception:  # noqa: BLE001 - it expires by itself
            log.warning("could not release the lease of export %s", job_id)


def _run_job(cms: Any, job_id: str, lease: locks.Lease) -> Any:
    t = jobs_table
    with cms.begin() as conn:
        taken = conn.execute(t.update().where(t.c.id == job_id, t.c.status.in_(_UNFINISHED))
                             .values(status="running", attempts=t.c.attempts + 1,
                                     worker=lease.owner, updated=_now())).rowcount
        job = conn.execute(sa.select(t).where(t.c.id == job_id)).first()
    if not taken or job is None:
        return None  # finished meanwhile
    if job.file_key:  # the partial file of a run that died
        old_location, _, old_key = str(job.file_key).partition(":")
        try:
            storages(cms).get(old_location).delete(old_key)
        except Exception:  # noqa: BLE001 - an orphan file is no reason to stop
            log.warning("could not delete the partial export %s", job.file_key)
    if job.share_id or job.attempts > MAX_ATTEMPTS:
        reason = ("a share's export cannot be resumed" if job.share_id
                  else f"it stopped its worker {job.attempts - 1} times")
        _finish(cms, job, lease, None, f"The export was given up: {reason}.")
        return None
    return run_export(cms, _caller_of(cms, job), job, lease)


def _finish(cms: Any, job: Any, lease: locks.Lease, row: dict[str, Any] | None,
            error: str | None, caller: Any = None) -> Any:
    """Mark the job done (with its file row) or failed, and notify its owner, in one
    transaction that only the lease holder of record can commit."""
    t = jobs_table
    collection, user = job.collection, job.user_id
    with cms.begin() as conn:
        won = conn.execute(t.update().where(
            t.c.id == job.id, t.c.worker == lease.owner, t.c.status == "running").values(
            status="failed" if row is None else "done", result=row and row["id"],
            error=error, updated=_now())).rowcount
        if won != 1:
            return None  # another worker took the job over: its run reports
        saved = None
        if row is not None:
            # as the requester, as Directus: who may not create files gets no export
            saved = ItemsService(cms, "directus_files", caller, conn).create_one(row)
            _notify(cms, conn, user, f"Your export of {collection} is ready", None, saved)
        else:
            _notify(cms, conn, user, f"Your export of {collection} failed",
                    f"Please contact your system administrator for more information.\n\n"
                    f"{error}", None)
    return saved


def run_export(cms: Any, accountability: Any, job: Any, lease: locks.Lease) -> Any:
    """Write the export to storage, then (one transaction) its ``directus_files`` row,
    the owner's notification and the job's end; on failure the notification says why.
    After each batch the lease is renewed and the progress saved; a run whose lease was
    lost stops. The file's key, or None."""
    t = jobs_table
    collection, fmt = job.collection, job.format
    file = json.loads(job.file)
    batch = max(1, int(cms.config.get("EXPORT_BATCH_SIZE") or 5000))
    location = str(file.get("storage") or storages(cms).default)
    key = ""
    storage = None

    def renewing(chunks: Iterable[list[Any]]) -> Iterator[list[Any]]:
        for chunk in chunks:
            if not lease.acquire():
                raise RuntimeError("the export's lease was lost")
            yield chunk

    def progress(chunks: Iterable[list[Any]]) -> Iterator[list[Any]]:
        done = 0
        for chunk in renewing(chunks):
            done += len(chunk)
            with cms.begin() as conn:
                conn.execute(t.update().where(t.c.id == job.id, t.c.worker == lease.owner)
                             .values(rows_done=done, updated=_now()))
            yield chunk

    try:
        query = parse_query_dict(json.loads(job.query))
        if query.limit is None:
            query.limit = -1  # as Directus: an export without a limit takes every item
        storage = storages(cms).get(location)
        mimetype, extension = EXPORT_TYPES[fmt]
        file_id = str(uuid.uuid4())
        key = f"{file_id}.{extension}"
        with cms.begin() as conn:
            conn.execute(t.update().where(t.c.id == job.id, t.c.worker == lease.owner)
                         .values(file_key=f"{location}:{key}", updated=_now()))
        svc = ItemsService(cms, collection, accountability)
        header = None
        if fmt in ("csv", "csv_utf8") and not csv_header_is_known(svc, query):
            # columns that depend on the rows (a JSON field, a relation): a first pass
            # reads the header, one batch in memory at a time, so no value misses a column
            header = csv_header_of(renewing(svc.stream_by_query(query, batch)))
        chunks = svc.stream_by_query(query, batch)
        size = storage.write(key, export_chunks(progress(chunks), fmt, header))
        row = {k: v for k, v in file.items() if k not in ("id", "filename_disk", "filesize")}
        row.update({"id": file_id, "storage": location, "filename_disk": key,
                    "filename_download": file.get("filename_download")
                    or export_filename(collection, fmt),
                    "title": file.get("title") or f"Export: {collection}",
                    "type": mimetype.split(";")[0], "filesize": size,
                    "uploaded_on": dt.datetime.now(dt.UTC).isoformat()})
        if job.user_id:
            row.setdefault("uploaded_by", str(job.user_id))
        saved = _finish(cms, job, lease, row, None, accountability)
        if saved is None:
            storage.delete(key)  # taken over: the other run writes its own file
        return saved
    except Exception as exc:  # noqa: BLE001 - a job's failure is reported to its owner
        log.warning("export of %s failed: %s", collection, exc)
        if storage is not None and key:
            try:
                storage.delete(key)
            except Exception:  # noqa: BLE001
                log.warning("could not delete the failed export %s", key)
        try:
            _finish(cms, job, lease, None, str(getattr(exc, "message", None) or exc))
        except Exception:  # noqa: BLE001 - nothing else can tell the user
            log.exception("could not record the failure of export %s", job.id)
        return None


def _notify(cms: Any, conn: Any, user: Any, subject: str, message: str | None,
            item: Any) -> None:
    if not user:
        return
    row = {"recipient": str(user), "sender": str(user), "subject": subject,
           "message": message, "collection": "directus_files" if item is not None else None,
           "item": str(item) if item is not None else None}
    ItemsService(cms, "directus_notifications", None, conn).create_one(row)


def stale_jobs(cms: Any) -> list[str]:
    """Unfinished jobs nobody has reported on for a lease's time: candidates to resume."""
    _ensure_jobs_table(cms)
    t = jobs_table
    limit = _now() - dt.timedelta(seconds=_lease_ttl_s(cms))
    with cms.connect() as conn:
        return [str(r) for r in conn.execute(sa.select(t.c.id).where(
            t.c.status.in_(_UNFINISHED), t.c.updated < limit).order_by(t.c.created)).scalars()]


def resume_stale_jobs(cms: Any) -> list[threading.Thread]:
    """Start a thread for each stale job this worker may take over (its lease decides)."""
    started = []
    for job_id in stale_jobs(cms):
        if job_id in cms.state(_RUNNING_KEY, set):
            continue
        started.append(_start(cms, job_id))
    return started


def _start(cms: Any, job_id: str) -> threading.Thread:
    thread = threading.Thread(target=_run_with_lease, name=f"transom-export-{job_id[:8]}",
                              args=(cms, job_id), daemon=True)
    jobs = export_jobs(cms)
    jobs[:] = [j for j in jobs if j.is_alive()]
    jobs.append(thread)
    thread.start()
    return thread


class ExportPoller:
    """One thread per worker looking for stale jobs every half lease (a SELECT on a small
    indexed table); the lease makes sure one worker of the deployment resumes each."""

    def __init__(self, cms: Any) -> None:
        self.cms = cms
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="transom-export-poller",
                                       daemon=True)

    def _loop(self) -> None:
        interval = max(0.5, _lease_ttl_s(self.cms) / 2)
        while not self.stop_event.wait(interval):
            try:
                resume_stale_jobs(self.cms)
            except Exception:  # noqa: BLE001 - the next round tries again
                log.warning("looking for unfinished exports failed", exc_info=True)


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
    parse_query_dict(raw_query)  # a malformed query: 400 now
    service = ItemsService(cms, collection, accountability)
    service.coll()
    service.permissions.require(collection, "read")
    service.read_by_query({**raw_query, "limit": 0})  # a bad field or filter: 4xx now
    if "storage" in file:
        storages(cms).get(str(file["storage"]))
    try:
        json.dumps(file)
    except (TypeError, ValueError) as exc:
        raise InvalidPayloadError('"file" must be of type object') from exc
    _start(cms, record_export(cms, accountability, collection, raw_query, fmt, file))
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
    # keys typed as the primary key ("4" for an integer key was a 500 on PostgreSQL); a key
    # that cannot be one is a 403, as for a missing item
    item, to = service._typed_key(item), service._typed_key(to)
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


@hookimpl
def register_settings() -> Any:
    return SETTINGS


@hookimpl
def register_migrations(cms: Any) -> Any:
    return [Migration("20261203T-utils-export-jobs-1", "transom-export-jobs",
                      _create_jobs_table, _drop_jobs_table)]


@hookimpl
def extend_schema(cms: Any, schema: Any) -> Any:
    """The job rows are the export's own: no /items, no GraphQL type for them."""
    schema.tables.pop(JOBS_TABLE, None)
    return None


@hookimpl
def startup(cms: Any) -> None:
    """Resume the exports of dead workers (where scheduled work runs at all)."""
    if scheduler_enabled(cms.config):
        poller = ExportPoller(cms)
        cms.extensions[_POLLER_KEY] = poller
        poller.thread.start()


@hookimpl
def shutdown(cms: Any) -> None:
    poller = cms.extensions.pop(_POLLER_KEY, None)
    if poller is not None:
        poller.stop_event.set()
        poller.thread.join(5.0)
