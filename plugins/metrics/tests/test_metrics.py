"""/metrics: counts and latency per route and status, access rules, pool and cache
gauges, one registry per app, and several worker processes through a multiprocess dir."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.backends("sqlite")


def test_counts_per_route_and_status(mclient, tools):
    for _ in range(3):
        assert mclient.get("/server/ping").status_code == 200
    for _ in range(2):
        assert mclient.get("/items/notes", headers=tools.ADMIN).status_code == 200
    assert mclient.get("/items/notes/3", headers=tools.ADMIN).status_code == 200
    assert mclient.get("/items/notes").status_code == 403
    assert mclient.get("/no/such/route").status_code == 404
    assert mclient.post("/items/notes", json={"id": 9, "text": "x"},
                        headers=tools.ADMIN).status_code == 200

    m = tools.scrape(mclient)
    total = "transom_http_requests_total"
    assert m.value(total, method="GET", route="/server/ping", status="200") == 3
    assert m.value(total, method="GET", route="/items/<collection>", status="200") == 2
    assert m.value(total, method="GET", route="/items/<collection>", status="403") == 1
    assert m.value(total, method="GET", route="/items/<collection>/<key>", status="200") == 1
    assert m.value(total, method="GET", route="<unmatched>", status="404") == 1
    assert m.value(total, method="POST", route="/items/<collection>", status="200") == 1
    # raw paths never become labels
    assert not [s for s in m.samples if "/items/notes" in s.labels.get("route", "")]

    errors = "transom_http_errors_total"
    assert m.value(errors, route="/items/<collection>", status_class="4xx") == 1
    assert m.value(errors, route="<unmatched>", status_class="4xx") == 1
    assert m.value(errors, status_class="5xx") is None


def test_latency_histogram_buckets(mclient, tools):
    for _ in range(4):
        mclient.get("/server/ping")
    m = tools.scrape(mclient)
    name = "transom_http_request_duration_seconds"
    assert m.value(f"{name}_count", method="GET", route="/server/ping") == 4
    assert m.value(f"{name}_sum", method="GET", route="/server/ping") > 0
    buckets = m.find(f"{name}_bucket", method="GET", route="/server/ping")
    bounds = [(float(s.labels["le"]), s.value) for s in buckets]
    assert len(bounds) == 14  # 13 bounds and +Inf
    assert bounds[-1] == (float("inf"), 4)
    counts = [v for _, v in sorted(bounds)]
    assert counts == sorted(counts)  # cumulative


def test_access(mclient, tools, reader_headers):
    assert mclient.get("/metrics", headers=tools.ADMIN).status_code == 200
    assert mclient.get("/metrics", headers={"Authorization": "Metrics scrape-two"}
                       ).status_code == 200
    assert mclient.get("/metrics", headers={"Authorization": "metrics scrape-one"}
                       ).status_code == 200
    for headers in ({}, reader_headers, {"Authorization": "Metrics wrong"},
                    {"Authorization": "Metrics "}):
        r = mclient.get("/metrics", headers=headers)
        assert r.status_code == 403
        assert r.get_json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert mclient.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code in (
        401, 403)


def test_disabled_by_default(make_app):
    app = make_app()
    client = app.test_client()
    r = client.get("/metrics", headers={"Authorization": "Bearer transom-test-admin-token"})
    assert r.status_code == 404
    assert r.get_json()["errors"][0]["extensions"]["code"] == "ROUTE_NOT_FOUND"


def test_pool_schema_and_build_gauges(metrics_app, mclient, tools):
    mclient.get("/items/notes", headers=tools.ADMIN)
    m = tools.scrape(mclient)
    assert m.value("transom_db_pool_checked_out") is not None
    assert m.value("transom_db_pool_size") is not None
    version = metrics_app.extensions["transom"].schema.version
    assert m.value("transom_schema_info", version=version) == 1
    assert m.value("transom_schema_collections") > 1
    assert m.find("transom_build_info")


def test_name_prefix(make_app, tools):
    app = make_app(config={**tools.METRICS_ON, "METRICS_NAME_PREFIX": "cms_"})
    client = app.test_client()
    client.get("/server/ping")
    m = tools.scrape(client)
    assert m.value("cms_http_requests_total", route="/server/ping") == 1
    assert not m.find("transom_http_requests_total")


def test_cache_counters(make_app, tools):
    app = make_app(config={**tools.METRICS_ON, "CACHE_ENABLED": "true",
                           "CACHE_STORE": "memory"})
    tools.seed_notes(app)
    client = app.test_client()
    assert tools.scrape(client).value("transom_cache_requests_total", result="hit") == 0
    for _ in range(3):
        client.get("/items/notes", headers=tools.ADMIN)
    m = tools.scrape(client)
    assert m.value("transom_cache_requests_total", result="miss") == 1
    assert m.value("transom_cache_requests_total", result="hit") == 2
    assert m.value("transom_cache_requests_total", result="bypass") == 0


def test_no_cache_counters_without_cache(mclient, tools):
    mclient.get("/items/notes", headers=tools.ADMIN)
    assert not tools.scrape(mclient).find("transom_cache_requests_total")


def test_each_app_has_its_own_registry(make_app, tools):
    one = make_app(config=tools.METRICS_ON).test_client()
    two = make_app(config=tools.METRICS_ON).test_client()
    for _ in range(3):
        one.get("/server/ping")
    two.get("/server/ping")
    assert tools.scrape(one).value("transom_http_requests_total", route="/server/ping") == 3
    assert tools.scrape(two).value("transom_http_requests_total", route="/server/ping") == 1


_WORKER = """
import json, os, sys
from transom import create_app

config, pings, token = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
app = create_app(config, env_file=None)
client = app.test_client()
for _ in range(pings):
    assert client.get("/server/ping").status_code == 200
assert client.get("/items/notes", headers={"Authorization": "Bearer " + token}).status_code == 200
app.extensions["transom"].close()
print(os.getpid())
"""


def test_multiprocess_dir_adds_up_workers(make_app, db_url, tools, tmp_path, monkeypatch):
    """Two worker processes count into PROMETHEUS_MULTIPROC_DIR; a scrape answered by a
    third process (the test's app) adds them up, as gunicorn workers would."""
    from prometheus_client import multiprocess, values

    from transom.testing.plugin import ADMIN_TOKEN, base_config

    folder = tmp_path / "prom"
    folder.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    monkeypatch.setattr(values, "ValueClass", values.ValueClass)  # restored afterwards
    app = make_app(config=tools.METRICS_ON)
    tools.seed_notes(app)
    config = json.dumps({**base_config(db_url), **tools.METRICS_ON})
    workers = [subprocess.Popen([sys.executable, "-c", _WORKER, config, str(n), ADMIN_TOKEN],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for n in (3, 5)]
    pids = []
    for w in workers:
        out, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
        pids.append(int(out.strip().splitlines()[-1]))
    for pid in pids:  # what gunicorn's child_exit hook does
        multiprocess.mark_process_dead(pid, str(folder))

    client = app.test_client()
    client.get("/server/ping")
    m = tools.scrape(client)
    total = "transom_http_requests_total"
    assert m.value(total, method="GET", route="/server/ping", status="200") == 3 + 5 + 1
    assert m.value(total, method="GET", route="/items/<collection>", status="200") == 2
    hist = "transom_http_request_duration_seconds_count"
    assert m.value(hist, method="GET", route="/server/ping") == 9
    assert m.value("transom_db_pool_checked_out") is not None
    assert m.find("transom_schema_info")
    assert list(folder.glob("counter_*.db"))
