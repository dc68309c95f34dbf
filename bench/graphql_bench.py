"""GraphQL against REST on a running Transom server: req/s, p50 and p99 side by side.

Scenarios (on the ``articles``/``authors`` data set of ``bench/seed.py``):

* ``list``: ``POST /graphql`` ``{ articles(limit:25){ id title body status rating
  published_at author } }`` against ``GET /items/articles?limit=25``. When the server types
  ``author`` as an object (``authors`` is readable, so GraphQL requires a selection), the
  query asks for ``author { id }`` instead, which Transom answers from the foreign key
  without reading ``authors``; the table says so.
* ``relational``: ``POST /graphql`` ``{ articles(limit:25){ id title author { name } } }``
  against ``GET /items/articles?fields=id,title,author.name&limit=25``.

Load comes from ``wrk`` when it is installed (``wrk -t<threads> -c<connections> -d<s>`` with
a generated Lua script carrying the POST body and token, whose ``done`` hook reports the
percentiles), otherwise from a Python generator (``--connections`` keep-alive
``http.client`` connections on threads; slower, so compare ratios, not absolute numbers).
Every scenario is checked first (HTTP 200, no GraphQL ``errors``) and warmed up.

Usage: start a server on a seeded database first (``uv run python bench/seed.py``, then
``uv run transom bootstrap`` and ``uv run transom start`` with ``DB_URL`` and
``ADMIN_TOKEN`` set, as ``bench/run.py`` does), then::

    uv run python bench/graphql_bench.py --url http://127.0.0.1:8055 --token <admin token>
    uv run python bench/graphql_bench.py --url ... --token ... --duration 5 --loader python
    uv run python bench/graphql_bench.py --url ... --token ... --scenarios relational \\
        --json graphql.json

Only the given URL is contacted; nothing is started or stopped.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass

LIST_GQL = "{ articles(limit:25){ id title body status rating published_at author } }"
LIST_GQL_OBJECT = "{ articles(limit:25){ id title body status rating published_at author { id } } }"
RELATIONAL_GQL = "{ articles(limit:25){ id title author { name } } }"


@dataclass
class Request:
    method: str
    path: str
    body: bytes | None = None


@dataclass
class Result:
    scenario: str
    interface: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    note: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def graphql(query: str) -> Request:
    return Request("POST", "/graphql", json.dumps({"query": query}).encode())


SCENARIOS: dict[str, tuple[Request, Request]] = {
    "list": (graphql(LIST_GQL), Request("GET", "/items/articles?limit=25")),
    "relational": (
        graphql(RELATIONAL_GQL),
        Request("GET", "/items/articles?fields=id,title,author.name&limit=25"),
    ),
}


class Target:
    """Where the server is, and how to talk to it."""

    def __init__(self, url: str, token: str) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "") or not parsed.hostname:
            raise SystemExit(f"--url must be an http:// URL, not {url!r}")
        self.url = url.rstrip("/")
        self.host = parsed.hostname
        self.port = parsed.port or 80
        self.prefix = parsed.path.rstrip("/")
        self.token = token

    def headers(self, req: Request) -> dict[str, str]:
        out = {"Authorization": f"Bearer {self.token}"}
        if req.body is not None:
            out["Content-Type"] = "application/json"
        return out

    def send(self, conn: http.client.HTTPConnection, req: Request) -> tuple[int, bytes]:
        conn.request(req.method, self.prefix + req.path, body=req.body, headers=self.headers(req))
        resp = conn.getresponse()
        return resp.status, resp.read()

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=30)


def check(target: Target, req: Request) -> str | None:
    """None when the request answers 200 without GraphQL errors, else what went wrong."""
    conn = target.connect()
    try:
        status, body = target.send(conn, req)
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()
    if status != 200:
        return f"HTTP {status}: {body[:300]!r}"
    if req.path.startswith("/graphql"):
        payload = json.loads(body)
        if payload.get("errors"):
            return json.dumps(payload["errors"])[:300]
    return None


# -- load generators ---------------------------------------------------------------------
_LUA = """
wrk.method = %(method)s
wrk.path = %(path)s
%(body)s
wrk.headers["Authorization"] = %(auth)s
%(ctype)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCHJSON {\\"requests\\":%%d,\\"duration_us\\":%%d," ..
    "\\"p50_us\\":%%d,\\"p99_us\\":%%d,\\"errors\\":%%d}\\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def run_wrk(
    target: Target, req: Request, duration: float, threads: int, connections: int
) -> tuple[int, float, float, float, int]:
    script = _LUA % {
        "method": _lua_string(req.method),
        "path": _lua_string(target.prefix + req.path),
        "body": f"wrk.body = {_lua_string(req.body.decode())}" if req.body else "",
        "auth": _lua_string(f"Bearer {target.token}"),
        "ctype": 'wrk.headers["Content-Type"] = "application/json"' if req.body else "",
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
        path = fh.name
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(int(duration), 1)}s",
                "-s",
                path,
                f"http://{target.host}:{target.port}",
            ],
            capture_output=True,
            text=True,
            timeout=duration + 60,
            check=False,
        )
    finally:
        os.unlink(path)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCHJSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    data = json.loads(line.split(" ", 1)[1])
    return (
        data["requests"],
        data["duration_us"] / 1e6,
        data["p50_us"] / 1000,
        data["p99_us"] / 1000,
        data["errors"],
    )


