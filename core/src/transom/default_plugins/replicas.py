"""Health of the read replicas: one ``<vendor>:replica<N>:lagSeconds`` entry each in
``/server/health`` (a warning, not an error: reads fall back to the primary)."""

from __future__ import annotations

from typing import Any

from .. import hookimpl
from ..health import HealthCheck
from ..replicas import Replica, ReplicaRouter


def _lag_check(router: ReplicaRouter, replica: Replica) -> Any:
    def check() -> float | None:
        router.check(replica)  # measured now, not the checker's last figure
        if not replica.healthy:
            raise RuntimeError(replica.error or "unhealthy")
        return None if replica.lag is None else round(replica.lag, 3)

    return check


@hookimpl
def register_health_checks(cms: Any) -> Any:
    router = cms.replicas
    if router is None:
        return None
    vendor = cms.dialect.vendor or cms.dialect.name
    return [HealthCheck(f"{vendor}:{r.name}:lagSeconds", _lag_check(router, r), "datastore",
                        required=False, measure="value") for r in router.replicas]
