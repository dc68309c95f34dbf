"""Response cache benchmark: the same reads with and without transom-cache-redis.

Two ways to run it (from the repository root):

1. Let it start two servers itself (the default)::

       uv run python bench/cache_bench.py
       uv run python bench/cache_bench.py --duration 10 --connections 16 --workers 2
       uv run python bench/cache_bench.py --db-url postgresql+psycopg://postgres@127.0.0.1:5432/cb

   It seeds the benchmark data set (``bench/seed.py``: 10,000 articles, 100 authors) into
   a throw-away SQLite file (or the ``--db-url`` database), runs ``transom bootstrap``, then
   starts ``transom start`` twice on free loopback ports, each gunicorn with ``--workers``
   sync workers: one with ``CACHE_ENABLED=true CACHE_STORE=redis`` (``--redis-url``, a
   namespace of its own, removed afterwards) and one without the cache. Both are stopped
   (their process group: SIGTERM, then SIGKILL) when it ends.

2. Point it at servers you run::

       uv run python bench/cache_bench.py --cached-url http://127.0.0.1:8055 \
           --uncached-url http://127.0.0.1:8056 --token "$ADMIN_TOKEN"

   Either URL may be left out. The token is sent as ``Authorization: Bearer``.

For each query (``GET /items/articles?limit=25``, and the filter + sort one
``?filter[status][_eq]=published&sort=-rating&limit=25``) and each server it warms up (so
the cached server answers from Redis), then drives the query for ``--duration`` seconds
with ``wrk --latency`` (or, when wrk is missing or with ``--loader python``, closed-loop
``http.client`` threads) and prints requests per second, p50 and p99 latency, and the
cached/uncached ratio. Only 127.0.0.1 is used for the servers it starts.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
HOST = "127.0.0.1"
DEFAULT_TOKEN = "cache-bench-admin-token"

QUERIES = {
    "list": "/items/articles?limit=25",
    "filter_sort": "/items/articles?filter[status][_eq]=published&sort=-rating&limit=25",
}

WRK_SCRIPT = r"""
local token = os.getenv("BENCH_TOKEN")
if token ~= nil and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'CACHE_BENCH {"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,' ..
    '"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class Result:
    requests: int
    seconds: float
    errors: int
    non_2xx: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# -- HTTP helpers ---------------------------------------------------------------------------
def split_url(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or HOST, parts.port or 80


def get(
    base: str, path: str, token: str | None, timeout: float = 10
) -> tuple[int, dict[str, str], bytes]:
    host, port = split_url(base)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def run_wrk(
    base: str,
    path: str,
    token: str | None,
    duration: int,
    connections: int,
    threads: int,
    script: Path,
) -> Result:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "5s",
        "-s",
        str(script),
        base.rstrip("/") + path,
    ]
    out = subprocess.run(
        cmd,
        env=dict(os.environ, BENCH_TOKEN=token or ""),
        capture_output=True,
        text=True,
        timeout=duration + 30,
    )
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("CACHE_BENCH ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    d = json.loads(line.split(" ", 1)[1])
    return Result(
        d["requests"],
        d["duration_us"] / 1e6,
        d["errors"],
        d["non2xx"],
        d["p50_us"] / 1000,
        d["p99_us"] / 1000,
    )


def run_python(base: str, path: str, token: str | None, duration: int, connections: int) -> Result:
    """Closed loop: ``connections`` threads, each sending one request after the other."""
    host, port = split_url(base)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    non_2xx = [0] * connections
    go = threading.Event()
    stop_at = [0.0]

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=5)
        go.wait()
        while (t0 := time.perf_counter()) < stop_at[0]:
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    non_2xx[i] += 1
                if (resp.getheader("connection") or "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=5)
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=5)
                continue
            latencies[i].append(time.perf_counter() - t0)
        conn.close()

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for t in pool:
        t.start()
    started = time.perf_counter()
    stop_at[0] = started + duration
    go.set()
    for t in pool:
        t.join(duration + 15)
    elapsed = time.perf_counter() - started
    flat = sorted(x for part in latencies for x in part)

    def pct(p: float) -> float:
        return flat[min(len(flat) - 1, int(p / 100 * len(flat)))] * 1000 if flat else 0.0

    return Result(len(flat), elapsed, sum(errors), sum(non_2xx), pct(50), pct(99))


# -- servers we start -----------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """``transom start`` in its own process group, stopped by that group."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.env = dict(env, PORT=str(self.port), HOST=HOST)
        self.log = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 90) -> None:
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                transom_cmd("start"),
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.tail()}")
            try:
                if get(self.url, "/server/ping", None, timeout=2)[0] == 200:
                    time.sleep(1.0)  # let the other workers finish booting
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer in {timeout:.0f} s:\n{self.tail()}")

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the group is ours alone
        for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self.proc = None


def transom_cmd(*args: str) -> list[str]:
    exe = shutil.which("transom") or str(Path(sys.executable).with_name("transom"))
    return [exe, *args]


