"""Health checks reported by ``/server/health`` and ``/status`` (``application/health+json``).

Core checks the database; plugins add theirs (cache, storage, mail) through
``register_health_checks``. A failing ``required`` check turns the report to ``error``
(HTTP 503); a failing optional one to ``warn``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HealthCheck:
    """``check()`` raises when unhealthy; ``name`` is Directus's key (``pg:responseTime``)."""

    name: str
    check: Callable[[], Any]
    component_type: str = "datastore"
    required: bool = True
    threshold_ms: float = 150.0


def run_checks(checks: list[HealthCheck]) -> dict[str, Any]:
    """Run every check and build the report (``status``, ``checks``)."""
    status = "ok"
    results: dict[str, list[dict[str, Any]]] = {}
    for hc in checks:
        start = time.perf_counter()
        entry: dict[str, Any] = {"componentType": hc.component_type, "observedUnit": "ms",
                                 "threshold": hc.threshold_ms}
        try:
            hc.check()
            elapsed = round((time.perf_counter() - start) * 1000, 3)
            entry.update(status="ok", observedValue=elapsed)
            if elapsed > hc.threshold_ms:
                entry["status"] = "warn"
                status = "warn" if status == "ok" else status
        except Exception as exc:  # noqa: BLE001 - a check failing is what we report
            elapsed = round((time.perf_counter() - start) * 1000, 3)
            entry.update(status="error" if hc.required else "warn", observedValue=elapsed,
                         output=str(exc)[:200] or exc.__class__.__name__)
            if hc.required:
                status = "error"
            elif status == "ok":
                status = "warn"
        results.setdefault(hc.name, []).append(entry)
    return {"status": status, "checks": results}
