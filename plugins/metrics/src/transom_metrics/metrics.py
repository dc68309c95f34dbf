"""The metrics of one app, in one process or shared by gunicorn's workers.

Single process (no ``PROMETHEUS_MULTIPROC_DIR``): every app gets its own
``CollectorRegistry`` and its own metric objects, so two apps in one process (tests,
embedding) never mix their counts; gauges of the database pool and the schema are read at
scrape time.

Several worker processes (``PROMETHEUS_MULTIPROC_DIR`` set): counters and histograms write
to memory-mapped files in that folder, and a scrape, answered by any worker, adds up the
files of every worker (``MultiProcessCollector``). Pool gauges are then written by each
worker after each request and summed over the live workers (``livesum``); the server must
call ``prometheus_client.multiprocess.mark_process_dead(pid)`` when a worker exits.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from transom.api import __version__

log = logging.getLogger("transom.metrics")

#: Seconds; from a cached hit (sub-millisecond) to a slow export.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

#: Methods kept as label values; anything else is counted as ``OTHER``.
KNOWN_METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE", "SEARCH", "HEAD",
                           "OPTIONS", "QUERY"})

#: What the cache plugin (transom-cache-redis) leaves in ``request.environ`` for each
#: cacheable request: ``hit``, ``miss`` or ``bypass``.
CACHE_ENVIRON_KEY = "transom.cache"
CACHE_RESULTS = ("hit", "miss", "bypass")


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get(
        "prometheus_multiproc_dir") or None


def _use_multiprocess_values() -> None:
    """prometheus_client picks file-backed values when it is *imported* with the variable
    set; a server that set it later (or a plugin imported first) still gets them here."""
    if values.ValueClass is values.MutexValue:
        values.ValueClass = values.MultiProcessValue()


def pool_numbers(engine: Any) -> dict[str, float]:
    """``checked_out``, ``size``, ``overflow`` of a SQLAlchemy pool (what it has of them)."""
    pool = engine.pool
    out: dict[str, float] = {}
    for name, attr in (("checked_out", "checkedout"), ("size", "size"),
                       ("overflow", "overflow")):
        fn = getattr(pool, attr, None)
        if callable(fn):
            try:
                out[name] = float(fn())
            except Exception:  # noqa: BLE001 - a pool without the notion: leave it out
                continue
    return out


class _ScrapeTimeCollector(Collector):
    """Values read when Prometheus scrapes: schema version, build, (single process) pool."""

    def __init__(self, cms: Any, prefix: str, with_pool: bool) -> None:
        self.cms = cms
        self.prefix = prefix
        self.with_pool = with_pool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        p = self.prefix
        build = GaugeMetricFamily(f"{p}build_info", "Transom version.", labels=["version"])
        build.add_metric([__version__], 1)
        yield build
        snap = self.cms.schema
        if snap is not None:
            info = GaugeMetricFamily(f"{p}schema_info", "Schema version this process serves.",
                                     labels=["version", "vendor"])
            info.add_metric([snap.version, snap.vendor or ""], 1)
            yield info
            coll = GaugeMetricFamily(f"{p}schema_collections",
                                     "Collections in the schema (system ones included).")
            coll.add_metric([], len(snap.collections))
            yield coll
        if self.with_pool:
            numbers = pool_numbers(self.cms.engine)
            for name, doc in POOL_GAUGES.items():
                if name in numbers:
                    g = GaugeMetricFamily(f"{p}db_pool_{name}", doc)
                    g.add_metric([], numbers[name])
                    yield g


POOL_GAUGES = {
    "checked_out": "Database connections in use.",
    "size": "Configured size of the database connection pool.",
    "overflow": "Connections open beyond the pool size (negative: not yet opened).",
}


def _cache_enabled(cms: Any) -> bool:
    """Whether transom-cache-redis caches this app's responses, asked through its public
    ``cache_enabled`` (looked up by plugin name: metrics does not depend on it)."""
    plugin = cms.pm.get_plugin("cache_redis")
    ask = getattr(plugin, "cache_enabled", None)
    return bool(ask(cms)) if ask is not None else False


class AppMetrics:
    """Every metric object of one app (``cms.state("transom_metrics")``)."""

    def __init__(self, cms: Any, prefix: str) -> None:
        self.cms = cms
        self.prefix = prefix
        self.multiprocess_dir = multiprocess_dir()
        registry: CollectorRegistry | None
        if self.multiprocess_dir:
            os.makedirs(self.multiprocess_dir, exist_ok=True)
            _use_multiprocess_values()
            registry = None  # values live in files; each scrape builds a registry
        else:
            registry = CollectorRegistry(auto_describe=True)
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            registry.register(_ScrapeTimeCollector(cms, prefix, with_pool=True))
        self.registry = registry
        p = prefix
        self.requests = Counter(f"{p}http_requests_total", "HTTP requests answered.",
                                ["method", "route", "status"], registry=registry)
        self.latency = Histogram(f"{p}http_request_duration_seconds",
                                 "Time to build the response, by route.",
                                 ["method", "route"], buckets=LATENCY_BUCKETS,
                                 registry=registry)
        self.errors = Counter(f"{p}http_errors_total", "HTTP answers with a 4xx or 5xx status.",
                              ["method", "route", "status_class"], registry=registry)
        self.cache = Counter(f"{p}cache_requests_total",
                             "Cacheable requests by what the response cache did.",
                             ["result"], registry=registry)
        self.pool: dict[str, Gauge] = {}
        if self.multiprocess_dir:
            for name, doc in POOL_GAUGES.items():
                self.pool[name] = Gauge(f"{p}db_pool_{name}", doc, registry=None,
                                        multiprocess_mode="livesum")
        if _cache_enabled(cms):
            for result in CACHE_RESULTS:  # present (at 0) from the start, for dashboards
                self.cache.labels(result)

    # -- recording -----------------------------------------------------------------------
    def observe(self, method: str, route: str, status: int, started: float | None,
                cache_result: str | None) -> None:
        method = method if method in KNOWN_METHODS else "OTHER"
        self.requests.labels(method, route, str(status)).inc()
        if started is not None:
            self.latency.labels(method, route).observe(max(0.0, time.perf_counter() - started))
        if status >= 400:
            self.errors.labels(method, route, f"{status // 100}xx").inc()
        if cache_result in CACHE_RESULTS:
            self.cache.labels(cache_result).inc()
        if self.pool:
            self.update_pool()

    def update_pool(self) -> None:
        numbers = pool_numbers(self.cms.engine)
        for name, gauge in self.pool.items():
            if name in numbers:
                gauge.set(numbers[name])

    # -- exposition ----------------------------------------------------------------------
    def render(self) -> bytes:
        if self.registry is not None:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        self.update_pool()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)
        registry.register(_ScrapeTimeCollector(self.cms, self.prefix, with_pool=False))
        return generate_latest(registry)
