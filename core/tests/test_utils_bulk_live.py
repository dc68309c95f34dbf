"""Bulk utilities against a real ``transom start`` with 2 workers, over HTTP."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import requests
import sqlalchemy as sa

from transom.testing.live_support import LIVE_ADMIN_TOKEN

from .test_utils_bulk import TASKS

BOUNDARY = "transom-bulk-boundary"
AUTH = {"Authorization": f"Bearer {LIVE_ADMIN_TOKEN}"}


def streamed_csv(rows: int) -> Iterator[bytes]:
    """A multipart body sent chunk by chunk (chunked transfer encoding)."""
    yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
           f"filename=\"tasks.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode()
    yield b"title,qty\n"
    pad = "x" * 220  # wide rows: the body passes MAX_PAYLOAD_SIZE (1 MB) on the way
    for start in range(0, rows, 1000):
        yield "".join(f"task {i} {pad},{i}\n"
                      for i in range(start + 1, min(rows, start + 1000) + 1)).encode()
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def test_import_export_sort_live(live_server, backend):
    server = live_server(backend, workers=2)
    server.ok("POST", "/collections", TASKS)
    resp = requests.post(server.url("/utils/import/tasks"), data=streamed_csv(5000),
                         headers={**AUTH, "Content-Type":
                                  f"multipart/form-data; boundary={BOUNDARY}"}, timeout=300)
    assert resp.status_code == 204, resp.text
    got = server.ok("GET", "/items/tasks?aggregate[count]=*&aggregate[sum]=qty")
    assert int(got[0]["count"]) == 5000
    assert int(float(got[0]["sum"]["qty"])) == 5000 * 5001 // 2

    # a bad row: 400 naming it; the other worker sees the same data afterwards
    bad = requests.post(server.url("/utils/import/tasks"), headers=AUTH, files={
        "file": ("bad.json", b'[{"title": "fine"}, {"qty": "x", "title": "y"}]',
                 "application/json")}, timeout=60)
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["extensions"]["row"] == 2
    statuses = server.burst("GET", "/items/tasks?aggregate[count]=*", n=4, full=True)
    assert {int(body["data"][0]["count"]) for _, body in statuses} == {5000}

    server.ok("POST", "/utils/export/tasks", {"format": "csv", "query": {
        "fields": ["title", "qty"], "filter": {"qty": {"_lte": 10}}, "sort": ["qty"]}})
    notes: list = []
    for _ in range(300):  # the export runs in the background: wait for its notification
        notes = server.ok("GET", "/notifications?fields=subject,item")
        if notes:
            break
        time.sleep(0.1)
    assert notes and notes[0]["subject"] == "Your export of tasks is ready"
    content = requests.get(server.url(f"/assets/{notes[0]['item']}?download"),
                           headers=AUTH, timeout=60)
    assert content.status_code == 200
    assert content.text.splitlines()[:3] == ['"title","qty"', f'"task 1 {"x" * 220}",1',
                                                f'"task 2 {"x" * 220}",2']
    assert len(content.text.splitlines()) == 11

    first_three = server.ok("GET", "/items/tasks?fields=id&sort=id&limit=3")
    ids = [r["id"] for r in first_three]
    for i, key in enumerate(ids):
        server.ok("PATCH", f"/items/tasks/{key}", {"sort": i + 1})
    status, _ = server.call("POST", "/utils/sort/tasks", {"item": ids[2], "to": ids[0]})
    assert status == 204
    order = server.ok("GET", f"/items/tasks?fields=id&sort=sort&filter[id][_in]="
                      f"{','.join(map(str, ids))}")
    assert [r["id"] for r in order] == [ids[2], ids[0], ids[1]]
    assert server.call("POST", "/utils/sort/tasks", {"item": ids[0], "to": ids[1]},
                       token=None)[0] == 403


def _until(fn: Any, timeout: float, interval: float) -> Any:
    """``fn()``'s first truthy value within ``timeout`` seconds, else None."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = fn()
        if value:
            return value
        time.sleep(interval)
    return None


def _job(engine: sa.Engine) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT id, status, attempts, worker, rows_done, result, file_key "
            "FROM transom_export_jobs")).first()


def test_export_survives_its_worker_being_killed(live_server, backend, tmp_path):
    """Begin an export, SIGKILL the worker running it mid-way: once its lease expires
    another worker resumes the job from the start; one file and one notification appear."""
    rows = 60_000
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    server = live_server(backend, workers=2, env={
        "EXPORT_BATCH_SIZE": "200", "EXPORT_JOB_LEASE_TTL": "3s",
        "STORAGE_LOCAL_ROOT": str(uploads)})
    server.ok("POST", "/collections", TASKS)
    engine = sa.create_engine(server.db_url)
    try:
        with engine.begin() as conn:  # many rows fast: straight into the table
            for start in range(0, rows, 10_000):
                conn.execute(sa.text("INSERT INTO tasks (title, qty) VALUES (:t, :q)"),
                             [{"t": f"task {i}", "q": i}
                              for i in range(start + 1, start + 10_001)])
        server.ok("POST", "/utils/export/tasks", {"format": "csv", "query": {
            "fields": ["title", "qty"], "sort": ["qty"]}})

        job = _until(lambda: (j := _job(engine)) is not None and j.status == "running"
                     and 0 < j.rows_done < rows and j, timeout=60, interval=0.01)
        assert job, "the export never showed progress"
        victim = int(str(job.worker).split(":")[1])  # host:pid:... of the lease owner
        assert victim in server.worker_pids()
        os.kill(victim, signal.SIGKILL)

        notes = _until(lambda: server.ok("GET", "/notifications?fields=subject,item"),
                       timeout=120, interval=0.25)
        assert notes, server.log_tail()
        assert [n["subject"] for n in notes] == ["Your export of tasks is ready"]
        done = _job(engine)
        assert (done.status, done.attempts, done.rows_done) == ("done", 2, rows)
        assert int(str(done.worker).split(":")[1]) != victim
        assert done.result == notes[0]["item"]

        files = server.ok("GET", "/files?fields=id,title,filesize")
        assert [(f["id"], f["title"]) for f in files] == [(done.result, "Export: tasks")]
        content = requests.get(server.url(f"/assets/{done.result}?download"),
                               headers=AUTH, timeout=60)
        lines = content.text.splitlines()
        assert len(lines) == rows + 1 and lines[0] == '"title","qty"'
        assert lines[1] == '"task 1",1' and lines[-1] == f'"task {rows}",{rows}'
        # the dead run's file was removed, and the temporary ``.<key>.<pid>.<n>.part`` its
        # killed write left with it: only the finished one is stored
        stored = [p.name for p in uploads.iterdir()]
        assert stored == [done.file_key.split(":", 1)[1]]
    finally:
        engine.dispose()
