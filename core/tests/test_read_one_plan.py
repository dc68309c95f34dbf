"""``ItemsService.read_one`` compiles one plan per collection, query shape and permission set,
with the key as a bound parameter: reading 50 different ids builds one plan, not 50 (the
plan key of a list read includes its filter values). The answers are the ones of the same
read written as a filter on the key, which goes through the general read path."""

from __future__ import annotations

from typing import Any

import pytest

from transom.compiler.reader import Reader
from transom.testing.helpers import seed_blog, setup_user

N = 50
FIELDS = "id,title,status,rating,published_at,data,tags,author.name,comments.text"


@pytest.fixture
def blog50(app: Any, client: Any, admin_headers: dict[str, str]) -> Any:
    seed_blog(app, o2m=True)  # 12 articles (its dates allow no more), then the rest
    more = [{"title": f"More {i}", "status": ("published", "draft")[i % 2],
             "rating": (i * 37) % 100, "author": 1 + i % 3, "tags": ["a"][: i % 2]}
            for i in range(N + 5 - 12)]
    resp = client.post("/items/articles", json=more, headers=admin_headers)
    assert resp.status_code == 200, resp.get_json()
    return app


@pytest.fixture
def plan_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many root plans the compiler builds (the real ``Reader.plan``, counted)."""
    calls: list[int] = []
    original = Reader.plan

    def counted(self: Reader, node: Any, query: Any) -> Any:
        calls.append(1)
        return original(self, node, query)

    monkeypatch.setattr(Reader, "plan", counted)
    return calls


def _one(client: Any, headers: dict[str, str], key: int, extra: str = "") -> Any:
    resp = client.get(f"/items/articles/{key}?fields={FIELDS}{extra}", headers=headers)
    return resp.status_code, resp.get_json()


def _by_filter(client: Any, headers: dict[str, str], key: int, extra: str = "") -> Any:
    resp = client.get(f"/items/articles?fields={FIELDS}&filter[id][_eq]={key}{extra}",
                      headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["data"]


def test_fifty_ids_build_one_plan(blog50: Any, client: Any, admin_headers: dict[str, str],
                                  plan_builds: list[int]) -> None:
    answers = {}
    for key in range(1, N + 1):
        status, body = _one(client, admin_headers, key)
        assert status == 200, body
        answers[key] = body["data"]
    assert len(plan_builds) == 1
    assert {k: v["id"] for k, v in answers.items()} == {k: k for k in range(1, N + 1)}
    assert all(isinstance(v["comments"], list) and v["author"] for v in answers.values())
    for key in (1, 2, 17, N):  # the same item as through the general read path
        assert [answers[key]] == _by_filter(client, admin_headers, key)


def test_missing_and_filtered_out_are_forbidden(blog50: Any, client: Any,
                                                admin_headers: dict[str, str],
                                                plan_builds: list[int]) -> None:
    status, body = _one(client, admin_headers, 10_000)
    assert (status, body["errors"][0]["extensions"]["code"]) == (403, "FORBIDDEN")
    # a query filter is part of the shape: one more plan, shared by every id
    published = [k for k in range(1, N + 1) if _by_filter(
        client, admin_headers, k, "&filter[status][_eq]=published")]
    assert published and len(published) < N
    builds = len(plan_builds)
    for key in range(1, N + 1):
        status, body = _one(client, admin_headers, key, "&filter[status][_eq]=published")
        assert status == (200 if key in published else 403), body
    assert len(plan_builds) == builds + 1


def test_row_permissions_apply_to_the_shared_plan(blog50: Any, client: Any,
                                                  admin_headers: dict[str, str],
                                                  plan_builds: list[int]) -> None:
    user = setup_user(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["*"],
         "permissions": {"rating": {"_gte": 50}}},
        {"collection": "authors", "action": "read", "fields": ["*"]},
        {"collection": "comments", "action": "read", "fields": ["*"]}])
    headers = user["headers"]
    visible = {k for k in range(1, N + 1) if _by_filter(client, headers, k)}
    assert visible and len(visible) < N
    builds = len(plan_builds)
    for key in range(1, N + 1):
        status, body = _one(client, headers, key)
        if key in visible:
            assert status == 200, body
            assert [body["data"]] == _by_filter(client, headers, key)
        else:
            assert (status, body["errors"][0]["extensions"]["code"]) == (403, "FORBIDDEN")
    assert len(plan_builds) == builds + 1
