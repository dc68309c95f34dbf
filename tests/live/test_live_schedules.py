"""Scheduled jobs run once per tick for the whole deployment: a drop-in extension with an
every-second cron job appends one line per run to a file, under the real ``transom start``
with 2 workers, and under two instances (2 workers each) on one PostgreSQL database."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.live

EXTENSION = '''
import os
from transom.api import Schedule, hookimpl

OUT = os.environ["LIVE_TICKS_FILE"]

def tick(context):
    line = "%s %d\\n" % (context.extra["time"].isoformat(), os.getpid())
    fd = os.open(OUT, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)

@hookimpl
def register_schedules(cms):
    return [Schedule("* * * * * *", tick, name="live-every-second")]
'''


def _extension(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "extensions"
    folder.mkdir()
    (folder / "ticker.py").write_text(EXTENSION)
    return folder, tmp_path / "ticks.txt"


def _ticks(out: Path) -> Counter[str]:
    if not out.exists():
        return Counter()
    return Counter(line.split()[0] for line in out.read_text().splitlines() if line.strip())


def _env(folder: Path, out: Path, **extra: Any) -> dict[str, Any]:
    return {"EXTENSIONS_PATH": str(folder), "LIVE_TICKS_FILE": str(out), "SCHEDULER": "true",
            **extra}


def _check_once(out: Path, seconds: float) -> None:
    time.sleep(seconds)
    ticks = _ticks(out)
    twice = {t: n for t, n in ticks.items() if n != 1}
    assert len(ticks) >= seconds - 1.5, f"too few ticks ran: {sorted(ticks)}"
    assert not twice, f"ticks that ran more than once: {twice} (all: {dict(ticks)})"
    pids = {line.split()[1] for line in out.read_text().splitlines() if line.strip()}
    assert pids, "no worker ran the job"


@pytest.mark.backends("sqlite", "postgres", "mysql")
def test_a_job_runs_once_per_tick_with_two_workers(backend, live_server, tmp_path):
    folder, out = _extension(tmp_path)
    server = live_server(backend, workers=2, env=_env(folder, out))
    assert len(server.worker_pids()) == 2
    _check_once(out, 4.0)
    assert server.traceback_summary() is None


@pytest.mark.backends("postgres")
def test_a_job_runs_once_per_tick_with_two_instances(backend, live_server, tmp_path):
    folder, out = _extension(tmp_path)
    a = live_server(backend, workers=2, env=_env(
        folder, out, MESSENGER_LOCAL_PATH=str(tmp_path / "bus-a")))
    b = live_server(workers=2, database=a, env=_env(
        folder, out, MESSENGER_LOCAL_PATH=str(tmp_path / "bus-b")))
    _check_once(out, 4.0)
    pids = {line.split()[1] for line in out.read_text().splitlines() if line.strip()}
    assert len(pids) >= 1
    for server in (a, b):
        assert server.traceback_summary() is None
    # losing the workers of one instance loses no tick: the other keeps claiming them
    a.stop()
    before = len(_ticks(out))
    time.sleep(2.5)
    assert len(_ticks(out)) >= before + 1
    assert all(n == 1 for n in _ticks(out).values())
    assert os.path.exists(out)
