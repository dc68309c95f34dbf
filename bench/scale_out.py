"""Scale-out through nginx: requests per second with 1 and 2 Transom instances in front of a
PostgreSQL primary with a streaming standby, and the share of item reads the standby
served. Everything runs on 127.0.0.1 (``transom.testing.topology``).

    python bench/scale_out.py [--duration 10] [--connections 16] [--workers 2]

Ratios hold for this machine only in one run: on 2 cores, a second instance competes for
the same CPU as the first, nginx, wrk and both PostgreSQL servers, so the figure shows the
cost of the extra hop and of the routing, not the gain a second machine would give.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import WRK_LUA, run_python_load, run_wrk  # noqa: E402

from transom.testing.live import create_collection, create_user, read_permission  # noqa: E402
from transom.testing.topology import Nginx, Topology  # noqa: E402

LIST = "/items/{name}?limit=25&sort=-id&fields=id,title"


def _reads(url: sa.URL) -> int:
    """Transactions seen by one server for the database (a standby counts its own)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            return int(conn.exec_driver_sql(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                "WHERE datname = 'transom'").scalar_one())
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    with Topology(instances=2, workers=args.workers) as topo:
        a = topo.servers[0]
        name = create_collection(a)
        reader = create_user(a)
        a.ok("POST", "/permissions", read_permission(reader["policy"]["id"], name))
        a.ok("POST", f"/items/{name}", [{"title": f"row {i}"} for i in range(args.rows)])
        topo.primary.wait_replayed(topo.replica)
        time.sleep(6)  # past the admin's read-your-writes window (the reader never wrote)
        path = LIST.format(name=name)
        script = topo.root / "bench.lua"
        script.write_text(WRK_LUA)
        one = Nginx(topo.root / "nginx1", [a.port]).start()
        results = {}
        try:
            for label, port in (("1 instance", one.port), ("2 instances", topo.nginx.port)):
                before = (_reads(topo.primary.url("transom")),
                          _reads(topo.replica.url("transom")))
                if shutil.which("wrk"):
                    res = run_wrk(port, path, reader["token"], args.duration, 2,
                                  args.connections, script)
                else:
                    res = run_python_load(port, path, reader["token"], args.duration,
                                          args.connections)
                after = (_reads(topo.primary.url("transom")),
                         _reads(topo.replica.url("transom")))
                on_primary, on_replica = after[0] - before[0], after[1] - before[1]
                results[label] = {
                    "rps": round(res.rps, 1), "p50_ms": round(res.p50_ms, 2),
                    "p99_ms": round(res.p99_ms, 2), "errors": res.errors + res.non_2xx,
                    "replica_share": round(on_replica / max(1, on_primary + on_replica), 3),
                }
        finally:
            one.stop()
    base = results["1 instance"]["rps"] or 1.0
    print(f"{'topology':<14}{'req/s':>10}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'errors':>8}{'on replica':>12}")
    for label, r in results.items():
        print(f"{label:<14}{r['rps']:>10}{r['rps'] / base:>8.2f}{r['p50_ms']:>9}"
              f"{r['p99_ms']:>9}{r['errors']:>8}{r['replica_share']:>12.1%}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
