"""``/utils/import``, ``/utils/export`` and ``/utils/sort`` on every backend (test client)."""

from __future__ import annotations

import io
import json

import pytest

from transom.default_plugins.utils_bulk import (
    csv_rows,
    export_chunks,
    export_jobs,
    json_items,
    text_of,
)

TASKS = {
    "collection": "tasks",
    "meta": {"sort_field": "sort"},
    "schema": {},
    "fields": [
        {"field": "id", "type": "integer", "meta": {"hidden": True},
         "schema": {"is_primary_key": True, "has_auto_increment": True}},
        {"field": "title", "type": "string", "schema": {"is_nullable": False}},
        {"field": "qty", "type": "integer"},
        {"field": "sort", "type": "integer"},
        {"field": "tags", "type": "json"},
    ],
}


@pytest.fixture
def tasks(app, client, admin_headers):
    resp = client.post("/collections", json=TASKS, headers=admin_headers)
    assert resp.status_code == 200, resp.get_json()
    return client


def upload(client, headers, name, body, mime, collection="tasks"):
    return client.post(f"/utils/import/{collection}", headers=headers,
                       content_type="multipart/form-data",
                       data={"file": (io.BytesIO(body), name, mime)})


def items(client, headers, query="sort=id&fields=id,title,qty,sort,tags&limit=-1"):
    resp = client.get(f"/items/tasks?{query}", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["data"]


def test_csv_import_types_and_upsert(tasks, admin_headers):
    body = (b'title,qty,tags\n"Buy, milk",3,"[""a"",""b""]"\nWalk,,\n'
            b'"Multi\nline",7,{"k":1}\n')
    resp = upload(tasks, admin_headers, "tasks.csv", body, "text/csv")
    assert resp.status_code == 204, resp.get_json()
    got = items(tasks, admin_headers)
    assert [(r["title"], r["qty"], r["tags"]) for r in got] == [
        ("Buy, milk", 3, ["a", "b"]), ("Walk", None, None), ("Multi\nline", 7, {"k": 1})]
    # a row with an existing key updates that item (Directus upserts)
    first = got[0]["id"]
    again = f"id,title,qty\n{first},Buy bread,4\n,New one,1\n".encode()
    resp = upload(tasks, admin_headers, "again.csv", again, "application/octet-stream")
    assert resp.status_code == 204, resp.get_json()
    got = items(tasks, admin_headers)
    assert len(got) == 4 and got[0]["title"] == "Buy bread" and got[0]["qty"] == 4
    assert got[-1]["title"] == "New one"


def test_json_import_and_row_errors(tasks, admin_headers):
    rows = [{"title": f"t{i}", "qty": i} for i in range(1, 6)]
    resp = upload(tasks, admin_headers, "t.json", json.dumps(rows).encode(), "application/json")
    assert resp.status_code == 204, resp.get_json()
    assert [r["qty"] for r in items(tasks, admin_headers)] == [1, 2, 3, 4, 5]
    # row 3 breaks a NOT NULL column: the error names the row and the field; nothing of
    # its batch is written
    bad = [{"title": "ok"}, {"title": "ok2"}, {"title": None, "qty": 1}, {"title": "late"}]
    resp = upload(tasks, admin_headers, "bad.json", json.dumps(bad).encode(),
                  "application/json")
    assert resp.status_code == 400, resp.get_json()
    err = resp.get_json()["errors"][0]
    assert err["extensions"]["row"] == 3 and "Row 3" in err["message"]
    assert "title" in err["message"]
    assert len(items(tasks, admin_headers)) == 5
    # a type the field refuses
    resp = upload(tasks, admin_headers, "bad.csv", b"title,qty\nx,not-a-number\n", "text/csv")
    assert resp.status_code == 400
    assert resp.get_json()["errors"][0]["extensions"]["row"] == 1
    # malformed JSON, wrong shapes, unknown media types and collections
    for body in (b'[{"title": "x"}, {"title": ', b'{"title": "x"}', b'[1]'):
        resp = upload(tasks, admin_headers, "x.json", body, "application/json")
        assert resp.status_code == 400, body
    resp = upload(tasks, admin_headers, "x.xml", b"<a/>", "text/xml")
    assert resp.status_code == 415
    resp = upload(tasks, admin_headers, "x.csv", b"title\nx\n", "text/csv",
                  collection="nope")
    assert resp.status_code == 403
    resp = tasks.post("/utils/import/tasks", json=[{"title": "x"}], headers=admin_headers)
    assert resp.status_code == 415
    assert len(items(tasks, admin_headers)) == 5


def test_import_batches_commit_one_by_one(tasks, admin_headers, app, monkeypatch):
    from transom.default_plugins import utils_bulk

    monkeypatch.setattr(utils_bulk, "BATCH", 2)
    lines = ["title,qty"] + [f"r{i},{i}" for i in range(1, 6)] + [",9"]
    resp = upload(tasks, admin_headers, "b.csv", "\n".join(lines).encode(), "text/csv")
    assert resp.status_code == 400
    assert resp.get_json()["errors"][0]["extensions"]["row"] == 6
    # batches [1,2] and [3,4] committed; [5,6] failed whole
    assert [r["qty"] for r in items(tasks, admin_headers)] == [1, 2, 3, 4]


def test_import_needs_create_permission(tasks, client):
    resp = upload(client, {}, "t.csv", b"title\nx\n", "text/csv")
    assert resp.status_code == 403


def test_scanners_stream():
    chunks = [b'[{"a": 1', b'2}, {"b": "x', b'y"}, 3', b'4, [1]]']
    assert list(json_items(text_of(chunks))) == [{"a": 12}, {"b": "xy"}, 34, [1]]
    assert list(json_items(text_of([b"  [ ]  "]))) == []
    assert list(csv_rows(text_of([b"\xef\xbb\xbfa.b,c\n1,", b"true\n"]))) == [
        {"a": {"b": "1"}, "c": True}]


def test_export_chunks_write_one_document():
    chunks = [[{"a": 1, "b": "x"}], [], [{"a": 2, "b": "y"}]]
    # the same bytes as ?export= on /items (no newline after the last row)
    assert b"".join(export_chunks(chunks, "csv_utf8")) == \
        '\ufeff"a","b"\n1,"x"\n2,"y"'.encode()
    assert json.loads(b"".join(export_chunks(chunks, "json"))) == [
        {"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert b"".join(export_chunks(chunks, "yaml")) == b"- a: 1\n  b: x\n- a: 2\n  b: y\n"
    assert b"".join(export_chunks([], "yaml")) == b"[]\n"
    assert b"".join(export_chunks(chunks, "xml")).count(b"<item>") == 2


def test_export_to_file_and_notification(tasks, admin_headers, app):
    rows = [{"title": f"t{i}", "qty": i} for i in range(1, 4)]
    assert upload(tasks, admin_headers, "t.json", json.dumps(rows).encode(),
                  "application/json").status_code == 204
    cms = app.extensions["transom"]
    for fmt in ("csv", "json", "yaml", "xml"):
        resp = tasks.post("/utils/export/tasks", headers=admin_headers, json={
            "format": fmt, "query": {"fields": ["title", "qty"], "sort": ["qty"]},
            "file": {"title": f"My {fmt} export"}})
        assert resp.status_code == 204, resp.get_json()
        for job in export_jobs(cms):
            job.join()
    files = tasks.get("/files?fields=id,title,type,filesize,storage,filename_disk"
                      "&sort=title", headers=admin_headers).get_json()["data"]
    assert [f["title"] for f in files] == ["My csv export", "My json export",
                                           "My xml export", "My yaml export"]
    from transom.storage import storages

    by_title = {f["title"]: f for f in files}
    csv_file = by_title["My csv export"]
    content = b"".join(storages(cms).get(csv_file["storage"]).read(csv_file["filename_disk"]))
    assert content.decode().splitlines() == ['"title","qty"', '"t1",1', '"t2",2',
                                              '"t3",3']
    assert csv_file["filesize"] == len(content) and csv_file["type"] == "text/csv"
    js = by_title["My json export"]
    content = b"".join(storages(cms).get(js["storage"]).read(js["filename_disk"]))
    assert json.loads(content) == [{"title": "t1", "qty": 1}, {"title": "t2", "qty": 2},
                                   {"title": "t3", "qty": 3}]
    notes = tasks.get("/notifications?fields=subject,collection,item&sort=id",
                      headers=admin_headers).get_json()["data"]
    assert len(notes) == 4
    assert notes[0]["subject"] == "Your export of tasks is ready"
    assert notes[0]["collection"] == "directus_files"
    assert {n["item"] for n in notes} == {f["id"] for f in files}


def test_csv_export_of_rows_with_different_columns(make_app, admin_headers):
    """A JSON field whose objects differ by row, across several batches: the file has every
    value under one header, the same bytes as the buffered ``?export=csv`` (the batches
    used to carry their own headers, so columns shifted from one batch to the next)."""
    app = make_app({"EXPORT_BATCH_SIZE": "2"})
    client = app.test_client()
    assert client.post("/collections", json=TASKS, headers=admin_headers).status_code == 200
    tags = [{"x": 1}, None, {"y": {"z": 2}}, [1, 2], {"x": 5, "w": "six"}]
    for qty, tag in enumerate(tags, 1):
        assert client.post("/items/tasks", json={"title": f"t{qty}", "qty": qty, "tags": tag},
                           headers=admin_headers).status_code == 200
    query = {"fields": ["title", "tags"], "sort": ["qty"]}
    resp = client.post("/utils/export/tasks", headers=admin_headers,
                       json={"format": "csv", "query": query})
    assert resp.status_code == 204, resp.get_json()
    cms = app.extensions["transom"]
    for job in export_jobs(cms):
        job.join()
    from transom.storage import storages

    file = client.get("/files?fields=storage,filename_disk", headers=admin_headers
                      ).get_json()["data"][0]
    content = b"".join(storages(cms).get(file["storage"]).read(file["filename_disk"]))
    buffered = client.get("/items/tasks?export=csv&fields=title,tags&sort=qty",
                          headers=admin_headers).data
    assert content == buffered
    lines = content.decode().splitlines()
    assert lines[0] == '"title","tags.x","tags","tags.y.z","tags.w"'
    assert lines[3] == '"t3",,,2,' and lines[5] == '"t5",5,,,"six"'


def test_export_refuses_bad_input(tasks, admin_headers, client):
    assert tasks.post("/utils/export/tasks", headers=admin_headers,
                      json={"format": "pdf"}).status_code == 400
    assert tasks.post("/utils/export/tasks", headers=admin_headers,
                      json={"format": "csv", "query": {"fields": ["nope"]}}).status_code == 403
    assert tasks.post("/utils/export/tasks", headers=admin_headers,
                      json={"format": "csv", "query": "x"}).status_code == 400
    assert client.post("/utils/export/tasks", json={"format": "csv"}).status_code == 403


def test_manual_sort(tasks, admin_headers, client):
    for i in range(1, 6):
        tasks.post("/items/tasks", json={"title": f"t{i}", "sort": i if i != 5 else None},
                   headers=admin_headers)

    def order():
        return [r["title"] for r in items(tasks, admin_headers, "sort=sort&fields=title")]

    # item 4 up to item 2's place; the rows without a sort value get one first
    resp = tasks.post("/utils/sort/tasks", json={"item": 4, "to": 2}, headers=admin_headers)
    assert resp.status_code == 204, resp.get_json()
    assert order() == ["t1", "t4", "t2", "t3", "t5"]
    resp = tasks.post("/utils/sort/tasks", json={"item": 1, "to": 5}, headers=admin_headers)
    assert resp.status_code == 204
    assert order() == ["t4", "t2", "t3", "t5", "t1"]
    assert tasks.post("/utils/sort/tasks", json={"item": 1}, headers=admin_headers
                      ).status_code == 400
    assert tasks.post("/utils/sort/tasks", json={"item": 1, "to": 999},
                      headers=admin_headers).status_code == 403
    assert client.post("/utils/sort/tasks", json={"item": 1, "to": 2}).status_code == 403
    assert tasks.post("/utils/sort/directus_users", json={"item": 1, "to": 2},
                      headers=admin_headers).status_code == 400
    assert order() == ["t4", "t2", "t3", "t5", "t1"]
    # keys as text are typed as the key ("4" was a 500 on PostgreSQL); "x" is no key: 403
    assert tasks.post("/utils/sort/tasks", json={"item": "1", "to": "4"},
                      headers=admin_headers).status_code == 204
    assert order() == ["t1", "t4", "t2", "t3", "t5"]
    assert tasks.post("/utils/sort/tasks", json={"item": "x", "to": "4"},
                      headers=admin_headers).status_code == 403
