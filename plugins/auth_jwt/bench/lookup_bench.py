"""µs per JWT-authenticated request, in-process (no server, no sockets).

Builds an app on a fresh SQLite file, logs in as the admin, then times, with one thread:

* ``GET /users/me`` through Flask's test client with the access JWT (the whole request);
* the same request with the admin's static token (the same route without this plugin's work);
* ``accountability_from_request`` alone, inside one request context (the lookup itself:
  token extraction, JWT check, user and session reads, accountability);
* the token check alone (decode and validate one JWT), beside the same check done with
  bare PyJWT (what the plugin did by hand before) and flask-jwt-extended's own request
  machinery (``verify_jwt_in_request``: find the token in the request, decode, blocklist).

Each figure is the best of ``--repeat`` loops of ``-n`` calls, in CPU time of this process
(``time.process_time``: other processes on a busy machine disturb it far less than wall
time; SQLite runs in-process, so it is all the work). Not part of the test suite.

Usage::

    uv run python plugins/auth_jwt/bench/lookup_bench.py            # 2,000 calls, best of 5
    uv run python plugins/auth_jwt/bench/lookup_bench.py -n 5000 --repeat 3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "transom-bench-password"
STATIC = "transom-bench-admin-token"
SECRET = "bench-secret-0123456789-0123456789-abcdef"


def build_app(db_path: Path) -> Any:
    from transom.app import create_app
    from transom.system.bootstrap import bootstrap

    app = create_app({
        "DB_URL": f"sqlite:///{db_path}",
        "SECRET": SECRET,
        "ADMIN_EMAIL": ADMIN_EMAIL,
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "ADMIN_TOKEN": STATIC,
        "LOG_LEVEL": "warn",
        "EXTENSIONS_PATH": "",
        "LOGIN_STALL_TIME": "0",
    }, env_file=None)
    bootstrap(app.extensions["transom"])
    return app


def best_us(fn: Callable[[], Any], n: int, repeat: int) -> float:
    for _ in range(max(5, n // 20)):  # warm caches (access cache, compiled statements)
        fn()
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - started) / n)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="calls per loop")
    parser.add_argument("--repeat", type=int, default=5, help="loops; the best is kept")
    args = parser.parse_args()

    import jwt

    try:
        from flask_jwt_extended import verify_jwt_in_request
    except ImportError:
        verify_jwt_in_request = None
    from transom_auth_jwt import accountability_from_request
    try:
        from transom_auth_jwt.jwt_tokens import decode
    except ImportError:  # the plugin before flask-jwt-extended (PYTHONPATH=an old copy)
        from transom_auth_jwt.jwt_tokens import verify

        def decode(token: str) -> Any:
            return verify(token, SECRET)

    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Path(tmp) / "bench.db")
        cms = app.extensions["transom"]
        client = app.test_client()
        resp = client.post("/auth/login", json={"email": ADMIN_EMAIL,
                                                "password": ADMIN_PASSWORD})
        token = resp.get_json()["data"]["access_token"]
        jwt_headers = {"Authorization": f"Bearer {token}"}
        static_headers = {"Authorization": f"Bearer {STATIC}"}

        def me(headers: dict[str, str]) -> Callable[[], Any]:
            def call() -> None:
                r = client.get("/users/me", headers=headers)
                assert r.status_code == 200, r.get_json()
            return call

        results = {
            "GET /users/me, JWT": best_us(me(jwt_headers), args.n, args.repeat),
            "GET /users/me, static token": best_us(me(static_headers), args.n, args.repeat),
        }
        with app.test_request_context("/users/me", headers=jwt_headers):
            from flask import request

            def lookup() -> None:
                request.environ.pop("transom.token", None)  # as on a new request
                assert accountability_from_request(cms=cms, request=request) is not None

            results["accountability_from_request (JWT)"] = best_us(lookup, args.n,
                                                                   args.repeat)
            results["token check alone"] = best_us(lambda: decode(token), args.n, args.repeat)
            results["  the same check, bare PyJWT"] = best_us(lambda: jwt.decode(
                token, SECRET, algorithms=["HS256"], issuer="directus",
                options={"require": ["exp", "iss"]}), args.n, args.repeat)
            if verify_jwt_in_request is not None and "flask-jwt-extended" in app.extensions:
                results["  verify_jwt_in_request"] = best_us(verify_jwt_in_request, args.n,
                                                             args.repeat)
        cms.close()

    width = max(len(k) for k in results)
    print(f"{'what':<{width}}  µs/call  (best of {args.repeat} x {args.n})")
    for name, us in results.items():
        print(f"{name:<{width}}  {us:7.1f}")


if __name__ == "__main__":
    main()
