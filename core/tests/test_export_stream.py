"""Streamed ``?export=csv|csv_utf8|xml|yaml``: the buffered document byte for byte for
small answers, chunk by chunk for big ones, on every backend and on the live server."""

from __future__ import annotations

import csv
import io
import urllib.request
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import yaml

from transom.query.export import export_items, stream_export

from .test_scale_reads import (
    N,
    fill_posts,
    posts,  # noqa: F401 - the fixture
)

FORMATS = ("csv", "csv_utf8", "xml", "yaml")
FIELDS = "id,title,status,owner.name"


def parsed(fmt: str, raw: bytes) -> list[dict[str, Any]]:
    """The rows of an export, read back with a standard parser."""
    text = raw.decode("utf-8")
    if fmt.startswith("csv"):
        return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    if fmt == "xml":
        return [{c.tag: c.text for c in item} for item in ET.fromstring(raw)]
    return yaml.safe_load(text)


@pytest.mark.parametrize("fmt", FORMATS)
def test_small_export_is_streamed_and_byte_identical(posts, client, admin_headers,  # noqa: F811
                                                     fmt):
    url = f"/items/posts?fields={FIELDS}&sort=id&limit=300&export={fmt}"
    resp = client.get(url, headers=admin_headers)
    assert resp.status_code == 200 and resp.is_streamed
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="posts ')
    items = client.get(f"/items/posts?fields={FIELDS}&sort=id&limit=300",
                       headers=admin_headers).get_json()["data"]
    assert resp.get_data() == export_items(items, fmt)[0]
    assert resp.headers["Content-Type"] == {
        "csv": "text/csv; charset=utf-8", "csv_utf8": "text/csv; charset=utf-8",
        "xml": "text/xml; charset=utf-8", "yaml": "text/yaml; charset=utf-8"}[fmt]
    empty = client.get(f"/items/posts?export={fmt}&filter[id][_lt]=0", headers=admin_headers)
    assert empty.status_code == 200 and empty.get_data() == export_items([], fmt)[0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_big_export_has_every_row(posts, client, admin_headers, fmt):  # noqa: F811
    resp = client.get(f"/items/posts?fields={FIELDS}&sort=id&limit=-1&export={fmt}",
                      headers=admin_headers)
    assert resp.status_code == 200 and resp.is_streamed
    raw = resp.get_data()
    items = client.get(f"/items/posts?fields={FIELDS}&sort=id&limit={N}",
                       headers=admin_headers).get_json()["data"]
    # the first chunk shows every column (owner is null in some rows), so it is identical
    assert raw == export_items(items, fmt)[0]
    rows = parsed(fmt, raw)
    assert len(rows) == N
    assert str(rows[-1]["id"]) == str(N)


def test_bad_export_query_is_a_clear_4xx(posts, client, admin_headers):  # noqa: F811
    resp = client.get("/items/posts?export=csv&limit=-1&filter[rank][_bogus]=1",
                      headers=admin_headers)
    assert resp.status_code == 400
    assert resp.get_json()["errors"][0]["extensions"]["code"] == "INVALID_QUERY"
    resp = client.get("/items/posts?export=toml", headers=admin_headers)
    assert resp.status_code == 400


def test_csv_columns_first_seen_after_the_first_chunk():
    """The header is fixed by the first chunk: a later key lands, with its object, in
    the parent's column as JSON (never a shifted or extra cell)."""
    first = [{"id": 1, "meta": None, "owner": {"name": "A"}}]
    later = [{"id": 2, "meta": {"a": 1, "b": [1]}, "owner": {"name": "B", "x": 1}},
             {"id": 3, "meta": None, "owner": None}]
    raw = b"".join(stream_export(iter([first, later]), "csv"))
    assert raw.decode() == ('"id","meta","owner.name"\n1,,"A"\n'
                            '2,"{""a"":1,""b"":[1]}","B"\n3,,')
    assert b"".join(stream_export(iter([first + later]), "csv")) == \
        export_items(first + later, "csv")[0]


@pytest.fixture(scope="module")
def live_posts(module_live_server: Any) -> Any:
    """A live server per backend holding the posts, started and filled once for the four
    formats: the export tests only read (each start and fill costs several seconds)."""
    servers: dict[str, Any] = {}

    def get(backend: str) -> Any:
        if backend not in servers:
            server = module_live_server(backend, workers=2)
            fill_posts(server)
            servers[backend] = server
        return servers[backend]

    return get


@pytest.mark.parametrize("fmt", FORMATS)
def test_live_exports_stream_in_chunks(live_posts, backend, fmt):
    server = live_posts(backend)
    req = urllib.request.Request(
        server.url(f"/items/posts?export={fmt}&limit=-1&fields=id,title&sort=id"),
        headers={"Authorization": f"Bearer {server.admin_token}"})
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - our server
        assert resp.headers.get("Transfer-Encoding") == "chunked"
        assert resp.headers["Content-Disposition"].startswith('attachment; filename="posts ')
        raw = resp.read()
    rows = parsed(fmt, raw)
    assert len(rows) == N
    assert [str(r["id"]) for r in rows[:3]] == ["1", "2", "3"]
    assert rows[-1]["title"] == f"Post {N} é"


@pytest.mark.backends("sqlite")
def test_csv_export_keeps_keys_that_appear_late(client, admin_headers):
    """A JSON field whose later rows bring keys the first chunk never had: the CSV export is
    buffered (not streamed from a first-chunk header), so no value is dropped."""
    body = {"collection": "docs", "schema": {}, "fields": [
        {"field": "id", "type": "integer",
         "schema": {"is_primary_key": True, "has_auto_increment": True}},
        {"field": "data", "type": "json"}]}
    assert client.post("/collections", json=body, headers=admin_headers).status_code == 200
    rows = [{"data": {"a": i}} for i in range(1, 1201)] + [{"data": {"a": 0, "late": "kept"}}]
    for start in range(0, len(rows), 500):
        resp = client.post("/items/docs", json=rows[start:start + 500], headers=admin_headers)
        assert resp.status_code == 200, resp.get_json()
    resp = client.get("/items/docs?export=csv&limit=-1&sort=id", headers=admin_headers)
    assert resp.status_code == 200
    exported = parsed("csv", resp.get_data())
    assert len(exported) == len(rows)
    assert "kept" in resp.get_data(as_text=True)
