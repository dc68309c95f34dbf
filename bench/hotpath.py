"""In-process hot path: Transom against the baseline, the WSGI app called directly.

``profile_request.py`` goes through Flask's test client, which adds ~150 us of its own per
request (cookies, URL rebuilding) to both sides; here each request is one call of the WSGI
app on a copy of a prebuilt environ, so what is timed is what a gunicorn worker runs after
parsing the request. Rounds alternate Transom and the baseline and each figure is the
minimum over the rounds of the CPU time of the calling thread (``time.thread_time``), which
a loaded machine disturbs much less than wall time.

Usage::

    uv run python bench/hotpath.py                       # SQLite bench database (seed.py)
    uv run python bench/hotpath.py --db-url postgresql+psycopg://postgres@127.0.0.1:5432/transom_bench
    uv run python bench/hotpath.py --scenarios list,item -n 500 --rounds 9
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from werkzeug.test import EnvironBuilder

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import seed as seed_mod  # noqa: E402
from profile_request import baseline_client, transom_client  # noqa: E402
from run import DEFAULT_TOKEN, SCENARIOS  # noqa: E402


def caller(app: Any, path: str, headers: dict[str, str]) -> Any:
    """A function answering ``GET path`` once through ``app`` (a WSGI callable)."""
    environ = EnvironBuilder(path=path, headers=headers).get_environ()
    status: list[str] = []

    def start_response(st: str, _headers: Any, _exc: Any = None) -> None:
        status.append(st)

    def call() -> None:
        status.clear()
        body = app(dict(environ), start_response)
        try:
            for _ in body:
                pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        if not status or not status[0].startswith("200"):
            raise RuntimeError(f"{path}: {status}")

    return call


def timed(call: Any, n: int) -> float:
    """CPU µs per call of this thread over ``n`` calls."""
    t0 = time.thread_time()
    for _ in range(n):
        call()
    return (time.thread_time() - t0) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db-url", default=seed_mod.DEFAULT_DB_URL)
    ap.add_argument("--token", default=DEFAULT_TOKEN)
    ap.add_argument("-n", type=int, default=400, help="requests per round (400)")
    ap.add_argument("--rounds", type=int, default=7, help="alternating rounds (7)")
    ap.add_argument("--scenarios", default="list,relational,item,ping")
    args = ap.parse_args(argv)

    seed_mod.seed(args.db_url, quiet=True)
    tapp = transom_client(args.db_url, args.token).application
    bapp = baseline_client(args.db_url).application
    auth = {"Authorization": f"Bearer {args.token}"}
    print(f"in-process WSGI calls, CPU us per request, min of {args.rounds} rounds x {args.n}")
    print(f"{'scenario':<14} {'transom':>9} {'baseline':>9} {'ratio':>7}  (baseline/transom)")
    for name in args.scenarios.split(","):
        sc = SCENARIOS[name]
        base = next((b for b in SCENARIOS.values() if b.baseline_of == name), None)
        t_call = caller(tapp, sc.path, auth)
        b_call = caller(bapp, base.path, {}) if base else None
        for _ in range(50):
            t_call()
            if b_call:
                b_call()
        t_best = b_best = float("inf")
        for _ in range(args.rounds):
            t_best = min(t_best, timed(t_call, args.n))
            if b_call:
                b_best = min(b_best, timed(b_call, args.n))
        ratio = f"{b_best / t_best:.2f}" if b_call else "-"
        b_txt = f"{b_best:.0f}" if b_call else "-"
        print(f"{name:<14} {t_best:>9.0f} {b_txt:>9} {ratio:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
