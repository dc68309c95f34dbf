"""Issue 19's large-data benchmark: Transom against ``baseline_scale_app`` in one run.

Seeds ``seed_scale.py``'s data set (1,000,000 articles; 100 authors x 10,000 articles; 6,000
items x 10 tags; tags -> categories), bootstraps Transom on it, declares the o2m and m2m
(``PATCH /relations``, as an admin would in the app), starts both servers (gunicorn, 2 sync
workers each) and measures:

* under load (wrk, 16 connections): list of 25, m2o ``author.name``, one item, on the
  million rows: req/s, p99, the Transom / baseline ratio;
* one request at a time (``--reps``, median and worst): the m2m of 6,000 items, the 3-level
  nesting, an o2m of 2 x 10,000, ``filter_count`` and both counts on 1M rows (and
  ``estimate=true``), a deep page by ``offset`` against a keyset ``after`` cursor;
* the JSON export of the 1M rows: seconds, bytes, the largest worker RSS during it;
* Transom's cold start (spawn to the first ``/server/ping`` answer).

Ratios are baseline time / Transom time for single requests (1.0: as fast as hand-written;
above 1: faster), Transom req/s / baseline req/s under load.

Usage::

    uv run python bench/scale.py                                   # SQLite, bench/.data/scale.db
    uv run python bench/scale.py --db-url postgresql+psycopg://postgres@127.0.0.1:5432/transom_scale
    uv run python bench/scale.py --articles 100000 --duration 4   # a quick run
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as runmod  # noqa: E402 - bench/ scripts import each other by path
import seed_scale  # noqa: E402

from transom.compiler.keyset import encode_cursor  # noqa: E402

BENCH_DIR = runmod.BENCH_DIR
HOST = runmod.HOST
TOKEN = runmod.DEFAULT_TOKEN

LOAD = [  # (name, path) measured with wrk on both servers
    ("list", "/items/articles?limit=25"),
    ("m2o", "/items/articles?fields=id,title,author.name&limit=25"),
    ("item", "/items/articles/654321"),
]
M2M = "/items/items?fields=id,name,tags.tags_id.name&limit=-1"
NEST3 = "/items/items?fields=id,name,tags.tags_id.name,tags.tags_id.category.name&limit=-1"
O2M = "/items/authors?fields=id,name,articles.id&limit=2"
FILTER_COUNT = "/items/articles?fields=id&limit=1&meta=filter_count&filter[status][_eq]=published"
BOTH_COUNTS = ("/items/articles?fields=id&limit=1&meta=total_count,filter_count"
               "&filter[status][_eq]=published")
EXPORT = "/items/articles?export=json&limit=-1&fields=id,title,status,rating,published_at,author"


def request(port: int, method: str, path: str, body: Any = None,
            timeout: float = 600) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def timed(port: int, path: str, reps: int) -> dict[str, Any]:
    """Sequential requests: median and worst wall time (ms), answer size, rows."""
    times: list[float] = []
    size = rows = 0
    for _ in range(reps):
        t0 = time.perf_counter()
        status, body = request(port, "GET", path)
        times.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise runmod.RunError(f"{path} answered {status}: {body[:300]!r}")
        size = len(body)
        doc = json.loads(body)
        data = doc.get("data", doc) if isinstance(doc, dict) else doc
        rows = len(data) if isinstance(data, list) else 1
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1),
            "bytes": size, "rows": rows}


def load(port: int, path: str, seconds: float, script: Path) -> Any:
    """16 connections for ``seconds``: wrk when installed, else run.py's Python loader."""
    if shutil.which("wrk"):
        return runmod.run_wrk(port, path, TOKEN, seconds, 2, 16, script)
    return runmod.run_python_load(port, path, TOKEN, seconds, 16)


def declare_relations(port: int) -> None:
    """The o2m ``authors.articles`` and the m2m ``items.tags`` (the foreign keys alone only
    give the m2o side)."""
    for path, meta in (
        ("/relations/articles/author", {"one_field": "articles"}),
        ("/relations/items_tags/tags_id", {"junction_field": "items_id"}),
        ("/relations/items_tags/items_id", {"one_field": "tags", "junction_field": "tags_id"}),
    ):
        status, body = request(port, "PATCH", path, {"meta": meta})
        if status != 200:
            raise runmod.RunError(f"PATCH {path}: {status} {body[:300]!r}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db-url", default=seed_scale.DEFAULT_DB_URL)
    ap.add_argument("--articles", type=int, default=seed_scale.N_ARTICLES)
    ap.add_argument("--duration", type=float, default=8, help="seconds per wrk scenario")
    ap.add_argument("--reps", type=int, default=7, help="sequential requests per scenario")
    ap.add_argument("--no-export", action="store_true", help="skip the 1M-row export")
    ap.add_argument("--json", dest="json_out")
    ap.add_argument("--workdir", default=str(BENCH_DIR / ".work-scale"))
    args = ap.parse_args(argv)
    if not shutil.which("wrk"):
        print("scale: wrk not installed; using run.py's Python load generator", flush=True)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / "bench.lua"
    script.write_text(runmod.WRK_LUA)
    servers: list[runmod.Server] = []
    try:
        return _run(args, workdir, script, servers)
    except runmod.RunError as exc:
        print(f"scale: {exc}", file=sys.stderr)
        return 1
    finally:
        for s in reversed(servers):
            s.stop()


