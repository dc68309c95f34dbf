"""Large schemas: `transom schema apply` of an N-table snapshot, and a worker's idle CPU on
an N-table database (the coherence issue's figures).

    uv run python bench/schema_scale.py [--tables 1500] [--backends sqlite,postgres]
                                        [--idle-seconds 30] [--json out.json]

For each backend: make an empty database, bootstrap it, time `transom schema apply -y` of a
snapshot with N collections of 10 fields each (as a user runs it, in a subprocess), then
start `transom start` with 2 workers on the result, let it settle, and read the workers'
CPU time from /proc over `--idle-seconds`. Nothing here asserts anything; the figures go in
bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "schema-scale-admin-token"
PG_SERVER = os.environ.get("TRANSOM_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def snapshot_with(tables: int, workdir: Path) -> Path:
    """A snapshot document with ``tables`` collections, made from a real one-collection
    snapshot so the format is exactly what `transom schema snapshot` writes."""
    from transom import create_app
    from transom.services.schema_sync import snapshot
    from transom.system.bootstrap import bootstrap

    db = workdir / "proto.db"
    app = create_app({"DB_CLIENT": "sqlite3", "DB_FILENAME": str(db), "ADMIN_TOKEN": TOKEN,
                      "ADMIN_EMAIL": "admin@example.com", "ADMIN_PASSWORD": "SuperSecret123",
                      "TESTING": "true", "LOG_LEVEL": "warn", "EXTENSIONS_PATH": ""},
                     env_file=None)
    cms = app.extensions["transom"]
    bootstrap(cms)
    fields = [{"field": "id", "type": "integer",
               "schema": {"is_primary_key": True, "has_auto_increment": True}}]
    fields += [{"field": f"f{i}", "type": "string" if i % 3 else "integer"} for i in range(9)]
    resp = app.test_client().post("/collections", json={"collection": "proto",
                                                        "fields": fields},
                                  headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 200, resp.get_json()
    snap = snapshot(cms, refresh=True)
    cms.close()
    proto_c = [c for c in snap["collections"] if c["collection"] == "proto"]
    proto_f = [f for f in snap["fields"] if f["collection"] == "proto"]
    out = dict(snap)
    out["collections"] = [c for c in snap["collections"] if c["collection"] != "proto"]
    out["fields"] = [f for f in snap["fields"] if f["collection"] != "proto"]
    for n in range(tables):
        name = f"t{n:05d}"
        for c in proto_c:
            out["collections"].append(_renamed(c, name))
        for f in proto_f:
            out["fields"].append(_renamed(f, name))
    path = workdir / f"snapshot-{tables}.json"
    path.write_text(json.dumps(out))
    return path


def _renamed(obj: dict, name: str) -> dict:
    text = json.dumps(obj).replace('"proto"', json.dumps(name))
    return json.loads(text)


def env_for(backend: str, workdir: Path) -> tuple[dict[str, str], callable]:
    base = dict(os.environ, KEY="k", SECRET="schema-scale-secret-0123456789abcdef0123",
                ADMIN_EMAIL="admin@example.com", ADMIN_PASSWORD="SuperSecret123",
                ADMIN_TOKEN=TOKEN, LOG_LEVEL="warn", EXTENSIONS_PATH="")
    if backend == "sqlite":
        db = workdir / "scale.db"
        db.unlink(missing_ok=True)
        return {**base, "DB_CLIENT": "sqlite3", "DB_FILENAME": str(db)}, lambda: None
    server = sa.make_url(PG_SERVER)
    name = f"transom_scale_{os.getpid()}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    url = server.set(database=name).render_as_string(hide_password=False)
    return {**base, "DB_URL": url}, drop


def transom(*args: str, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "transom.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=1800)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"transom {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n"
                         f"{proc.stderr[-2000:]}")
    return took, proc.stdout + proc.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def idle_cpu(env: dict[str, str], seconds: float) -> dict[str, float]:
    port = free_port()
    env = {**env, "HOST": "127.0.0.1", "PORT": str(port), "WORKERS": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "transom.cli", "start"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server/ping", timeout=2):
                    break
            except OSError:
                time.sleep(0.3)
        time.sleep(3)  # let start-up settle (first fingerprint polls)
        workers = children(proc.pid)
        before = {p: cpu_seconds(p) for p in workers}
        time.sleep(seconds)
        after = {p: cpu_seconds(p) for p in workers}
        return {str(p): round(100 * (after[p] - before[p]) / seconds, 2) for p in workers}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", type=int, default=1500)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--idle-seconds", type=float, default=30)
    ap.add_argument("--json")
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="transom-scale-") as tmp:
        work = Path(tmp)
        snap = snapshot_with(args.tables, work)
        for backend in args.backends.split(","):
            env, cleanup = env_for(backend, work)
            try:
                boot, _ = transom("bootstrap", env=env)
                apply_s, out = transom("schema", "apply", str(snap), "-y", env=env)
                again, out2 = transom("schema", "apply", str(snap), "-y", env=env)
                cpu = idle_cpu(env, args.idle_seconds)
            finally:
                cleanup()
            results[backend] = {"tables": args.tables, "apply_s": round(apply_s, 1),
                                "second_apply_s": round(again, 1),
                                "second_apply": out2.strip().splitlines()[-1:],
                                "idle_cpu_percent_per_worker": cpu}
            print(backend, json.dumps(results[backend]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
