"""One benchmark run: Transom against a minimal Flask + SQLAlchemy Core baseline.

Steps: seed the database (if needed) -> ``transom bootstrap`` on it -> start Transom
(``uv run transom start``, WORKERS=2 THREADS=1, i.e. gunicorn with 2 sync workers) and the
baseline (``baseline_app.py`` under gunicorn with 2 sync workers) on free loopback ports ->
check every scenario answers 200 -> for each scenario: warm up, then drive it for
``--duration`` seconds with ``wrk -t2 -c16 --latency`` (or, without wrk, a Python load
generator: 16 keep-alive ``http.client`` connections on threads) while sampling the RSS of
each gunicorn worker -> print a table and the Transom/baseline ratios against the targets.

Usage (from the repository root)::

    uv run python bench/run.py                              # SQLite, 10 s per scenario
    uv run python bench/run.py --duration 5 --scenarios list,baseline_list
    uv run python bench/run.py --db-url postgresql+psycopg://postgres@127.0.0.1:5432/transom_bench
    uv run python bench/run.py --repeat 3 --json out.json   # medians of 3 passes

Only 127.0.0.1 is used. Every process it starts gets its own process group and is stopped
(SIGTERM, then SIGKILL) in a ``finally``; the whole run is bounded by ``--max-time``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import seed as seed_mod  # noqa: E402

HOST = "127.0.0.1"
DEFAULT_TOKEN = "transom-bench-admin-token"

# Targets the lead asked to report against.
TARGET_RATIO = 0.7
TARGET_P99_MS = 50.0
TARGET_RSS_MB = 120.0


@dataclass(frozen=True)
class Scenario:
    name: str
    server: str  # "transom", "baseline" or "directus"
    path: str
    title: str
    baseline_of: str | None = None  # for baseline scenarios: the Transom scenario compared
    peer_of: str | None = None  # for Directus scenarios: the Transom scenario compared


LIST = "/items/articles?limit=25"
FILTER_SORT = "/items/articles?filter[status][_eq]=published&sort=-rating&limit=25"
RELATIONAL = "/items/articles?fields=id,title,author.name&limit=25"
ITEM = "/items/articles/123"
AGGREGATE = "/items/articles?aggregate[count]=*&groupBy[]=status"

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("list", "transom", LIST, "list of 25"),
        Scenario("baseline_list", "baseline", LIST, "baseline: list of 25", "list"),
        Scenario("filter_sort", "transom", FILTER_SORT, "filter status=published + sort -rating"),
        Scenario(
            "baseline_filter_sort",
            "baseline",
            FILTER_SORT,
            "baseline: filter + sort",
            "filter_sort",
        ),
        Scenario("relational", "transom", RELATIONAL, "fields=id,title,author.name (m2o)"),
        Scenario(
            "baseline_relational",
            "baseline",
            RELATIONAL,
            "baseline: LEFT JOIN authors",
            "relational",
        ),
        Scenario("item", "transom", ITEM, "one item by id"),
        Scenario("baseline_item", "baseline", ITEM, "baseline: one item by id", "item"),
        Scenario("aggregate", "transom", AGGREGATE, "aggregate count, groupBy status"),
        Scenario("ping", "transom", "/server/ping", "/server/ping (framework floor)"),
        Scenario("baseline_ping", "baseline", "/server/ping", "baseline: /server/ping", "ping"),
    )
}
#: the same requests against a running Directus 11 (``--directus``), added for each Transom
#: scenario of the run that has one; Directus's own data comes from
#: ``/work/shared/peers/directus/seed.mjs`` (the same 100 authors and 10,000 articles)
DIRECTUS_SCENARIOS: dict[str, Scenario] = {
    f"directus_{s.name}": Scenario(f"directus_{s.name}", "directus", s.path,
                                   f"Directus 11: {s.title}", peer_of=s.name)
    for s in SCENARIOS.values()
    if s.server == "transom" and s.name in ("list", "filter_sort", "relational", "item", "ping")
}
DIRECTUS_TOKEN = "admin-static-token-0123456789"  # what seed.mjs gives the Directus admin

DEFAULT_SCENARIOS = (
    "list",
    "baseline_list",
    "filter_sort",
    "baseline_filter_sort",
    "relational",
    "item",
    "aggregate",
)


class RunError(Exception):
    pass


class _Deadline(BaseException):
    pass


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may contain spaces and parentheses.
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def gunicorn_workers(root_pid: int) -> list[int]:
    """The worker pids under ``root_pid``: children of the first process in the tree whose
    children are all leaves (the gunicorn master; ``uv run`` adds a level above it)."""
    children = _children_map()
    todo = [root_pid]
    while todo:
        pid = todo.pop(0)
        kids = children.get(pid, [])
        if kids and all(not children.get(k) for k in kids):
            return sorted(kids)
        todo.extend(kids)
    return []


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


class Server:
    """A server started in its own session (process group), stopped by group."""

    def __init__(
        self, name: str, cmd: list[str], env: dict[str, str], cwd: Path, port: int, log_dir: Path
    ) -> None:
        self.name, self.cmd, self.env, self.cwd, self.port = name, cmd, env, cwd, port
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s: float | None = None

    def start(self, timeout: float) -> None:
        log = open(self.log_path, "wb")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.cmd,
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RunError(
                    f"{self.name} exited with {self.proc.returncode} before "
                    f"answering; log:\n{self.log_tail()}"
                )
            try:
                status, _ = http_get(self.port, "/server/ping", None, timeout=2)
                if status == 200:
                    self.startup_s = time.perf_counter() - t0
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise RunError(
                f"{self.name} did not answer /server/ping within {timeout:.0f} s; "
                f"log:\n{self.log_tail()}"
            )
        # Both gunicorn workers booted (they are forked together; wait a little for both).
        deadline = time.monotonic() + 30
        while len(self.workers()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)

    def workers(self) -> list[int]:
        return gunicorn_workers(self.proc.pid) if self.proc else []

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None and not _group_alive(self.proc.pid):
            return
        pgid = self.proc.pid
        for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _group_alive(pgid):
                try:
                    self.proc.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    pass
            if not _group_alive(pgid):
                break
        try:
            self.proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies still count for killpg; look for a live member.
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2 :].split()
        if int(rest[2]) == pgid and rest[0] != "Z":
            return True
    return False


# --------------------------------------------------------------------------- HTTP


class Peer:
    """A server this script did not start and does not stop (a local Directus 11): its
    port, and its pid when known (for RSS and for not counting its CPU as other load)."""

    proc = None
    startup_s = None

    def __init__(self, name: str, port: int, pid: int | None) -> None:
        self.name, self.port, self.pid = name, port, pid

    def workers(self) -> list[int]:
        return [self.pid] if self.pid and Path(f"/proc/{self.pid}").exists() else []


def peer_from_url(url: str, pid_arg: str | None) -> Peer:
    """The Directus given by ``--directus`` (loopback only) and its pid (``--directus-pid``,
    else the pid file ``/work/shared/peers/directus/setup.sh`` writes)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit("--directus must be http://127.0.0.1:<port> (loopback only)")
    pid: int | None = None
    if pid_arg:
        pid = int(pid_arg)
    else:
        peer_dir = os.environ.get("PEER_DIR") or os.path.join(
            os.environ.get("TMPDIR", "/tmp"), "directus-peer", "directus")
        pid_file = Path(peer_dir) / "run" / "directus-sqlite.pid"  # as setup.sh names it
        if pid_file.exists():
            text = pid_file.read_text().strip()
            pid = int(text) if text.isdigit() else None
    return Peer("directus", parts.port or 80, pid)


