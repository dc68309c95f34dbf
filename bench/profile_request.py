"""In-process cost of one request, and a cProfile of a loop of them (no server, no sockets).

Times each scenario through Flask's test client for Transom and for the baseline app
(microseconds per request, one thread), then profiles Transom on one scenario and prints
the top functions by own time and by cumulative time. Run ``run.py`` (or ``seed.py``) first
so the database exists.

Usage::

    uv run python bench/profile_request.py                       # time all, profile list
    uv run python bench/profile_request.py --profile filter_sort --top 30
    uv run python bench/profile_request.py --db-url postgresql+psycopg://postgres@127.0.0.1:5432/transom_bench
    uv run python bench/profile_request.py --profile item --dump item.prof   # for snakeviz etc.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import seed as seed_mod  # noqa: E402
from run import DEFAULT_TOKEN, SCENARIOS  # noqa: E402


def transom_client(db_url: str, token: str):
    from transom.app import create_app
    from transom.system.bootstrap import bootstrap

    app = create_app(
        {
            "DB_URL": db_url,
            "ADMIN_TOKEN": token,
            "LOG_LEVEL": "warn",
            "ADMIN_EMAIL": "bench@example.com",
            "ADMIN_PASSWORD": "transom-bench-password",
        },
        env_file=None,
    )
    bootstrap(app.extensions["transom"])
    return app.test_client()


def baseline_client(db_url: str):
    from baseline_app import create_app

    return create_app(db_url).test_client()


def per_request_us(client, path: str, headers: dict[str, str], n: int) -> float:
    for _ in range(max(5, n // 20)):
        resp = client.get(path, headers=headers)
        assert resp.status_code == 200, (path, resp.status_code, resp.data[:300])
    t0 = time.perf_counter()
    for _ in range(n):
        client.get(path, headers=headers)
    return (time.perf_counter() - t0) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db-url", default=seed_mod.DEFAULT_DB_URL)
    ap.add_argument("--token", default=DEFAULT_TOKEN)
    ap.add_argument("-n", type=int, default=500, help="requests per timing (500)")
    ap.add_argument(
        "--profile", default="list", help="Transom scenario to profile (list); 'none' to skip"
    )
    ap.add_argument("--top", type=int, default=25, help="rows of each profile listing (25)")
    ap.add_argument(
        "--only",
        metavar="REGEX",
        help="list only functions whose file:line(name) matches (e.g. 'transom' for "
        "Transom's own code; paths are kept then)",
    )
    ap.add_argument("--dump", help="write the raw profile here (pstats format)")
    args = ap.parse_args(argv)

    seed_mod.seed(args.db_url, quiet=True)
    os.environ.pop("DB_CLIENT", None)
    tc = transom_client(args.db_url, args.token)
    bc = baseline_client(args.db_url)
    headers = {"Authorization": f"Bearer {args.token}"}

    print(
        f"in-process, Flask test client, one thread, {args.n} requests each "
        f"(db={seed_mod.sa.make_url(args.db_url).render_as_string(hide_password=True)})"
    )
    print(f"{'scenario':<14} {'transom us':>11} {'baseline us':>12} {'ratio':>7}")
    for name, sc in SCENARIOS.items():
        if sc.server != "transom":
            continue
        t_us = per_request_us(tc, sc.path, headers, args.n)
        base = next((b for b in SCENARIOS.values() if b.baseline_of == name), None)
        b_us = per_request_us(bc, base.path, {}, args.n) if base else None
        print(
            f"{name:<14} {t_us:>11.0f} "
            f"{(f'{b_us:.0f}' if b_us else '-'):>12} "
            f"{(f'{t_us / b_us:.1f}x' if b_us else '-'):>7}"
        )

    if args.profile != "none":
        sc = SCENARIOS[args.profile]
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.n):
            tc.get(sc.path, headers=headers)
        prof.disable()
        if args.dump:
            prof.dump_stats(args.dump)
        for key in ("tottime", "cumulative"):
            buf = io.StringIO()
            stats = pstats.Stats(prof, stream=buf)
            if args.only:
                stats.sort_stats(key).print_stats(args.only, args.top)
            else:
                stats.strip_dirs().sort_stats(key).print_stats(args.top)
            only = f", functions matching {args.only!r}" if args.only else ""
            print(f"\n=== cProfile of {args.n} x GET {sc.path} (Transom), by {key}{only} ===")
            text = buf.getvalue()
            text = re.sub(r"\S*/site-packages/", "", text.replace(f"{BENCH_DIR.parent}/", ""))
            print(text[text.find("   ncalls") :].rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