def _run(args: argparse.Namespace, workdir: Path, script: Path,
         servers: list[runmod.Server]) -> int:
    t0 = time.perf_counter()
    seed_scale.seed(args.db_url, args.articles)
    seed_s = time.perf_counter() - t0
    transom_bin = Path(sys.executable).with_name("transom")
    transom_cmd = [str(transom_bin)] if transom_bin.exists() else ["uv", "run", "transom"]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DB_", "ADMIN_", "TRANSOM_"))
           and k not in ("PORT", "HOST", "WORKERS", "THREADS", "LOG_LEVEL")}
    tport, bport = runmod.free_port(), runmod.free_port()
    tenv = dict(env, DB_URL=args.db_url, ADMIN_TOKEN=TOKEN, ADMIN_EMAIL="bench@example.com",
                ADMIN_PASSWORD="transom-bench-password", HOST=HOST, PORT=str(tport),
                WORKERS="2", THREADS="1", LOG_LEVEL="warn")
    boot = subprocess.run([*transom_cmd, "bootstrap"], env=tenv, cwd=workdir,
                          capture_output=True, text=True, timeout=300)
    if boot.returncode != 0:
        raise runmod.RunError(f"bootstrap failed: {boot.stdout[-2000:]}{boot.stderr[-2000:]}")
    transom = runmod.Server("transom", [*transom_cmd, "start"], tenv, workdir, tport, workdir)
    baseline = runmod.Server("baseline", [
        sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync",
        "--bind", f"{HOST}:{bport}", "--chdir", str(BENCH_DIR), "--log-level", "warning",
        "--timeout", "600", "baseline_scale_app:create_app()"],
        dict(env, DB_URL=args.db_url), workdir, bport, workdir)
    servers.extend([transom, baseline])
    for s in servers:
        s.start(180)
        print(f"scale: {s.name} up in {s.startup_s:.2f} s", flush=True)
    declare_relations(tport)
    out: dict[str, Any] = {"db": runmod.redact(args.db_url), "articles": args.articles,
                           "seed_s": round(seed_s, 1),
                           "cold_start_s": round(transom.startup_s or 0, 2), "load": {},
                           "single": {}}

    for name, path in LOAD:
        row: dict[str, Any] = {}
        for srv in (transom, baseline):
            load(srv.port, path, 2, script)  # warm-up
            with runmod.RssSampler(srv) as rss:
                res = load(srv.port, path, args.duration, script)
            row[srv.name] = {"rps": round(res.rps), "p50_ms": round(res.p50_ms, 2),
                             "p99_ms": round(res.p99_ms, 2), "errors": res.errors,
                             "non_2xx": res.non_2xx,
                             "rss_mb": round(max(rss.max_by_pid.values(), default=0))}
        row["ratio"] = round(row["transom"]["rps"] / max(row["baseline"]["rps"], 1), 2)
        out["load"][name] = row
        print(f"scale: {name:<6} transom {row['transom']['rps']:>6} req/s p99 "
              f"{row['transom']['p99_ms']:>7} ms | baseline {row['baseline']['rps']:>6} req/s "
              f"| ratio {row['ratio']}", flush=True)

    deep = args.articles - 100_000 if args.articles > 200_000 else args.articles // 2
    cursor = encode_cursor([("id", False)], {"id": deep})
    singles = [
        ("m2m 6000x10", M2M, M2M),
        ("3-level nesting", NEST3, NEST3),
        ("o2m 2x10000", O2M, O2M),
        ("filter_count", FILTER_COUNT, FILTER_COUNT),
        ("total+filter count", BOTH_COUNTS, BOTH_COUNTS),
        ("counts, estimate=true", BOTH_COUNTS + "&estimate=true", None),
        (f"page at offset {deep:,}", f"/items/articles?fields=id&sort=id&limit=25&offset={deep}",
         f"/items/articles?fields=id&sort=id&limit=25&offset={deep}"),
        (f"keyset page after {deep:,}",
         f"/items/articles?fields=id&sort=id&limit=25&after={cursor}", None),
    ]
    for title, tpath, bpath in singles:
        _, tbody = request(tport, "GET", tpath)  # warm the plan and the page cache once
        row = {"transom": timed(tport, tpath, args.reps)}
        if bpath is not None:
            _, bbody = request(bport, "GET", bpath)
            # a ratio means something only for the same answer
            row["same_answer"] = json.loads(tbody) == json.loads(bbody)
            if not row["same_answer"]:
                print(f"scale: WARNING {title}: Transom and the baseline answer differently",
                      flush=True)
            row["baseline"] = timed(bport, bpath, args.reps)
            row["ratio"] = round(row["baseline"]["median_ms"] /
                                 max(row["transom"]["median_ms"], 0.01), 2)
        out["single"][title] = row
        print(f"scale: {title:<26} transom {row['transom']['median_ms']:>8} ms (max "
              f"{row['transom']['max_ms']}) rows {row['transom']['rows']}"
              + (f" | baseline {row['baseline']['median_ms']} ms | ratio {row['ratio']}"
                 if bpath else ""), flush=True)

    if not args.no_export:
        exports: dict[str, Any] = {}
        for srv in (transom, baseline):
            with runmod.RssSampler(srv, interval=0.1) as rss:
                t1 = time.perf_counter()
                status, body = request(srv.port, "GET", EXPORT)
                seconds = time.perf_counter() - t1
            if status != 200:
                raise runmod.RunError(f"export on {srv.name}: {status} {body[:300]!r}")
            exports[srv.name] = {"seconds": round(seconds, 1), "mb": round(len(body) / 1e6, 1),
                                 "rows": len(json.loads(body)),
                                 "worker_rss_mb_max": round(max(rss.max_by_pid.values()))}
            del body
        out["export"] = exports
        print(f"scale: export {exports}", flush=True)
    out["transom_worker_rss_mb_end"] = [round(runmod.rss_mb(p) or 0) for p in transom.workers()]
    print(json.dumps(out, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
