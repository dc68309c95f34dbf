"""Does anonymous login traffic starve authenticated readers?

Starts ``transom start`` with its defaults (2 workers, default THREADS, argon2's default
cost, LOGIN_STALL_TIME 500 ms) on a fresh SQLite file, then for ``--seconds`` sends
``--rate`` wrong anonymous logins per second while an admin reads ``/users/me`` every 50 ms,
and prints the read's p50/p95 with and without the login traffic.

    uv run python bench/login_starvation.py                 # the defaults
    uv run python bench/login_starvation.py --threads 1     # the old sync model, to compare
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TOKEN = "bench-login-admin-token"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url: str, body: dict | None = None, token: str | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if data:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def _reads(base: str, seconds: float) -> list[float]:
    """Latencies (ms) of authenticated reads, one every 50 ms."""
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        status = _request(f"{base}/users/me", token=TOKEN)
        out.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            print(f"read answered {status}", file=sys.stderr)
        time.sleep(0.05)
    return out


def _logins(base: str, rate: float, seconds: float, codes: list[int]) -> None:
    """``rate`` wrong anonymous logins per second, each from its own thread."""
    with ThreadPoolExecutor(max_workers=64) as pool:
        end = time.monotonic() + seconds
        n = 0
        start = time.monotonic()
        while time.monotonic() < end:
            body = {"email": f"nobody{n}@example.com", "password": "wrong"}
            pool.submit(lambda b=body: codes.append(_request(f"{base}/auth/login", b)))
            n += 1
            time.sleep(max(0.0, start + n / rate - time.monotonic()))


def _summary(label: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, max(0, math.ceil(len(ms) * 0.95) - 1))]
    return f"{label:<28} n={len(ms):<4} p50={statistics.median(ms):7.1f} ms  p95={p95:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="wrong logins per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=None, help="THREADS (default: unset)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="transom-login-bench-"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "HASH_"))}
    env.update({"DB_CLIENT": "sqlite3", "DB_FILENAME": str(folder / "data.db"),
                "HOST": "127.0.0.1", "PORT": str(port), "SECRET": "b" * 48,
                "ADMIN_EMAIL": "admin@example.com", "ADMIN_PASSWORD": "bench-password",
                "ADMIN_TOKEN": TOKEN, "LOG_LEVEL": "error",
                "CONFIG_ENV_FILE": str(folder / "none.env"),
                # the per-IP limit would answer 429 quickly: measure the worst case
                "AUTH_LOGIN_IP_ATTEMPTS": "0"})
    if args.threads is not None:
        env["THREADS"] = str(args.threads)
    proc = subprocess.Popen([sys.executable, "-m", "transom.cli", "start"], cwd=folder,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Transom is running" in line:
                print(line.strip())
                break
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
        time.sleep(2.0)  # let every worker start
        quiet = _reads(base, 3.0)
        codes: list[int] = []
        loader = threading.Thread(target=_logins, args=(base, args.rate, args.seconds, codes))
        loader.start()
        time.sleep(1.0)
        loaded = _reads(base, args.seconds - 1.5)
        loader.join()
        print(_summary("read, idle", quiet))
        print(_summary(f"read, {args.rate:g} logins/s", loaded))
        print("login answers:", {c: codes.count(c) for c in sorted(set(codes))})
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


if __name__ == "__main__":
    main()