def base_env(db_url: str, token: str, workers: int) -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DB_", "ADMIN_", "CACHE_", "TRANSOM_", "METRICS_"))
        and k not in ("PORT", "HOST", "WORKERS", "THREADS", "LOG_LEVEL", "CONFIG_ENV_FILE")
    }
    return dict(
        keep,
        DB_URL=db_url,
        ADMIN_TOKEN=token,
        ADMIN_EMAIL="bench@example.com",
        ADMIN_PASSWORD="cache-bench-password",
        SECRET="cache-bench-" + "x" * 32,
        WORKERS=str(workers),
        THREADS="1",
        LOG_LEVEL="warn",
        CONFIG_ENV_FILE=os.devnull,
    )


def prepare_database(db_url: str, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, str(BENCH_DIR / "seed.py"), "--db-url", db_url],
        check=True,
        cwd=REPO,
        timeout=600,
    )
    boot = subprocess.run(
        transom_cmd("bootstrap"), env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    if boot.returncode != 0:
        raise RuntimeError(f"transom bootstrap failed:\n{boot.stdout}{boot.stderr}")


def drop_namespace(redis_url: str, namespace: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
    finally:
        client.close()


# -- the run --------------------------------------------------------------------------------
def bench(
    targets: dict[str, str], token: str | None, args: argparse.Namespace, loader: str, workdir: Path
) -> list[tuple[str, str, Result]]:
    script = workdir / "cache_bench.lua"
    script.write_text(WRK_SCRIPT)
    rows: list[tuple[str, str, Result]] = []
    for qname, path in QUERIES.items():
        for label, base in targets.items():
            status, headers, _ = get(base, path, token)
            if status != 200:
                raise RuntimeError(f"{label} {path} answered {status}")
            for _ in range(args.warmup):
                get(base, path, token)
            status, headers, _ = get(base, path, token)
            note = headers.get("x-cache", "")
            print(
                f"cache_bench: {qname:<12} {label:<9} warm answer {status} {note}".rstrip(),
                flush=True,
            )
            if loader == "wrk":
                res = run_wrk(
                    base, path, token, args.duration, args.connections, args.wrk_threads, script
                )
            else:
                res = run_python(base, path, token, args.duration, args.connections)
            rows.append((qname, label, res))
    return rows


def print_table(rows: list[tuple[str, str, Result]], loader: str, args: argparse.Namespace) -> None:
    print()
    print(
        f"loader={loader} connections={args.connections} duration={args.duration}s "
        f"workers={args.workers}"
    )
    print(
        f"{'query':<12} {'server':<9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6} {'non-200':>7}"
    )
    by_query: dict[str, dict[str, Result]] = {}
    for qname, label, r in rows:
        by_query.setdefault(qname, {})[label] = r
        print(
            f"{qname:<12} {label:<9} {r.rps:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} "
            f"{r.errors:>6} {r.non_2xx:>7}"
        )
    for qname, res in by_query.items():
        if "cached" in res and "uncached" in res and res["uncached"].rps:
            ratio = res["cached"].rps / res["uncached"].rps
            print(f"{qname}: cached/uncached throughput x{ratio:.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cached-url", help="a running server with the cache on")
    ap.add_argument("--uncached-url", help="a running server with the cache off")
    ap.add_argument("--token", default=None, help="Bearer token (default: the one it seeds)")
    ap.add_argument(
        "--db-url",
        default=None,
        help="database for the servers it starts (default: a new SQLite file)",
    )
    ap.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/12",
        help="Redis of the cached server it starts",
    )
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers per server (2)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per measurement (10)")
    ap.add_argument("--connections", type=int, default=16, help="concurrent connections (16)")
    ap.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (2)")
    ap.add_argument("--warmup", type=int, default=20, help="requests before measuring (20)")
    ap.add_argument("--loader", choices=("auto", "wrk", "python"), default="auto")
    args = ap.parse_args(argv)

    loader = args.loader
    if loader == "auto":
        loader = "wrk" if shutil.which("wrk") else "python"
    elif loader == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed; use --loader python")

    with tempfile.TemporaryDirectory(prefix="cache-bench-") as tmp:
        workdir = Path(tmp)
        if args.cached_url or args.uncached_url:
            targets = {
                label: url
                for label, url in (("cached", args.cached_url), ("uncached", args.uncached_url))
                if url
            }
            print_table(bench(targets, args.token, args, loader, workdir), loader, args)
            return 0
        token = args.token or DEFAULT_TOKEN
        db_url = args.db_url or f"sqlite:///{workdir / 'cache_bench.db'}"
        env = base_env(db_url, token, args.workers)
        prepare_database(db_url, env)
        namespace = f"cache-bench-{uuid.uuid4().hex[:8]}"
        cached = Server(
            "cached",
            dict(
                env,
                CACHE_ENABLED="true",
                CACHE_STORE="redis",
                CACHE_REDIS=args.redis_url,
                CACHE_NAMESPACE=namespace,
                CACHE_STATUS_HEADER="X-Cache",
                CACHE_TTL="10m",
            ),
            workdir,
        )
        uncached = Server("uncached", dict(env, CACHE_ENABLED="false"), workdir)
        servers = [cached, uncached]
        try:
            for server in servers:
                server.start()
            rows = bench(
                {"cached": cached.url, "uncached": uncached.url}, token, args, loader, workdir
            )
        finally:
            for server in servers:
                server.stop()
            try:
                drop_namespace(args.redis_url, namespace)
            except Exception as exc:  # noqa: BLE001 - leftover keys expire anyway
                print(f"cache_bench: could not remove Redis keys: {exc}", file=sys.stderr)
        print_table(rows, loader, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