def http_get(port: int, path: str, token: str | None, timeout: float = 10) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


WRK_LUA = r"""
local token = os.getenv("BENCH_TOKEN")
if token ~= nil and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
"""


@dataclass
class LoadResult:
    requests: int
    seconds: float
    errors: int  # socket errors and timeouts
    non_2xx: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    other_cpu_pct: float = 0.0
    error_detail: dict[str, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(
    port: int,
    path: str,
    token: str | None,
    duration: float,
    threads: int,
    connections: int,
    script: Path,
) -> LoadResult:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--latency",
        "--timeout",
        "5s",
        "-s",
        str(script),
        f"http://{HOST}:{port}{path}",
    ]
    env = dict(os.environ, BENCH_TOKEN=token or "")
    out = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=duration + 30, start_new_session=True
    )
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if out.returncode != 0 or line is None:
        raise RunError(f"wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    d = json.loads(line[len("BENCH_JSON ") :])
    return LoadResult(
        requests=d["requests"],
        seconds=d["duration_us"] / 1e6,
        errors=d["connect"] + d["read"] + d["write"] + d["timeout"],
        non_2xx=d["status"],
        p50_ms=d["p50_us"] / 1000,
        p90_ms=d["p90_us"] / 1000,
        p99_ms=d["p99_us"] / 1000,
        max_ms=d["max_us"] / 1000,
        error_detail={k: d[k] for k in ("connect", "read", "write", "timeout") if d[k]},
    )


def run_python_load(
    port: int, path: str, token: str | None, duration: float, connections: int
) -> LoadResult:
    """Closed-loop load: ``connections`` threads, each with one keep-alive connection."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    start_evt = threading.Event()
    stop_at = [0.0]
    lat: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    non2xx = [0] * connections

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        mine = lat[i]
        start_evt.wait()
        pc = time.perf_counter
        while True:
            t0 = pc()
            if t0 >= stop_at[0]:
                break
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if not 200 <= resp.status < 400:
                    non2xx[i] += 1
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection(HOST, port, timeout=5)
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=5)
                continue
            mine.append(pc() - t0)
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for t in threads:
        t.start()
    t_start = time.perf_counter()
    stop_at[0] = t_start + duration
    start_evt.set()
    for t in threads:
        t.join(duration + 15)
    elapsed = time.perf_counter() - t_start
    all_lat = sorted(x for part in lat for x in part)

    def pct(p: float) -> float:
        if not all_lat:
            return 0.0
        return all_lat[min(len(all_lat) - 1, int(p / 100 * len(all_lat)))] * 1000

    return LoadResult(
        requests=len(all_lat),
        seconds=elapsed,
        errors=sum(errors),
        non_2xx=sum(non2xx),
        p50_ms=pct(50),
        p90_ms=pct(90),
        p99_ms=pct(99),
        max_ms=(all_lat[-1] * 1000 if all_lat else 0.0),
    )


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_cpu() -> dict[int, tuple[int, int, int, str]]:
    """pid -> (start time, utime + stime ticks, parent pid, command name), from /proc."""
    out: dict[int, tuple[int, int, int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            rest = stat[stat.rindex(")") + 2 :].split()
            out[int(entry)] = (int(rest[19]), int(rest[11]) + int(rest[12]), int(rest[1]), comm)
        except (OSError, ValueError, IndexError):
            continue
    return out


def _descendants(roots: list[int], snap: dict[int, tuple[int, int, int, str]]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (_, _, ppid, _) in snap.items():
        children.setdefault(ppid, []).append(pid)
    seen: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(children.get(pid, []))
    return seen


class ForeignCpu:
    """CPU that processes other than ours used during a measurement (other people's work on
    a shared machine), as % of all cores. Ours: this script and its children (servers, wrk),
    kernel threads, and ``postgres`` processes (the database under test)."""

    def __init__(self, server_pids: list[int]) -> None:
        self.roots = [os.getpid(), *server_pids]
        self.percent = 0.0

    def __enter__(self) -> ForeignCpu:
        self._t = time.perf_counter()
        self._snap = _proc_cpu()
        return self

    def __exit__(self, *exc: Any) -> None:
        elapsed = time.perf_counter() - self._t
        snap = _proc_cpu()
        ours = _descendants(self.roots, snap) | _descendants(self.roots, self._snap)
        ticks = 0
        for pid, (started, used, ppid, comm) in snap.items():
            if pid in ours or pid == 2 or ppid == 2 or comm.startswith("postgres"):
                continue
            before = self._snap.get(pid)
            ticks += used - before[1] if before and before[0] == started else used
        ncpu = os.cpu_count() or 1
        self.percent = 100.0 * ticks / _CLK_TCK / (elapsed * ncpu) if elapsed else 0.0


class RssSampler:
    """Samples VmRSS of a server's workers every ``interval`` s; keeps the maximum."""

    def __init__(self, server: Server, interval: float = 0.25) -> None:
        self.server, self.interval = server, interval
        self.max_by_pid: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for pid in self.server.workers():
            mb = rss_mb(pid)
            if mb is not None:
                self.max_by_pid[pid] = max(mb, self.max_by_pid.get(pid, 0.0))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sample()


# --------------------------------------------------------------------------- the run


@dataclass
class ScenarioResult:
    scenario: Scenario
    passes: list[LoadResult] = field(default_factory=list)
    rss_mb: dict[int, float] = field(default_factory=dict)
    rows: int | None = None
    disturbed_above: float = 0.0  # 0: use every pass

    def used_passes(self) -> list[LoadResult]:
        """The passes the figures come from: those measured while other processes used at
        most ``disturbed_above`` % of the CPUs, or all of them when none was that quiet."""
        if self.disturbed_above <= 0:
            return self.passes
        quiet = [p for p in self.passes if p.other_cpu_pct <= self.disturbed_above]
        return quiet or self.passes

    def median(self, attr: str) -> float:
        return statistics.median(getattr(p, attr) for p in self.used_passes())

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.scenario.name,
            "server": self.scenario.server,
            "path": self.scenario.path,
            "title": self.scenario.title,
            "rows": self.rows,
            "rps": round(self.median("rps"), 1),
            "p50_ms": round(self.median("p50_ms"), 2),
            "p90_ms": round(self.median("p90_ms"), 2),
            "p99_ms": round(self.median("p99_ms"), 2),
            "max_ms": round(max(p.max_ms for p in self.passes), 2),
            "requests": sum(p.requests for p in self.passes),
            "errors": sum(p.errors for p in self.passes),
            "non_2xx": sum(p.non_2xx for p in self.passes),
            "worker_rss_mb": [round(v, 1) for _, v in sorted(self.rss_mb.items())],
            "other_cpu_pct": round(self.median("other_cpu_pct"), 1),
            "passes_used": f"{len(self.used_passes())}/{len(self.passes)}",
            "passes": [
                {
                    "rps": round(p.rps, 1),
                    "p50_ms": round(p.p50_ms, 2),
                    "p99_ms": round(p.p99_ms, 2),
                    "requests": p.requests,
                    "errors": p.errors,
                    "error_detail": p.error_detail,
                    "non_2xx": p.non_2xx,
                    "other_cpu_pct": round(p.other_cpu_pct, 1),
                }
                for p in self.passes
            ],
        }


