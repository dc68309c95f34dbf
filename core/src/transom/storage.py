"""Storage locations for file content: the ``Storage`` protocol, the local driver, and the
per-app registry of locations (``STORAGE_LOCATIONS``) built from ``register_storage``.

Content is addressed by a key (``directus_files.filename_disk``, or a derived key for a
cached transform). Drivers stream in both directions so that no file is ever held whole in
memory: ``write`` takes an iterable of chunks, ``read`` yields chunks (optionally a byte range).
A driver is a factory ``(location, options) -> Storage`` where ``options`` holds the
``STORAGE_<LOCATION>_*`` settings with that prefix removed and lower-cased (``root``, ``key``,
``secret``, ``bucket``, ``region``, ``endpoint``...).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .errors import InvalidPayloadError, ServiceUnavailableError, StartupError
from .plugins import flatten

CHUNK = 64 * 1024


@dataclass(frozen=True)
class StoredObject:
    """What ``stat`` knows of one key: its size and last change."""

    key: str
    size: int
    modified: dt.datetime


@runtime_checkable
class Storage(Protocol):
    """One storage location. Keys are relative, ``/``-separated, never absolute."""

    name: str

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield the content of ``key`` from byte ``start`` to ``end`` (exclusive)."""
        ...

    def write(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store ``chunks`` under ``key`` (replacing it); return the number of bytes."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        ...

    def stat(self, key: str) -> StoredObject | None:
        """Size and modification time of ``key``, or None when it does not exist."""
        ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Every key starting with ``prefix``."""
        ...


#: what ``register_storage`` returns: driver name -> factory(location, options)
StorageFactory = Callable[[str, Mapping[str, Any]], Storage]


#: a temporary file older than this is an orphan whatever wrote it (another host, say)
ORPHAN_PART_AGE = 24 * 3600.0


def _sweep_orphan_parts(path: Path) -> None:
    """Remove temporary files of ``path`` left by a process that died while writing.

    A worker killed mid-write (SIGKILL, OOM) cannot run its ``finally``; its
    ``.<name>.<pid>.<thread>.part`` stays. One is an orphan when its process is gone from
    this host, or when it has not changed for :data:`ORPHAN_PART_AGE` seconds.
    """
    try:
        found = list(path.parent.glob(f".{path.name}.*.part"))
    except OSError:
        return
    now = dt.datetime.now().timestamp()
    for part in found:
        pid_text = part.name[len(path.name) + 2:].split(".", 1)[0]
        try:
            age = now - part.stat().st_mtime
            pid = int(pid_text)
        except (OSError, ValueError):
            continue
        if pid == os.getpid() and age < ORPHAN_PART_AGE:
            continue
        if age < ORPHAN_PART_AGE and _process_alive(pid):
            continue
        part.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def safe_key(key: str) -> str:
    """Refuse keys that could leave a location's root (``..``, absolute, backslashes)."""
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or "\x00" in key or any(
            p in ("", ".", "..") for p in parts):
        raise InvalidPayloadError(f'Invalid storage key "{key}"')
    return key


class LocalStorage:
    """Files under a folder (``STORAGE_<LOC>_ROOT``, for ``local`` ``STORAGE_LOCAL_ROOT``).

    Writes go to a temporary name first and are renamed into place, so a reader never sees
    half a file and a failed upload leaves nothing behind.
    """

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.root = Path(str(options.get("root") or "./uploads")).resolve()

    def _path(self, key: str) -> Path:
        return self.root / safe_key(key)

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        with open(self._path(key), "rb") as fh:
            fh.seek(start)
            left = None if end is None else end - start
            while left is None or left > 0:
                chunk = fh.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def write(self, key: str, chunks: Iterable[bytes]) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        _sweep_orphan_parts(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
        size = 0
        try:
            with open(tmp, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                    size += len(chunk)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return size

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        _sweep_orphan_parts(path)

    def stat(self, key: str) -> StoredObject | None:
        try:
            st = self._path(key).stat()
        except FileNotFoundError:
            return None
        return StoredObject(key, st.st_size, dt.datetime.fromtimestamp(st.st_mtime, dt.UTC))

    def list(self, prefix: str = "") -> Iterator[str]:
        folder, _, start = prefix.rpartition("/")
        base = self.root / folder if folder else self.root
        if not base.is_dir():
            return
        for path in base.glob(f"{start}*"):  # only the entries the prefix can match
            inner = path.rglob("*") if path.is_dir() else [path]
            for found in inner:
                if found.is_file() and not found.name.endswith(".part"):
                    yield found.relative_to(self.root).as_posix()


class Storages:
    """The locations of one app, made on first use (``storages(cms)``)."""

    def __init__(self, cms: Any) -> None:
        cfg = cms.config
        drivers: dict[str, StorageFactory] = {"local": LocalStorage}
        for found in flatten(cms.hook.register_storage(cms=cms)):
            for name, factory in dict(found).items():
                if name in drivers and drivers[name] is not factory and name != "local":
                    raise StartupError(f'Two plugins register the storage driver "{name}"')
                drivers[name] = factory
        self.drivers = drivers
        names = cfg.get("STORAGE_LOCATIONS") or ["local"]
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        self.names: list[str] = list(names)
        self._locations: dict[str, Storage] = {}
        self._lock = threading.Lock()
        self._config = cfg

    def options(self, location: str) -> dict[str, Any]:
        """``STORAGE_<LOC>_*`` settings of ``location``, prefix removed, lower-cased."""
        prefix = f"STORAGE_{location.upper()}_"
        return {k[len(prefix):].lower(): self._config.get(k) for k in list(self._config)
                if k.startswith(prefix)}

    @property
    def default(self) -> str:
        return self.names[0]

    def get(self, location: str | None = None) -> Storage:
        """The storage of ``location`` (the first location by default); 400 if unknown."""
        name = location or self.default
        if name not in self.names:
            raise InvalidPayloadError(f'Storage location "{name}" is not configured')
        with self._lock:
            if name not in self._locations:
                opts = self.options(name)
                driver = str(opts.get("driver") or ("local" if name == "local" else ""))
                if driver not in self.drivers:
                    raise ServiceUnavailableError(
                        "storage", f'STORAGE_{name.upper()}_DRIVER "{driver}" is not an '
                        f'installed driver ({", ".join(sorted(self.drivers))})')
                self._locations[name] = self.drivers[driver](name, opts)
            return self._locations[name]


def storages(cms: Any) -> Storages:
    """The app's storage registry (one per app, thread-safe)."""
    return cms.state("transom.storage", lambda: Storages(cms))
