"""``transom start`` builds the serving app once, in the master, and its workers inherit it
(``cli_admin._fork_ready`` / ``_before_fork`` / ``_adopt``): each worker must still get its
own database connections, threads and identity on the bus. Checked in a fresh interpreter
that forks, as gunicorn does (this test process has threads of its own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = r"""
import json, os, sys, threading
from transom import cli_admin
from transom.app import create_app

app = create_app({"DB_URL": sys.argv[1], "SECRET": "start-fork-test-secret-0123456789"},
                 start=False)
cms = app.extensions["transom"]
cli_admin._bootstrap(app)
master = {"threads": threading.active_count(), "ready": cli_admin._fork_ready(app),
          "origin": cms.messenger.origin}
cli_admin._before_fork(app)
master["pooled"] = cms.engine.pool.checkedin()
read, write = os.pipe()
pid = os.fork()
if pid == 0:  # the worker
    os.close(read)
    try:
        cli_admin._serving_app(app)
        with cms.connect() as conn:
            users = conn.exec_driver_sql("SELECT COUNT(*) FROM directus_users").scalar_one()
        ping = app.test_client().get("/server/ping")
        out = {"threads": sorted(t.name for t in threading.enumerate()),
               "origin": cms.messenger.origin, "users": users, "ping": ping.status_code}
    except BaseException as exc:
        out = {"error": repr(exc)}
    os.write(write, json.dumps(out).encode())
    os._exit(0)
os.close(write)
chunks = []
while chunk := os.read(read, 65536):
    chunks.append(chunk)
os.waitpid(pid, 0)
print(json.dumps({"master": master, "worker": json.loads(b"".join(chunks)),
                  "master_threads_after": threading.active_count()}))
"""


def test_workers_adopt_the_masters_app_with_their_own_threads_and_identity(
        tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LOG_LEVEL": "warn",
           "HASH_MEMORY_COST": "1024", "HASH_TIME_COST": "1",
           "CONFIG_ENV_FILE": str(tmp_path / "none.env"),
           **{k: v for k, v in os.environ.items() if k.startswith("PYTHON")}}
    out = subprocess.run([sys.executable, "-c", PROBE, f"sqlite:///{tmp_path / 'fork.db'}"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    master, worker = found["master"], found["worker"]
    # nothing started in the master: no thread to lose in the fork, no pooled connection
    assert master["threads"] == 1 and master["ready"] is True, found
    assert master["pooled"] == 0, found
    assert found["master_threads_after"] == 1, found
    assert "error" not in worker, worker
    # the worker started what serving needs, on its own connections and bus identity
    assert "transom-schema-watch" in worker["threads"], worker
    assert worker["origin"] != master["origin"], found
    assert worker["users"] == 1 and worker["ping"] == 200, worker
