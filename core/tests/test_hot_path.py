"""What the read hot path sends and does per request (issue 19), checked without timing.

* On SQLite a list read sends its one SELECT to the driver and nothing else: no BEGIN, and
  no ``PRAGMA read_uncommitted`` (SQLAlchemy's isolation-level switch, which the read engine
  used to pay at every check-in).
* Flask's ``ensure_sync`` answers are remembered per function (``TransomFlask``), boundedly.
* o2m and m2m lists keep each parent's children in the asked order now that their rows are
  fetched ordered by parent first.
"""

from __future__ import annotations

from typing import Any

import pytest

from transom.app import TransomFlask


def _setup(client: Any, headers: dict[str, str]) -> None:
    pk = {"field": "id", "type": "integer",
          "schema": {"is_primary_key": True, "has_auto_increment": True}}
    for name, fields in (
        ("hp_authors", [{"field": "name", "type": "string"},
                        {"field": "books", "type": "alias", "meta": {"special": ["o2m"]}}]),
        ("hp_books", [{"field": "title", "type": "string"},
                      {"field": "rank", "type": "integer"},
                      {"field": "author", "type": "integer", "meta": {"special": ["m2o"]}}]),
    ):
        resp = client.post("/collections", json={"collection": name, "schema": {},
                                                 "fields": [pk, *fields]}, headers=headers)
        assert resp.status_code == 200, resp.get_data(as_text=True)
    resp = client.post("/relations", json={
        "collection": "hp_books", "field": "author", "related_collection": "hp_authors",
        "meta": {"one_field": "books"}}, headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    resp = client.post("/items/hp_authors", json=[{"name": "A"}, {"name": "B"}],
                       headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    # interleaved parents, ranks out of key order
    books = [{"title": f"b{i}", "rank": (7 * i) % 5, "author": 1 + i % 2} for i in range(10)]
    resp = client.post("/items/hp_books", json=books, headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)


@pytest.mark.backends("sqlite")
def test_sqlite_list_read_sends_only_its_select(app: Any, client: Any,
                                                admin_headers: dict[str, str]) -> None:
    _setup(client, admin_headers)
    cms = app.extensions["transom"]
    traced: list[str] = []
    cms.engine.dispose()  # new connections, each traced from its first statement

    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(traced.append)

    import sqlalchemy as sa

    sa.event.listen(cms.engine, "connect", trace)
    try:
        for _ in range(2):  # the second read reuses the pooled connection
            resp = client.get("/items/hp_books?limit=3", headers=admin_headers)
            assert resp.status_code == 200
            assert [b["title"] for b in resp.get_json()["data"]] == ["b0", "b1", "b2"]
    finally:
        sa.event.remove(cms.engine, "connect", trace)
    reads = [n for n, s in enumerate(traced) if "hp_books" in s]
    assert len(reads) == 2, traced
    assert not [s for s in traced if "read_uncommitted" in s.lower()], traced
    # the read is not wrapped in a transaction: no BEGIN right before it
    assert all(n == 0 or traced[n - 1].strip().upper() != "BEGIN" for n in reads), traced


def test_o2m_children_keep_the_asked_order(client: Any, admin_headers: dict[str, str]) -> None:
    _setup(client, admin_headers)
    resp = client.get("/items/hp_authors?fields=id,books.title,books.rank"
                      "&deep[books][_sort]=-rank,id&sort=id", headers=admin_headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    data = resp.get_json()["data"]
    assert [a["id"] for a in data] == [1, 2]
    for author, parity in zip(data, (0, 1), strict=True):
        expected = sorted((-((7 * i) % 5), i) for i in range(parity, 10, 2))
        assert [(-b["rank"]) for b in author["books"]] == [r for r, _ in expected]
    # the default order of an o2m is the related key
    resp = client.get("/items/hp_authors?fields=id,books.title&sort=id", headers=admin_headers)
    titles = [[b["title"] for b in a["books"]] for a in resp.get_json()["data"]]
    assert titles == [[f"b{i}" for i in range(0, 10, 2)], [f"b{i}" for i in range(1, 10, 2)]]


def test_ensure_sync_is_remembered_per_function() -> None:
    app = TransomFlask("t")

    def view() -> str:
        return "ok"

    assert app.ensure_sync(view) is view
    assert app.ensure_sync(view) is view
    assert app._sync_cache == {view: view}
    for n in range(5000):  # functions made on the fly never grow the cache without bound
        app.ensure_sync(lambda n=n: n)
    assert len(app._sync_cache) <= 4096
