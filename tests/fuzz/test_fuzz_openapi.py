"""schemathesis over the server's own OpenAPI document (``/server/specs/oas``): requests
generated from every operation it describes, as the admin, on every database. None may
answer a 5xx, and every 4xx carries the Directus error envelope."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st

from transom.testing.helpers import seed_blog

#: Calls that would end the run rather than test it, by taking the admin's access away
#: (a new random ``token`` through ``PATCH /users/me``, a batch update or delete of every
#: user, role, policy or access row): what is left is answered 401 and tests nothing.
_SKIP = {("POST", "/auth/logout")}
_GUARDED = ("/users", "/roles", "/policies", "/access")


def _kept(method: str, path: str) -> bool:
    if (method, path) in _SKIP:
        return False
    return method in ("GET", "SEARCH", "POST") or not path.startswith(_GUARDED)


@pytest.fixture
def operations(app: Any, admin_headers: dict[str, str]) -> list[Any]:
    """Every operation of the document, on the blog, bound to the app."""
    seed_blog(app, o2m=True)
    schema = schemathesis.openapi.from_wsgi("/server/specs/oas", app, headers=admin_headers)
    ops = [result.ok() for result in schema.get_all_operations()]
    ops = [op for op in ops if _kept(op.method.upper(), op.path)]
    assert len(ops) > 20, "the OpenAPI document describes too few operations"
    return ops


def test_no_route_answers_5xx(operations, admin_headers, answer_ok, backend):
    statuses: Counter[int] = Counter()

    @given(data=st.data())
    def one_request(data: Any) -> None:
        op = data.draw(st.sampled_from(operations), label="operation")
        case = data.draw(op.as_strategy(), label="case")
        response = case.call(headers=admin_headers)
        statuses[response.status_code] += 1
        answer_ok(response.status_code, response.content,
                  (case.method, case.formatted_path, case.query, case.body))

    try:
        one_request()
    finally:  # the figure for the report of a long pass (-s shows it)
        print(f"\nschemathesis on {backend}: {sum(statuses.values())} requests over "
              f"{len(operations)} operations, statuses {dict(sorted(statuses.items()))}")
    # the admin kept its access: the run exercised the routes rather than the 401 path
    assert statuses[401] <= sum(statuses.values()) // 10, statuses