def redact(url: str) -> str:
    try:
        import sqlalchemy as sa

        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def check_scenario(port: int, sc: Scenario, token: str) -> int | None:
    """One request; fails the run unless it is a 200 JSON answer. Returns the row count."""
    status, body = http_get(port, sc.path, token)
    if sc.path == "/server/ping":
        if status != 200:
            raise RunError(f"{sc.name}: GET {sc.path} -> {status}")
        return None
    if status != 200:
        hint = ""
        if status in (401, 403) and sc.server == "transom":
            hint = (
                "\n(the database may have been bootstrapped earlier with another "
                "ADMIN_TOKEN: pass --token, or re-create the database)"
            )
        raise RunError(f"{sc.name}: GET {sc.path} -> {status}: {body[:300]!r}{hint}")
    data = json.loads(body)["data"]
    return len(data) if isinstance(data, list) else 1


def machine_info(args: argparse.Namespace, loader: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "db_url": redact(args.db_url),
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "repeat": args.repeat,
        "connections": args.connections,
        "workers": args.workers,
        "loader": loader,
    }
    if loader == "wrk":
        v = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=5)
        info["wrk"] = (v.stdout or v.stderr).splitlines()[0] if (v.stdout or v.stderr) else ""
    import sqlite3
    from importlib.metadata import PackageNotFoundError, version

    info["sqlite"] = sqlite3.sqlite_version
    for dist in ("transom", "flask", "sqlalchemy", "gunicorn", "psycopg"):
        try:
            info[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return info


def fmt_rss(values: dict[int, float]) -> str:
    return " / ".join(f"{v:.0f}" for _, v in sorted(values.items())) or "?"


def print_table(
    results: list[ScenarioResult], info: dict[str, Any], startup: dict[str, float | None]
) -> dict[str, Any]:
    by_name = {r.scenario.name: r for r in results}
    print()
    print(
        f"Transom benchmark  {info['date']}  db={info['db_url']}  loader={info['loader']} "
        f"c={info['connections']}  {info['duration_s']:g} s x {info['repeat']}  "
        f"cpus={info['cpus']}  load={info['loadavg_at_start'][0]:.2f}"
    )
    hdr = (
        f"{'scenario':<22} {'server':<9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'err':>5} {'non2xx':>6} {'rows':>5} {'other%':>6} {'passes':>6}  "
        "worker RSS MB"
    )
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        d = r.to_dict()
        print(
            f"{d['name']:<22} {d['server']:<9} {d['rps']:>9.0f} {d['p50_ms']:>8.2f} "
            f"{d['p99_ms']:>8.2f} {d['max_ms']:>8.1f} {d['errors']:>5} {d['non_2xx']:>6} "
            f"{d['rows'] if d['rows'] is not None else '-':>5} {d['other_cpu_pct']:>6.0f} "
            f"{d['passes_used']:>6}  "
            f"{fmt_rss(r.rss_mb)}"
        )
    print()
    for name, s in startup.items():
        if s is not None:
            print(f"start-up to first /server/ping answer: {name} {s:.2f} s")

    summary: dict[str, Any] = {"ratios": {}, "targets": {}}
    print()
    print("Transom / baseline (requests/s):")
    for base in results:
        if base.scenario.baseline_of and base.scenario.baseline_of in by_name:
            tr = by_name[base.scenario.baseline_of]
            ratio = tr.median("rps") / base.median("rps") if base.median("rps") else 0.0
            summary["ratios"][tr.scenario.name] = round(ratio, 3)
            mark = ""
            if tr.scenario.name in ("list", "filter_sort"):
                ok = ratio >= TARGET_RATIO
                summary["targets"][f"ratio_{tr.scenario.name}"] = ok
                mark = f"  target >= {TARGET_RATIO}: {'PASS' if ok else 'FAIL'}"
            print(
                f"  {tr.scenario.name:<14} {tr.median('rps'):8.0f} / "
                f"{base.median('rps'):8.0f} = {ratio:.2f}x{mark}"
            )

    peers = [r for r in results if r.scenario.peer_of and r.scenario.peer_of in by_name]
    if peers:
        print("Transom / Directus 11 (requests/s; p99 ms):")
    for peer in peers:
        tr = by_name[peer.scenario.peer_of]
        ratio = tr.median("rps") / peer.median("rps") if peer.median("rps") else 0.0
        summary.setdefault("directus_ratios", {})[tr.scenario.name] = round(ratio, 3)
        print(
            f"  {tr.scenario.name:<14} {tr.median('rps'):8.0f} / {peer.median('rps'):8.0f} = "
            f"{ratio:.2f}x  (p99 {tr.median('p99_ms'):.1f} / {peer.median('p99_ms'):.1f})"
        )

    transom = [r for r in results if r.scenario.server == "transom"]
    if transom:
        worst_p99 = max(transom, key=lambda r: r.median("p99_ms"))
        ok = worst_p99.median("p99_ms") < TARGET_P99_MS
        summary["targets"]["p99"] = ok
        print(
            f"Transom worst p99: {worst_p99.median('p99_ms'):.1f} ms "
            f"({worst_p99.scenario.name})  target < {TARGET_P99_MS:g} ms: "
            f"{'PASS' if ok else 'FAIL'}"
        )
        rss = [v for r in transom for v in r.rss_mb.values()]
        if rss:
            ok = max(rss) < TARGET_RSS_MB
            summary["targets"]["rss"] = ok
            print(
                f"Transom largest worker RSS: {max(rss):.0f} MB  target < "
                f"{TARGET_RSS_MB:g} MB: {'PASS' if ok else 'FAIL'}"
            )
    print(
        "(other% = CPU used by processes outside this benchmark during the measurement, % of "
        "all cores; passes = passes the medians use, those with other% <= --disturbed-above)"
    )
    bad = [r.scenario.name for r in results if r.to_dict()["errors"] or r.to_dict()["non_2xx"]]
    if bad:
        print(f"WARNING: errors or non-2xx answers in: {', '.join(bad)}")
    restarted = [r.scenario.name for r in results if len(r.rss_mb) > info.get("workers", 2)]
    if restarted:
        print(f"WARNING: a worker was replaced (new pid) during: {', '.join(restarted)}")
        summary["worker_replaced_in"] = restarted
    return summary


def parse_scenarios(text: str) -> list[Scenario]:
    if text in ("default", ""):
        names = list(DEFAULT_SCENARIOS)
    elif text == "all":
        names = list(SCENARIOS)
    else:
        names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(
            f"unknown scenario(s): {', '.join(unknown)}; "
            f"known: {', '.join(SCENARIOS)}, default, all"
        )
    order = list(SCENARIOS)
    return [SCENARIOS[n] for n in sorted(dict.fromkeys(names), key=order.index)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Benchmark Transom against a Flask + Core baseline (see bench/README.md)."
    )
    ap.add_argument("--duration", type=float, default=10, help="seconds per scenario (10)")
    ap.add_argument(
        "--warmup",
        type=float,
        default=2,
        help="seconds of warm-up load before each scenario (2; 0: none)",
    )
    ap.add_argument(
        "--db-url",
        default=seed_mod.DEFAULT_DB_URL,
        help="SQLAlchemy URL (default: SQLite bench/.data/bench.db)",
    )
    ap.add_argument(
        "--scenarios",
        default="default",
        help=f"comma-separated names, 'default' ({','.join(DEFAULT_SCENARIOS)}) "
        f"or 'all' ({','.join(SCENARIOS)})",
    )
    ap.add_argument("--json", dest="json_out", help="also write the results to this file")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="passes over all scenarios; the table shows medians (1)",
    )
    ap.add_argument("--connections", type=int, default=16, help="concurrent connections (16)")
    ap.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (2)")
    ap.add_argument(
        "--loader",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk when installed (auto), or the Python one",
    )
    ap.add_argument(
        "--token",
        default=DEFAULT_TOKEN,
        help="ADMIN_TOKEN given to the first admin at bootstrap and sent as Bearer",
    )
    ap.add_argument(
        "--transom-cmd",
        default=f"uv run --project {ROOT} transom",
        help="command prefix that runs the transom CLI",
    )
    ap.add_argument("--workers", type=int, default=2, help="worker processes of both (2)")
    ap.add_argument(
        "--quiet-below",
        type=float,
        default=0,
        metavar="PCT",
        help="before each measurement wait (up to --quiet-wait s) until other "
        "processes use less than PCT %% of the CPUs (0: do not wait)",
    )
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=60,
        help="longest wait for --quiet-below, per scenario (60)",
    )
    ap.add_argument(
        "--disturbed-above",
        type=float,
        default=10,
        metavar="PCT",
        help="with --repeat: figures are medians of the passes during which other processes "
        "used at most PCT %% of the CPUs (all passes if none; 0: always all) (10)",
    )
    ap.add_argument(
        "--directus",
        metavar="URL",
        help="also measure a running Directus 11 at this loopback URL (e.g. "
        "http://127.0.0.1:8055, started by /work/shared/peers/directus/setup.sh and seeded "
        "by its seed.mjs) on the same requests, and print Transom / Directus ratios",
    )
    ap.add_argument("--directus-token", default=DIRECTUS_TOKEN,
                    help=f"Bearer token for Directus ({DIRECTUS_TOKEN}, seed.mjs's admin)")
    ap.add_argument("--directus-pid", help="Directus's pid (default: setup.sh's pid file)")
    ap.add_argument("--skip-seed", action="store_true", help="do not seed the database")
    ap.add_argument("--scale", action="store_true",
                    help="then, in the same run, the large data set of scale.py (1M articles, "
                         "o2m, m2m, counts, export, cold start); its figures join --json")
    ap.add_argument("--scale-db-url", default=None,
                    help="database of the large data set (default on SQLite: "
                         "bench/.data/scale.db; required for a server database)")
    ap.add_argument("--startup-timeout", type=float, default=180)
    ap.add_argument(
        "--max-time",
        type=float,
        default=None,
        help="abort the whole run after this many seconds (default: estimated)",
    )
    ap.add_argument(
        "--workdir",
        default=str(BENCH_DIR / ".work"),
        help="cwd of the servers and where their logs go (bench/.work)",
    )
    args = ap.parse_args(argv)
    if args.scale and not args.scale_db_url and not args.db_url.startswith("sqlite"):
        ap.error("--scale on a server database needs --scale-db-url (a database of its own "
                 "for the 1M-row data set, e.g. .../transom_scale)")

    scenarios = parse_scenarios(args.scenarios)
    if args.directus:
        twins = {s.peer_of: s for s in DIRECTUS_SCENARIOS.values()}
        scenarios += [twins[s.name] for s in list(scenarios) if s.name in twins]
    loader = args.loader
    if loader == "auto":
        loader = "wrk" if shutil.which("wrk") else "python"
    elif loader == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install -y wrk), use --loader python")

    per_scenario = args.duration + args.warmup + 5
    if args.quiet_below > 0:
        per_scenario += args.quiet_wait
    max_time = args.max_time or (
        2 * args.startup_timeout + 120 + per_scenario * len(scenarios) * args.repeat
        + (1200 if args.scale else 0)
    )
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / "bench.lua"
    script.write_text(WRK_LUA)

    servers: list[Server] = []

    def on_alarm(*_: Any) -> None:
        raise _Deadline(f"run exceeded --max-time {max_time:.0f} s")

    def on_term(*_: Any) -> None:
        raise SystemExit(143)

    old_alarm = signal.signal(signal.SIGALRM, on_alarm)
    old_term = signal.signal(signal.SIGTERM, on_term)
    signal.alarm(int(max_time) + 1)
    try:
        return _run(args, scenarios, loader, workdir, script, servers)
    except (RunError, _Deadline) as exc:
        print(f"\nbench: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
        for s in reversed(servers):
            s.stop()
        signal.signal(signal.SIGALRM, old_alarm)
        signal.signal(signal.SIGTERM, old_term)


def run_scale(args: argparse.Namespace) -> dict[str, Any]:
    """``scale.py``'s measurements (it prints its own table), in this run: its figures."""
    import scale  # bench/scale.py imports this module, so only when asked

    url = args.scale_db_url or scale.seed_scale.DEFAULT_DB_URL
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scale.json"
        print(f"\nbench: the large data set ({url})", flush=True)
        argv = ["--db-url", url, "--duration", str(min(args.duration, 5.0)), "--reps", "5",
                "--json", str(path)]
        if scale.main(argv) != 0:
            raise RunError("the large data set's run (scale.py) failed")
        return json.loads(path.read_text())


def wait_quiet(pids: list[int], below: float, max_wait: float) -> None:
    deadline = time.monotonic() + max_wait
    while True:
        with ForeignCpu(pids) as other:
            time.sleep(1.0)
        if other.percent < below:
            return
        if time.monotonic() >= deadline:
            print(
                f"bench: machine still busy ({other.percent:.0f} % other CPU) after "
                f"{max_wait:.0f} s; measuring anyway",
                flush=True,
            )
            return


def _run(
    args: argparse.Namespace,
    scenarios: list[Scenario],
    loader: str,
    workdir: Path,
    script: Path,
    servers: list[Server],
) -> int:
    info = machine_info(args, loader)
    if not args.skip_seed:
        seed_mod.seed(args.db_url)

    transom_cmd = shlex.split(args.transom_cmd)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DB_", "ADMIN_", "TRANSOM_"))
        and k not in ("PORT", "HOST", "WORKERS", "THREADS", "LOG_LEVEL", "CONFIG_ENV_FILE")
    }
    tport = free_port()
    tenv = dict(
        env,
        DB_URL=args.db_url,
        ADMIN_TOKEN=args.token,
        ADMIN_EMAIL="bench@example.com",
        ADMIN_PASSWORD="transom-bench-password",
        HOST=HOST,
        PORT=str(tport),
        WORKERS=str(args.workers),
        THREADS="1",
        LOG_LEVEL="warn",
    )

    print(f"bench: transom bootstrap on {redact(args.db_url)}", flush=True)
    t0 = time.perf_counter()
    boot = subprocess.run(
        [*transom_cmd, "bootstrap"],
        env=tenv,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=args.startup_timeout,
        start_new_session=True,
    )
    if boot.returncode != 0:
        raise RunError(
            f"transom bootstrap failed ({boot.returncode}):\n"
            f"{boot.stdout[-3000:]}{boot.stderr[-3000:]}"
        )
    print(f"bench: bootstrap done in {time.perf_counter() - t0:.1f} s", flush=True)

    transom = Server("transom", [*transom_cmd, "start"], tenv, workdir, tport, workdir)
    servers.append(transom)
    need_baseline = any(s.server == "baseline" for s in scenarios)
    baseline = None
    if need_baseline:
        bport = free_port()
        benv = dict(env, DB_URL=args.db_url)
        baseline = Server(
            "baseline",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(args.workers),
                "--worker-class",
                "sync",
                "--bind",
                f"{HOST}:{bport}",
                "--chdir",
                str(BENCH_DIR),
                "--log-level",
                "warning",
                "--timeout",
                "60",
                "baseline_app:create_app()",
            ],
            benv,
            workdir,
            bport,
            workdir,
        )
        servers.append(baseline)

    for s in servers:
        s.start(args.startup_timeout)
        print(
            f"bench: {s.name} up on {HOST}:{s.port} in {s.startup_s:.2f} s, workers "
            f"{s.workers()} (RSS idle: "
            f"{', '.join(f'{rss_mb(p) or 0:.0f}' for p in s.workers())} MB)",
            flush=True,
        )

    by_server: dict[str, Any] = {"transom": transom, "baseline": baseline}
    tokens = {"transom": args.token, "baseline": args.token, "directus": args.directus_token}
    own_pids = [s.proc.pid for s in servers if s.proc]
    if args.directus:
        peer = peer_from_url(args.directus, args.directus_pid)
        by_server["directus"] = peer
        own_pids += peer.workers()
        print(f"bench: directus at {HOST}:{peer.port} (pid {peer.pid or 'unknown'})",
              flush=True)
    results = [ScenarioResult(sc, disturbed_above=args.disturbed_above) for sc in scenarios]
    for r in results:
        srv = by_server[r.scenario.server]
        assert srv is not None
        r.rows = check_scenario(srv.port, r.scenario, tokens[r.scenario.server])
    rows = {r.scenario.name: r.rows for r in results}
    for r in results:
        b = r.scenario.baseline_of
        b = b or r.scenario.peer_of
        if b and b in rows and rows[b] != r.rows:
            print(f"bench: WARNING {b} returns {rows[b]} rows, {r.scenario.name} {r.rows}")

    def drive(srv: Any, path: str, seconds: float) -> LoadResult:
        token = tokens[srv.name]
        if loader == "wrk":
            return run_wrk(
                srv.port, path, token, seconds, args.wrk_threads, args.connections, script
            )
        return run_python_load(srv.port, path, token, seconds, args.connections)

    for n in range(args.repeat):
        for r in results:
            srv = by_server[r.scenario.server]
            assert srv is not None
            if args.quiet_below > 0:
                wait_quiet(own_pids, args.quiet_below, args.quiet_wait)
            if args.warmup > 0:
                drive(srv, r.scenario.path, args.warmup)
            with (
                RssSampler(srv) as sampler,
                ForeignCpu(own_pids) as other,
            ):
                res = drive(srv, r.scenario.path, args.duration)
            res.other_cpu_pct = other.percent
            for pid, mb in sampler.max_by_pid.items():
                r.rss_mb[pid] = max(mb, r.rss_mb.get(pid, 0.0))
            r.passes.append(res)
            print(
                f"bench: pass {n + 1}/{args.repeat} {r.scenario.name:<22} "
                f"{res.rps:8.0f} req/s  p50 {res.p50_ms:6.2f} ms  p99 {res.p99_ms:6.2f} ms"
                f"  other CPU {res.other_cpu_pct:3.0f} %"
                f"{'  errors ' + str(res.error_detail or res.errors) if res.errors else ''}"
                f"{'  non-2xx ' + str(res.non_2xx) if res.non_2xx else ''}",
                flush=True,
            )

    info["loadavg_at_end"] = os.getloadavg()
    startup = {s.name: s.startup_s for s in servers}
    summary = print_table(results, info, startup)
    large = None
    if args.scale:
        for s in reversed(servers):  # the large data set's servers get the machine
            s.stop()
        servers.clear()
        large = run_scale(args)
    if args.json_out:
        out = {
            "machine": info,
            "startup_s": startup,
            "scenarios": [r.to_dict() for r in results],
            **({"scale": large} if large is not None else {}),
            **summary,
            "targets_spec": {
                "ratio_min": TARGET_RATIO,
                "p99_ms_max": TARGET_P99_MS,
                "worker_rss_mb_max": TARGET_RSS_MB,
            },
        }
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(out, indent=2) + "\n")
        print(f"\nbench: wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
