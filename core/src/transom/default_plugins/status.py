"""``/status``: a public readiness document for load balancers and Kubernetes probes.

Directus has no such route; ``/server/health`` stays Directus's. This one names what the
deployment runs on (database dialect, cache driver, messenger transports) and the state of
each, reusing the health checks of :mod:`transom.health`, and says nothing secret: no
hosts, users, passwords or versions of internals, only Transom's own version. 200 while the
database answers (``ok`` or ``warn``), 503 when it does not (a required check failed).
"""

from __future__ import annotations

from typing import Any

from flask import Response

from .. import __version__, hookimpl
from ..health import run_checks
from ..http.context import current_cms
from ..http.openapi import Blueprint
from ..http.responses import json_response

bp = Blueprint("transom_status", __name__, description="Public readiness document.")

#: the health check names this document reads (see ``register_health_checks``)
CACHE_CHECK = "cache:responseTime"


def _entry(checks: dict[str, list[dict[str, Any]]], name: str) -> dict[str, Any] | None:
    found = checks.get(name)
    return found[0] if found else None


def _state(entry: dict[str, Any] | None) -> dict[str, Any]:
    """``state`` and ``latency_ms`` from one health entry (never its ``output``, which may
    name a host)."""
    if entry is None:
        return {"state": "unknown", "latency_ms": None}
    return {"state": entry["status"], "latency_ms": entry.get("observedValue")}


def cache_section(cms: Any, checks: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The response cache: its driver (``memory``/``redis``) or ``none`` when off."""
    plugin = cms.pm.get_plugin("cache_redis")
    enabled = plugin is not None and bool(plugin.cache_enabled(cms))
    if not enabled:
        return {"driver": "none", "state": "disabled"}
    driver = str(cms.config.get("CACHE_STORE") or "memory").lower()
    entry = _entry(checks, CACHE_CHECK)
    if entry is None:  # the memory store registers no check: it cannot be down
        return {"driver": driver, "state": "ok", "latency_ms": None}
    return {"driver": driver, **_state(entry)}


def messenger_section(cms: Any) -> dict[str, Any]:
    """How invalidations travel: the local bus between workers and remote transports."""
    messenger = cms.messenger
    transports = [str(getattr(t, "name", type(t).__name__)) for t in messenger.transports]
    if getattr(messenger, "local", None) is not None:
        transports.insert(0, "local")
    return {"transports": transports, "state": "ok" if transports else "single-process"}


def status_document(cms: Any) -> tuple[dict[str, Any], int]:
    """The ``/status`` body and its HTTP status."""
    report = run_checks(list(cms.health_checks))
    checks = report["checks"]
    vendor = cms.dialect.vendor or cms.dialect.name
    body = {
        "status": report["status"],
        "version": __version__,
        "database": {"dialect": vendor, **_state(_entry(checks, f"{vendor}:responseTime"))},
        "cache": cache_section(cms, checks),
        "messenger": messenger_section(cms),
    }
    return body, 503 if report["status"] == "error" else 200


@bp.get("/status")
def status() -> Response:
    body, code = status_document(current_cms())
    return json_response(body, status=code, headers={"Cache-Control": "no-store"})


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp
