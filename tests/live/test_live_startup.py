"""``transom start`` as users run it: start-up errors are one clear line naming the setting,
a non-zero exit and no traceback; nothing is claimed before the port is bound."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from transom.testing.live import free_port, server_command

pytestmark = pytest.mark.live


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
    env.update({"DB_CLIENT": "sqlite3", "DB_FILENAME": str(tmp_path / "data.db"),
                "HOST": "127.0.0.1", "PORT": str(free_port()), "SECRET": "s" * 48,
                "LOG_LEVEL": "warn", "CONFIG_ENV_FILE": str(tmp_path / "none.env"),
                "HASH_TIME_COST": "1", "HASH_MEMORY_COST": "1024", "HASH_PARALLELISM": "1"})
    env.update(extra)
    return env


def _run(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(server_command(), cwd=tmp_path, env=_env(tmp_path, **extra),
                          capture_output=True, text=True, timeout=90)


def _assert_one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "Traceback" not in out, out
    errors = [line for line in out.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, out
    for word in words:
        assert word in errors[0], out
    assert "Transom is running" not in out, out


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_bad_worker_count_is_refused(tmp_path: Path, value: str) -> None:
    _assert_one_clear_line(_run(tmp_path, WORKERS=value), "WORKERS", value)


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        _assert_one_clear_line(_run(tmp_path, PORT=str(port)), "already in use", str(port))


def test_wrong_mariadb_password_names_the_setting(tmp_path: Path) -> None:
    url = "mysql+pymysql://root:wrong-password@127.0.0.1:3306/test"
    _assert_one_clear_line(_run(tmp_path, DB_URL=url), "DB_PASSWORD")


def test_unreachable_database_names_the_setting(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    _assert_one_clear_line(_run(tmp_path, DB_URL=url), "DB_HOST", "DB_PORT")


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_printed_address_is_the_bound_one(tmp_path: Path, host: str) -> None:
    env = _env(tmp_path, HOST=host)
    port = env["PORT"]
    proc = subprocess.Popen(server_command(), cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        line = ""
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line or "Transom is running" in line:
                break
        assert f"Transom is running at http://{host}:{port} " in line, line
        # the line comes from gunicorn once it listens: the port answers now
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server/ping", timeout=30) as r:
            assert r.status == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
