"""The local driver removes temporary files left by a writer that died mid-write."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from transom.storage import ORPHAN_PART_AGE, LocalStorage


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_orphan_parts_of_dead_writers_are_removed(tmp_path: Path) -> None:
    store = LocalStorage("local", {"root": str(tmp_path)})
    store.write("a/file.csv", [b"one"])
    folder = tmp_path / "a"
    dead = folder / f".file.csv.{_dead_pid()}.1.part"
    dead.write_bytes(b"half")
    alive = folder / f".file.csv.{os.getppid()}.1.part"  # a live process: still writing
    alive.write_bytes(b"busy")
    other = folder / f".other.csv.{_dead_pid()}.1.part"  # another key: not this write's
    other.write_bytes(b"x")

    store.write("a/file.csv", [b"two"])

    assert not dead.exists()
    assert alive.exists()
    assert other.exists()
    assert (folder / "file.csv").read_bytes() == b"two"
    assert list(store.list("a/")) == ["a/file.csv"]


def test_old_parts_are_removed_on_delete_whoever_wrote_them(tmp_path: Path) -> None:
    store = LocalStorage("local", {"root": str(tmp_path)})
    store.write("report.json", [b"{}"])
    stale = tmp_path / f".report.json.{os.getppid()}.7.part"
    stale.write_bytes(b"old")
    past = time.time() - ORPHAN_PART_AGE - 60
    os.utime(stale, (past, past))

    store.delete("report.json")

    assert not stale.exists()
    assert not (tmp_path / "report.json").exists()
