"""Cold start: from spawning ``transom start`` to its first ``/server/ping`` answer.

Starts the real server (gunicorn, ``--workers`` sync workers, the console script of this
virtualenv, not ``uv run``, whose own start-up is not Transom's) on a free loopback port
over an already bootstrapped database, polls ``/server/ping`` every 5 ms, records the time
of the first 200 and stops the server (SIGTERM to its process group, then SIGKILL). Repeats
``--runs`` times and prints each run, the minimum and the median. Each run also shows the
CPU time (user + system) that the server's processes used from spawn to exit (master and
workers, start-up and shutdown): on a loaded machine wall time swings with the other
processes, while the CPU time says what the start itself costs.

Usage::

    uv run python bench/cold_start.py                         # SQLite bench database
    uv run python bench/cold_start.py --runs 7 --workers 2
    uv run python bench/cold_start.py --db-url postgresql+psycopg://postgres@127.0.0.1:5432/transom_bench
"""

from __future__ import annotations

import argparse
import http.client
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import seed as seed_mod  # noqa: E402
from run import DEFAULT_TOKEN, free_port  # noqa: E402


def ping(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
        conn.request("GET", "/server/ping")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(cmd: list[str], env: dict[str, str], port: int, timeout: float
            ) -> tuple[float, float]:
    """Seconds from spawn to the first 200 on ``/server/ping``, and the CPU seconds the
    server's processes used in all (gunicorn reaps its workers, so they count too)."""
    cpu0 = _children_cpu()
    with tempfile.TemporaryDirectory() as cwd:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            while time.perf_counter() - t0 < timeout:
                if ping(port):
                    seconds = time.perf_counter() - t0
                    break
                if proc.poll() is not None:
                    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                    raise RuntimeError(f"transom start exited {proc.returncode}: {err[-2000:]}")
                time.sleep(0.005)
            else:
                raise RuntimeError(f"no answer within {timeout} s")
        finally:
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
    return seconds, _children_cpu() - cpu0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db-url", default=seed_mod.DEFAULT_DB_URL)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--no-bytecode", action="store_true",
                    help="keep PYTHONDONTWRITEBYTECODE as it is (by default the server may "
                         "write and read .pyc files under --pycache, as an installed "
                         "package has them; one warm-up run fills it)")
    ap.add_argument("--pycache", default=str(Path(tempfile.gettempdir()) / "transom-pycache"))
    args = ap.parse_args(argv)

    seed_mod.seed(args.db_url, quiet=True)
    exe = Path(sys.executable).with_name("transom")
    times, cpus = [], []
    base_env = dict(os.environ)
    if not args.no_bytecode:
        base_env.pop("PYTHONDONTWRITEBYTECODE", None)
        base_env["PYTHONPYCACHEPREFIX"] = args.pycache
    for n in range(-1 if not args.no_bytecode else 0, args.runs):
        port = free_port()
        env = {**base_env, "DB_URL": args.db_url, "ADMIN_TOKEN": DEFAULT_TOKEN,
               "ADMIN_EMAIL": "bench@example.com", "ADMIN_PASSWORD": "transom-bench-password",
               "PORT": str(port), "HOST": "127.0.0.1", "WORKERS": str(args.workers),
               "THREADS": "1", "LOG_LEVEL": "warn", "SECRET": "cold-start-bench-secret"}
        seconds, cpu = one_run([str(exe), "start"], env, port, args.timeout)
        if n < 0:
            print(f"warm-up run (fills the bytecode cache): {seconds:.2f} s", flush=True)
            continue
        times.append(seconds)
        cpus.append(cpu)
        print(f"run {n + 1}: {seconds:.2f} s (server CPU {cpu:.2f} s)", flush=True)
    print(f"spawn -> first /server/ping, {args.workers} workers: min {min(times):.2f} s, "
          f"median {statistics.median(times):.2f} s ({len(times)} runs); server CPU per "
          f"run: min {min(cpus):.2f} s, median {statistics.median(cpus):.2f} s; "
          f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
