"""Hypothesis over the query language and item bodies, against the real app on every
database: whatever the request, the answer is never a 5xx, and a 4xx is a Directus error
envelope. Field names are drawn from the blog's real fields and from junk, values from the
edges that broke Transom before (huge integers, NaN, NUL, deep nesting, long lists)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transom.testing.helpers import seed_blog

FIELDS = ["id", "title", "body", "status", "rating", "published_at", "data", "tags", "author",
          "author.name", "author.email", "comments.text", "*", "author.*"]
JUNK_NAMES = ["", "_", "nope", "a.b.c", "year(published_at)", "count(tags)", "json(data, a)",
              "bogus(title)", "title\x00", "id)", "(", "$FOLLOW(authors, id)", "-", "?"]
OPERATORS = ["_eq", "_neq", "_lt", "_lte", "_gt", "_gte", "_in", "_nin", "_null", "_nnull",
             "_contains", "_ncontains", "_icontains", "_starts_with", "_ends_with",
             "_istarts_with", "_between", "_nbetween", "_empty", "_nempty", "_some", "_none",
             "_regex", "_bogus", "eq", "_intersects", "_json"]
EDGE_NUMBERS = [0, -1, 1, 2**31, 2**53, 2**63, 2**64, 10**20, -(10**20), 1e20, 1e40, 1e308,
                1.5, -0.0]
EDGE_STRINGS = ["", "a", "NaN", "Infinity", "-Infinity", "1e40", "99999999999999999999",
                "true", "null", "a\x00b", "%", "_", "'", "\"", "\\", "2024-01-01",
                "2024-13-45T99:99:99", "$NOW", "$NOW(-1 year)", "$CURRENT_USER", "1,2,3",
                "é" * 3, "x" * 300]

names = st.sampled_from(FIELDS) | st.sampled_from(JUNK_NAMES) | st.text(max_size=8)
scalars = (st.sampled_from(EDGE_NUMBERS) | st.sampled_from(EDGE_STRINGS) | st.booleans()
           | st.none() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)


def _condition(children: Any) -> Any:
    ops = st.dictionaries(st.sampled_from(OPERATORS), values | children, min_size=1,
                          max_size=2)
    return (st.dictionaries(names, ops | children, min_size=1, max_size=2)
            | st.builds(lambda k, xs: {k: xs}, st.sampled_from(["_and", "_or", "and"]),
                        st.lists(children, max_size=3)))


filters = st.recursive(st.dictionaries(names, st.dictionaries(
    st.sampled_from(OPERATORS), values, min_size=1, max_size=2), max_size=2),
    _condition, max_leaves=6)
numbers = (st.sampled_from(EDGE_NUMBERS) | st.sampled_from(EDGE_STRINGS) | st.integers()
           | st.floats())
csv = st.lists(names, max_size=4).map(",".join)
queries = st.fixed_dictionaries({}, optional={
    "fields": csv | st.lists(names, max_size=3),
    "filter": filters | st.sampled_from(["{", "[]", "null", "1"]),
    "sort": st.lists(st.sampled_from(FIELDS + JUNK_NAMES), max_size=3).map(",".join)
    | st.sampled_from(["-rating", "?"]),
    "limit": numbers, "offset": numbers, "page": numbers,
    "search": st.sampled_from(EDGE_STRINGS) | st.text(max_size=10),
    "meta": st.sampled_from(["*", "total_count", "filter_count", "bogus"]),
    "aggregate": st.dictionaries(
        st.sampled_from(["count", "sum", "avg", "min", "max", "countDistinct", "bogus"]),
        st.sampled_from(FIELDS + JUNK_NAMES), max_size=2),
    "groupBy": st.lists(st.sampled_from(FIELDS + JUNK_NAMES), max_size=2).map(",".join),
    "deep": st.dictionaries(names, st.dictionaries(
        st.sampled_from(["_filter", "_limit", "_sort", "_offset", "junk"]), values,
        max_size=2), max_size=2),
})
bodies = st.dictionaries(st.sampled_from(FIELDS[:9] + ["comments", "nope"]), values,
                         max_size=5) | values
ids = (st.sampled_from(["1", "99999999999999999999", "-1", "1.5", "abc", "%00", "1e40", "0x1",
                        "NaN", "%20"]) | st.integers().map(str))
COLLECTIONS = ["articles", "authors", "comments", "blog_posts", "nope", "directus_users"]


def _wire(query: dict[str, Any]) -> dict[str, str]:
    """The query as a query string carries it: objects as JSON, the rest as text."""
    out: dict[str, str] = {}
    for key, value in query.items():
        if isinstance(value, dict | list) or value is None:
            try:
                out[key] = json.dumps(value)
            except ValueError:
                out[key] = str(value)
        else:
            out[key] = str(value)
    return out


@given(collection=st.sampled_from(COLLECTIONS), query=queries, via=st.sampled_from(
    ["GET", "SEARCH"]))
def test_reads_never_5xx(fuzz_blog, admin_headers, answer_ok, collection, query, via):
    client = fuzz_blog
    if via == "GET":
        resp = client.get(f"/items/{collection}", query_string=_wire(query),
                          headers=admin_headers)
    else:
        resp = client.open(f"/items/{collection}", method="SEARCH", json={"query": query},
                           headers=admin_headers)
    answer_ok(resp.status_code, resp.get_data(), (via, collection, query))


@given(collection=st.sampled_from(COLLECTIONS), key=ids, body=bodies,
       method=st.sampled_from(["post", "patch", "get", "delete", "patch_many"]))
def test_writes_never_5xx(fuzz_blog, admin_headers, answer_ok, collection, key, body, method):
    client = fuzz_blog
    if method == "post":
        resp = client.post(f"/items/{collection}", json=body, headers=admin_headers)
    elif method == "patch_many":
        resp = client.patch(f"/items/{collection}", json={"keys": [key], "data": body},
                            headers=admin_headers)
    elif method == "patch":
        resp = client.patch(f"/items/{collection}/{key}", json=body, headers=admin_headers)
    else:
        resp = getattr(client, method)(f"/items/{collection}/{key}", headers=admin_headers)
    answer_ok(resp.status_code, resp.get_data(), (method, collection, key, body))


@given(text=st.text(max_size=30) | st.sampled_from(
    ["[" * 5000, '{"a":' * 5000, "NaN", '{"title": NaN}', '{"rating": 1e999}', "\x00"]))
def test_raw_bodies_never_5xx(fuzz_blog, admin_headers, answer_ok, text):
    resp = fuzz_blog.post("/items/articles", data=text.encode("utf-8", "replace"),
                          headers={**admin_headers, "Content-Type": "application/json"})
    answer_ok(resp.status_code, resp.get_data(), text[:80])


def _ensure_blog(app: Any) -> None:
    if app.extensions["transom"].schema.get("articles") is None:
        seed_blog(app, o2m=True)


@pytest.fixture
def fuzz_blog(app: Any, client: Any) -> Any:
    """The blog (with the o2m alias) on the backend under test, and its client."""
    _ensure_blog(app)
    return client
