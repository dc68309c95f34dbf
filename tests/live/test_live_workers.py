"""One real ``transom start`` with 2 workers: every change is honoured by every worker at once.

Each change is followed, without any pause, by a burst of 12 concurrent requests that spread
over both workers; all 12 must give the expected answer ("0 stale answers"). A stale worker
shows as a wrong status in the list printed by the failure. After a failed step the test waits
(bounded) until the workers agree, so that the next step is measured on its own.
"""

from __future__ import annotations

from typing import Any

import pytest

from transom.testing.live import (
    Checks,
    LiveServer,
    collection_body,
    create_collection,
    create_user,
    read_permission,
    unique_name,
    wait_for,
)

pytestmark = pytest.mark.live

BURST = 12
#: after a stale step, how long to wait for the workers to agree (> SCHEMA_REFRESH_INTERVAL)
SETTLE = 6.0


def step(checks: Checks, name: str, statuses: list[Any], expected: Any,
         again: Any = None) -> None:
    """Record ``statuses`` against ``expected``; when stale, wait for ``again()`` to give
    only ``expected`` before the next step (bounded by :data:`SETTLE`)."""
    if not checks.statuses(name, statuses, expected) and again is not None:
        took = wait_for(lambda: all(s == expected for s in again()), SETTLE, 0.1)
        checks.failures[-1] += (f" (all workers agreed {took:.1f} s later)" if took is not None
                                else f" (still stale {SETTLE:.0f} s later)")


def graphql_label(answer: tuple[int, Any], collection: str) -> Any:
    """200 for an answer holding the collection's list, else its status (and first error)."""
    status, body = answer
    data = body.get("data") if isinstance(body, dict) else None
    if status == 200 and isinstance(data, dict) and isinstance(data.get(collection), list):
        return 200
    errors = (body.get("errors") or [{}]) if isinstance(body, dict) else [{"message": body}]
    first = errors[0] if isinstance(errors[0], dict) else {"message": errors[0]}
    inner = (first.get("extensions") or {}).get("errors") or [{}]
    message = (inner[0] or {}).get("message") if isinstance(inner[0], dict) else None
    return f"{status} {message or first.get('message')}"[:70]


def project_name(answer: tuple[int, Any]) -> Any:
    status, body = answer
    try:
        return body["data"]["project"]["project_name"]
    except (TypeError, KeyError):
        return f"{status}:{str(body)[:80]}"


def no_traceback(checks: Checks, server: LiveServer) -> None:
    tb = server.traceback_summary()
    checks.true("no Traceback in the server log", tb is None, tb)


def test_schema_and_settings_changes_reach_every_worker(backend: str, live_server: Any) -> None:
    srv = live_server(workers=2)
    checks = Checks()
    c = unique_name()

    def reads(n: int = BURST) -> list[int]:
        return srv.burst("GET", f"/items/{c}", n)

    # every worker has looked the collection up (and not found it) before it is made
    step(checks, f"{BURST} reads before POST /collections", reads(), 403)

    srv.ok("POST", "/collections", collection_body(c))
    step(checks, f"{BURST} reads after POST /collections", reads(), 200, lambda: reads(6))

    srv.ok("POST", f"/fields/{c}", {"field": "rating", "type": "integer"})
    posts = srv.burst("POST", f"/items/{c}", BURST,
                      body=lambda i: {"title": f"t{i}", "rating": i}, full=True)
    codes = [s for s, _ in posts]
    step(checks, f"{BURST} item POSTs using the new field after POST /fields", codes, 200)
    lost = [(i, b.get("data") if isinstance(b, dict) else b)
            for i, (s, b) in enumerate(posts) if s == 200
            and not (isinstance(b, dict) and (b.get("data") or {}).get("rating") == i)]
    checks.true("every accepted item kept its rating (new field)", not lost,
                f"answers without their rating: {lost}")

    # GraphQL right after POST /collections
    g = unique_name("gql")
    create_collection(srv, g)

    def gql(n: int = BURST) -> list[Any]:
        answers = srv.burst("POST", "/graphql", n, body={"query": f"{{ {g} {{ id }} }}"},
                            full=True)
        return [graphql_label(a, g) for a in answers]

    step(checks, f"{BURST} GraphQL queries after POST /collections", gql(), 200)

    s, body = srv.call("DELETE", f"/collections/{c}")
    checks.true("DELETE /collections answers 204", s == 204, (s, body))
    step(checks, f"{BURST} reads after DELETE /collections (never 500)", reads(), 403)

    for name in ("Live Project A", "Live Project B"):
        srv.ok("PATCH", "/settings", {"project_name": name})
        infos = [project_name(a) for a in srv.burst("GET", "/server/info", BURST, full=True)]
        step(checks, f"{BURST} GET /server/info after PATCH /settings project_name={name!r}",
             infos, name)

    no_traceback(checks, srv)
    checks.verify()


def test_access_changes_reach_every_worker(backend: str, live_server: Any) -> None:
    srv = live_server(workers=2)
    checks = Checks()
    c = create_collection(srv)
    srv.ok("POST", f"/items/{c}", {"title": "one"})
    # measure access alone: first let every worker know the new collection
    wait_for(lambda: all(s == 200 for s in srv.burst("GET", f"/items/{c}", 6)), SETTLE, 0.1)

    made = create_user(srv)
    policy, role, user = made["policy"]["id"], made["role"]["id"], made["user"]["id"]
    token = made["token"]

    def reads(tok: str = token, n: int = BURST) -> list[int]:
        return srv.burst("GET", f"/items/{c}", n, token=tok)

    step(checks, f"{BURST} reads as the user before any permission", reads(), 403,
         lambda: reads(n=6))

    perm = srv.ok("POST", "/permissions", read_permission(policy, c))
    step(checks, f"{BURST} reads after POST /permissions (read)", reads(), 200,
         lambda: reads(n=6))

    srv.ok("DELETE", f"/permissions/{perm['id']}")
    step(checks, f"{BURST} reads after DELETE /permissions/<id>", reads(), 403,
         lambda: reads(n=6))

    srv.ok("POST", "/permissions", read_permission(policy, c))
    step(checks, f"{BURST} reads after granting read again", reads(), 200, lambda: reads(n=6))

    srv.ok("DELETE", f"/access/{made['access']['id']}")
    step(checks, f"{BURST} reads after DELETE /access/<id> (policy detached)", reads(), 403,
         lambda: reads(n=6))

    srv.ok("POST", "/access", {"role": role, "policy": policy})
    step(checks, f"{BURST} reads after POST /access (policy attached again)", reads(), 200,
         lambda: reads(n=6))

    new_token = unique_name("tok")
    srv.ok("PATCH", f"/users/{user}", {"token": new_token})
    step(checks, f"{BURST} reads with the old token after PATCH /users token", reads(), 401,
         lambda: reads(n=6))
    step(checks, f"{BURST} reads with the new token after PATCH /users token",
         reads(new_token), 200, lambda: reads(new_token, 6))

    srv.ok("PATCH", f"/users/{user}", {"status": "suspended"})
    step(checks, f"{BURST} reads after PATCH /users status=suspended", reads(new_token), 401,
         lambda: reads(new_token, 6))

    no_traceback(checks, srv)
    checks.verify()