def run_python(
    target: Target, req: Request, duration: float, connections: int
) -> tuple[int, float, float, float, int]:
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    deadline = time.perf_counter() + duration

    def worker(i: int) -> None:
        conn = target.connect()
        try:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    status, _ = target.send(conn, req)
                except (OSError, http.client.HTTPException):
                    errors[i] += 1
                    conn.close()
                    conn = target.connect()
                    continue
                latencies[i].append(time.perf_counter() - start)
                if status != 200:
                    errors[i] += 1
        finally:
            conn.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    flat = sorted(x for lst in latencies for x in lst)

    def pct(p: float) -> float:
        if not flat:
            return 0.0
        return flat[min(len(flat) - 1, int(round(p / 100 * (len(flat) - 1))))] * 1000

    return len(flat), elapsed, pct(50), pct(99), sum(errors)


# -- driver ------------------------------------------------------------------------------
def measure(
    target: Target,
    name: str,
    interface: str,
    req: Request,
    args: argparse.Namespace,
    loader: str,
    note: str = "",
) -> Result:
    warm_until = time.perf_counter() + args.warmup
    conn = target.connect()
    while time.perf_counter() < warm_until:
        target.send(conn, req)
    conn.close()
    samples = []
    for _ in range(args.repeat):
        if loader == "wrk":
            samples.append(run_wrk(target, req, args.duration, args.threads, args.connections))
        else:
            samples.append(run_python(target, req, args.duration, args.connections))
    best = sorted(samples, key=lambda s: s[0] / s[1] if s[1] else 0)[len(samples) // 2]
    requests, seconds, p50, p99, errors = best
    return Result(name, interface, requests, seconds, p50, p99, errors, note)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="server base URL, e.g. http://127.0.0.1:8055")
    parser.add_argument("--token", required=True, help="a static token or access token")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--repeat", type=int, default=1, help="passes; the median is kept")
    parser.add_argument("--loader", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated subset of {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)

    loader = args.loader
    if loader == "auto":
        loader = "wrk" if shutil.which("wrk") else "python"
    target = Target(args.url, args.token)
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")

    results: list[Result] = []
    for name in names:
        gql_req, rest_req = SCENARIOS[name]
        note = ""
        problem = check(target, gql_req)
        if problem and name == "list":
            gql_req = graphql(LIST_GQL_OBJECT)
            note = "author { id } (author is an object type for this token)"
            problem = check(target, gql_req)
        for interface, req in (("graphql", gql_req), ("rest", rest_req)):
            trouble = problem if interface == "graphql" else check(target, req)
            if trouble:
                print(f"{name}/{interface}: not measured: {trouble}", file=sys.stderr)
                continue
            print(
                f"measuring {name}/{interface} ({loader}, {args.duration:g}s)...", file=sys.stderr
            )
            results.append(
                measure(
                    target,
                    name,
                    interface,
                    req,
                    args,
                    loader,
                    note if interface == "graphql" else "",
                )
            )

    print()
    print(
        f"{'scenario':<12} {'interface':<9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6}  note"
    )
    for r in results:
        print(
            f"{r.scenario:<12} {r.interface:<9} {r.rps:>9.1f} {r.p50_ms:>8.2f} "
            f"{r.p99_ms:>8.2f} {r.errors:>6}  {r.note}"
        )
    print()
    for name in names:
        pair = {r.interface: r for r in results if r.scenario == name}
        if "graphql" in pair and "rest" in pair and pair["rest"].rps:
            ratio = pair["graphql"].rps / pair["rest"].rps
            p99 = (
                pair["graphql"].p99_ms / pair["rest"].p99_ms
                if pair["rest"].p99_ms
                else float("nan")
            )
            print(f"{name}: GraphQL/REST throughput {ratio:.2f}x, p99 {p99:.2f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {
                    "loader": loader,
                    "url": target.url,
                    "duration": args.duration,
                    "connections": args.connections,
                    "results": [{**asdict(r), "rps": r.rps} for r in results],
                },
                fh,
                indent=2,
            )
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
