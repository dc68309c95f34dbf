"""WebSocket benchmark: many idle subscribers, HTTP reads beside them, event latency.

Starts a real ``transom start`` (``transom.testing.live.LiveServer``: gunicorn, 2 workers,
``WEBSOCKETS_ENABLED=true``) on a fresh SQLite (default) or PostgreSQL database, then:

1. opens ``--sockets`` (1,000) connections with an asyncio client, each authenticated and
   subscribed to one collection; reports how long that took and the workers' RSS growth
   per connection (``/proc/<pid>/status`` VmRSS, before and after);
2. with every socket open, times ``--reads`` ``GET /items/<c>`` from 4 threads (p50, p99);
3. makes ``--events`` REST writes, one at a time, and times each delivery on every socket
   from the moment the REST call started (so a REST commit and the fan-out): p50, p99.

Usage: ``uv run python bench/websockets.py [--backend postgres] [--sockets 1000]``.
Figures go to bench/README.md by hand; no test asserts any timing.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# run as a script, this file's folder comes first on sys.path and its name would hide the
# `websockets` package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]

from websockets.asyncio.client import connect  # noqa: E402

from transom.testing.databases import fresh_database  # noqa: E402
from transom.testing.live import LIVE_ADMIN_TOKEN, LiveServer, create_collection  # noqa: E402


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def open_subscriber(url: str, collection: str, inbox: dict[int, list[float]],
                          ready: asyncio.Event, sockets: list[Any]) -> None:
    ws = await connect(url, open_timeout=60, max_size=None, ping_interval=None)
    sockets.append(ws)
    await ws.send(json.dumps({"type": "auth", "access_token": LIVE_ADMIN_TOKEN}))
    await ws.recv()
    await ws.send(json.dumps({"type": "subscribe", "collection": collection,
                              "query": {"fields": ["id", "title"]}}))
    await ws.recv()  # init
    ready.set()
    async for raw in ws:
        message = json.loads(raw)
        if message.get("type") == "ping":
            await ws.send('{"type":"pong"}')
        elif message.get("event") == "create":
            inbox.setdefault(message["data"][0]["id"], []).append(time.perf_counter())


def http_reads(srv: LiveServer, path: str, n: int) -> list[float]:
    def one(_: int) -> float:
        started = time.perf_counter()
        status, _body = srv.call("GET", path)
        assert status == 200, (status, _body)
        return time.perf_counter() - started

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(n)))


async def run(srv: LiveServer, n_sockets: int, n_reads: int, n_events: int) -> dict[str, Any]:
    collection = create_collection(srv)
    srv.ok("POST", f"/items/{collection}", {"title": "seed"})
    path = f"/items/{collection}?limit=10"
    baseline = http_reads(srv, path, n_reads)
    pids = srv.worker_pids()
    rss_before = rss_kib(pids)
    url = srv.base_url.replace("http://", "ws://") + "/websocket"
    inbox: dict[int, list[float]] = {}
    sockets: list[Any] = []
    tasks = []
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    readies = []
    for _ in range(n_sockets):
        ready = asyncio.Event()
        readies.append(ready)
        tasks.append(asyncio.create_task(open_subscriber(url, collection, inbox, ready,
                                                         sockets)))
        if len(tasks) % 50 == 0:
            await asyncio.sleep(0.05)  # do not flood the listen backlog
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 300)
    connect_s = time.perf_counter() - started
    await asyncio.sleep(1.0)
    rss_after = rss_kib(pids)
    reads = await loop.run_in_executor(None, http_reads, srv, path, n_reads)
    latencies: list[float] = []
    missing = 0
    for i in range(n_events):
        t0 = time.perf_counter()
        made = await loop.run_in_executor(None, srv.ok, "POST", f"/items/{collection}",
                                          {"title": f"e{i}"})
        deadline = time.perf_counter() + 10
        while len(inbox.get(made["id"], ())) < n_sockets and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
        got = inbox.get(made["id"], [])
        missing += n_sockets - len(got)
        latencies += [t - t0 for t in got]
    for ws in sockets:
        await ws.close()
    for task in tasks:
        task.cancel()
    return {
        "sockets": n_sockets, "connect_all_s": round(connect_s, 2),
        "rss_per_socket_kib": round((rss_after - rss_before) / n_sockets, 1),
        "http_p50_ms_idle": round(statistics.median(baseline) * 1000, 2),
        "http_p50_ms_with_sockets": round(statistics.median(reads) * 1000, 2),
        "http_p99_ms_with_sockets": round(pct(reads, 0.99) * 1000, 2),
        "event_p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "event_p99_ms": round(pct(latencies, 0.99) * 1000, 1) if latencies else None,
        "deliveries": len(latencies), "missing": missing,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--reads", type=int, default=400)
    parser.add_argument("--events", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="transom-ws-bench-"))
    env = {"WEBSOCKETS_ENABLED": "true",
           "WEBSOCKETS_MAX_CONNECTIONS": str(args.sockets),  # per worker: any spread fits
           "WEBSOCKETS_RATE_LIMIT": "0"}
    with fresh_database(args.backend, folder) as url, \
            LiveServer(url, workdir=folder, workers=args.workers, env=env,
                       request_timeout=60) as srv:
        result = asyncio.run(run(srv, args.sockets, args.reads, args.events))
    result.update(backend=args.backend, workers=args.workers, cpus=os.cpu_count())
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
