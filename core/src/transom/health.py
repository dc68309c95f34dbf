"""Health checks reported by ``/server/health`` and ``/status`` (``application/health+json``).

Core checks the database and the local storage folders; plugins add theirs (cache, rate
limiter, mail) through ``register_health_checks``. A failing ``required`` check turns the
report to ``error`` (HTTP 503); a failing optional one, or one slower than its threshold,
to ``warn``. Entries follow Directus's shape: ``{"<name>": [{status, componentType,
observedValue, observedUnit, threshold}]}``.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class HealthCheck:
    """``check()`` raises when unhealthy; ``name`` is Directus's key (``pg:responseTime``).

    :param measure: ``time`` reports how long ``check()`` took, in ms, against
        ``threshold_ms``; ``value`` reports the number ``check()`` returns (a pool gauge such
        as ``pg:connectionsAvailable``), with no unit and no threshold.
    :param fallback: core's own stand-in, dropped when a plugin reports the same name (a
        storage plugin checking ``storage:local:responseTime`` its own way).
    """

    name: str
    check: Callable[[], Any]
    component_type: str = "datastore"
    required: bool = True
    threshold_ms: float = 150.0
    measure: str = "time"
    fallback: bool = False


def select_checks(checks: list[HealthCheck]) -> list[HealthCheck]:
    """The checks to run: core's fallbacks give way to a plugin's check of the same name."""
    claimed = {hc.name for hc in checks if not hc.fallback}
    return [hc for hc in checks if not (hc.fallback and hc.name in claimed)]


def _run_one(hc: HealthCheck) -> tuple[dict[str, Any], str]:
    """One entry and its effect on the report (``ok``, ``warn`` or ``error``)."""
    if hc.measure == "value":
        entry: dict[str, Any] = {"status": "ok", "componentType": hc.component_type}
        try:
            entry["observedValue"] = hc.check()
        except Exception as exc:  # noqa: BLE001 - a check failing is what we report
            entry.update(status="error" if hc.required else "warn", observedValue=None,
                         output=str(exc)[:200] or exc.__class__.__name__)
        return entry, entry["status"]
    entry = {"componentType": hc.component_type, "observedUnit": "ms",
             "threshold": hc.threshold_ms}
    start = time.perf_counter()
    try:
        hc.check()
    except Exception as exc:  # noqa: BLE001 - a check failing is what we report
        elapsed = round((time.perf_counter() - start) * 1000, 3)
        status = "error" if hc.required else "warn"
        entry.update(status=status, observedValue=elapsed,
                     output=str(exc)[:200] or exc.__class__.__name__)
        return entry, status
    elapsed = round((time.perf_counter() - start) * 1000, 3)
    status = "warn" if elapsed > hc.threshold_ms else "ok"
    entry.update(status=status, observedValue=elapsed)
    return entry, status


def run_checks(checks: list[HealthCheck]) -> dict[str, Any]:
    """Run every check and build the report (``status``, ``checks``); never raises."""
    rank = {"ok": 0, "warn": 1, "error": 2}
    status = "ok"
    results: dict[str, list[dict[str, Any]]] = {}
    for hc in select_checks(checks):
        entry, effect = _run_one(hc)
        if rank[effect] > rank[status]:
            status = effect
        results.setdefault(hc.name, []).append(entry)
    return {"status": status, "checks": results}


def check_local_folder(root: str | os.PathLike[str]) -> None:
    """Raise unless files can be written to ``root``.

    An existing folder gets a probe file written, read back and removed (what Directus's
    storage check does). A folder not created yet (no upload so far) is fine as long as its
    nearest existing parent lets it be created: a health check must not create folders.
    """
    path = Path(root)
    if path.exists():
        if not path.is_dir():
            raise NotADirectoryError(f"{root} is not a folder")
        probe = path / f".health-{uuid.uuid4().hex}"
        try:
            probe.write_bytes(b"check")
            if probe.read_bytes() != b"check":
                raise OSError(f"{root}: a file written could not be read back")
        finally:
            probe.unlink(missing_ok=True)
        return
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{root} does not exist and cannot be created in {parent}")
