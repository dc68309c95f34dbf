"""The local bus: a ring of messages in a memory-mapped file shared by the workers of one
machine.

Why a file and not a pipe or a socket: the workers of ``transom start`` are forked by
gunicorn and come and go; a file at a path derived from the database (or
``MESSENGER_LOCAL_PATH``) is found by every worker, by a second ``transom start`` on the same
database and by CLI commands, with no server to run. Checking it costs one 8-byte read of
the shared page, so it is done at the start of every request.

Layout: a 64-byte header (magic, the sequence number of the last message, slot count and
size), then ``SLOTS`` slots of ``SLOT_SIZE`` bytes, each ``seq u64 | length u32 | data``.
Writers take an exclusive ``flock``, write the slot, then the header; readers take a shared
one while they copy slots. A reader more than ``SLOTS`` messages behind has lost some and
resyncs. A message too large for a slot is sent without its payload ("anything changed in
this topic").
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import mmap
import os
import struct
import tempfile
import threading
from typing import Any

from .bus import Message

log = logging.getLogger("transom.messenger")

MAGIC = b"TRNSBUS1"
HEADER = 64
SLOTS = 512
SLOT_SIZE = 2048
_SLOT_HEAD = struct.Struct("<QI")
_U64 = struct.Struct("<Q")
_GEOMETRY = struct.Struct("<II")


def default_path(identity: str, namespace: str) -> str:
    """A path in the temporary folder named after the database and namespace, so every
    process of one deployment on this machine finds the same file."""
    digest = hashlib.sha256(f"{namespace}\0{identity}".encode()).hexdigest()[:20]
    return os.path.join(tempfile.gettempdir(), f"transom-bus-{digest}")


class LocalBus:
    """The ring file, opened lazily in each process (so a fork gets its own mapping)."""

    name = "local"

    def __init__(self, path: str) -> None:
        self.path = path
        self._pid = -1
        self._fd = -1
        self._mm: mmap.mmap | None = None
        self._closed = False
        self._head_at_close = 0
        self._open_lock = threading.Lock()
        self._mapping()  # fail early (unwritable folder) and fix the starting head

    def _mapping(self) -> mmap.mmap:
        mm = self._mm
        if mm is not None and self._pid == os.getpid():
            return mm
        with self._open_lock:
            if self._mm is not None and self._pid == os.getpid():
                return self._mm
            size = HEADER + SLOTS * SLOT_SIZE
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    if os.fstat(fd).st_size < size:
                        os.ftruncate(fd, size)
                    # Reserve every block now: a sparse mapped file whose disk fills up
                    # kills the writer with SIGBUS; this fails here with ENOSPC instead.
                    os.posix_fallocate(fd, 0, size)
                    mm = mmap.mmap(fd, size)
                    if mm[:8] != MAGIC:
                        mm[:HEADER] = b"\0" * HEADER
                        _GEOMETRY.pack_into(mm, 16, SLOTS, SLOT_SIZE)
                        mm[:8] = MAGIC
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            except BaseException:
                os.close(fd)
                raise
            self._fd, self._mm, self._pid = fd, mm, os.getpid()
            return mm

    def head(self) -> int:
        """The sequence number of the last message written (the hot path)."""
        if self._closed:
            return self._head_at_close
        return _U64.unpack_from(self._mapping(), 8)[0]

    def send(self, message: Message) -> None:
        if self._closed:
            return
        data = message.encode()
        if len(data) > SLOT_SIZE - _SLOT_HEAD.size:
            data = message.bare().encode()
        mm = self._mapping()
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            seq = _U64.unpack_from(mm, 8)[0] + 1
            offset = HEADER + (seq % SLOTS) * SLOT_SIZE
            _SLOT_HEAD.pack_into(mm, offset, seq, len(data))
            mm[offset + _SLOT_HEAD.size: offset + _SLOT_HEAD.size + len(data)] = data
            _U64.pack_into(mm, 8, seq)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def read(self, since: int, head: int) -> tuple[list[Message], bool]:
        """Messages ``since < seq <= head``, and whether some were lost on the way."""
        if self._closed:
            return [], False
        mm = self._mapping()
        lost = head - since > SLOTS or head < since
        first = max(since + 1, head - SLOTS + 1)
        out: list[Message] = []
        fcntl.flock(self._fd, fcntl.LOCK_SH)
        try:
            for seq in range(first, head + 1):
                offset = HEADER + (seq % SLOTS) * SLOT_SIZE
                stored, length = _SLOT_HEAD.unpack_from(mm, offset)
                if stored != seq:
                    lost = True
                    continue
                start = offset + _SLOT_HEAD.size
                message = Message.decode(bytes(mm[start:start + length]))
                if message is not None:
                    out.append(message)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        return out, lost

    def close(self) -> None:
        """Stop writing and reading. The mapping itself is left to the garbage collector:
        a thread still inside ``head()`` (a request finishing during shutdown) must not
        find it unmapped under its feet."""
        if self._closed:
            return
        try:
            self._head_at_close = self.head()
        except (OSError, ValueError):
            pass
        self._closed = True
        if self._mm is not None and self._pid == os.getpid():
            try:
                os.close(self._fd)
            except OSError:
                pass


def open_local_bus(path: str) -> Any:
    """The bus at ``path``, or None (with a warning) when it cannot be made there."""
    try:
        return LocalBus(path)
    except OSError as exc:
        log.warning("messenger: no local bus at %s (%s); other workers on this machine will "
                    "only see changes through the remote transports or the refresh interval",
                    path, exc)
        return None
