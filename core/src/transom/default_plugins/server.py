"""``/server/*``: ping, health, public project info (``/status`` is in ``status.py``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response

from .. import __version__, hookimpl
from ..config import parse_csv
from ..health import HealthCheck, check_local_folder, run_checks
from ..http.context import current_cms, get_accountability
from ..http.openapi import Blueprint
from ..http.responses import json_response
from ..query.model import limit_settings
from .rate_limit import server_info_limits

PROJECT_DEFAULTS: dict[str, Any] = {
    "project_name": "Transom",
    "project_descriptor": None,
    "project_logo": None,
    "project_color": "#6644FF",
    "default_appearance": "auto",
    "default_theme_light": None,
    "default_theme_dark": None,
    "theme_light_overrides": None,
    "theme_dark_overrides": None,
    "default_language": "en-US",
    "public_foreground": None,
    "public_favicon": None,
    "public_note": None,
    "custom_css": None,
    "public_registration": False,
    "public_registration_verify_email": True,
    "public_background": None,
}

bp = Blueprint("transom_server", __name__, description="Server: ping, health, info.")


@bp.get("/server/ping")
def ping() -> Response:
    # Directus answers the bare word, as text/html, before any authentication.
    return Response("pong", mimetype="text/html")


def health_report() -> tuple[dict[str, Any], int]:
    cms = current_cms()
    report = run_checks(list(cms.health_checks))
    status = 503 if report["status"] == "error" else 200
    return report, status


@bp.get("/server/health")
def health() -> Response:
    report, status = health_report()
    try:
        admin = get_accountability().admin
    except Exception:  # noqa: BLE001 - a bad token still gets the public health answer
        admin = False
    body: dict[str, Any] = {"status": report["status"]}
    if admin:
        cms = current_cms()
        body.update(releaseId=__version__, serviceId=cms.config.get("KEY"),
                    checks=report["checks"])
    return json_response(body, status=status, mimetype="application/health+json")


def project_info(cms: Any) -> dict[str, Any]:
    project = {**PROJECT_DEFAULTS, "project_name": cms.config.get("PROJECT_NAME", "Transom")}
    if cms.schema.get("directus_settings") is None:
        return project
    with cms.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM directus_settings ORDER BY id")).first()
    if row is not None:
        data = dict(row._mapping)
        for key in project:
            if key in data and data[key] is not None:
                project[key] = data[key]
        for key in ("public_registration", "public_registration_verify_email"):
            project[key] = bool(project[key])
    return project


#: The Directus release whose API Transom speaks: clients (the SDK, the app, extensions'
#: ``host`` ranges) check ``version`` is a Directus 11 semver, so Transom's own goes apart.
DIRECTUS_VERSION = "11.17.4"


@bp.get("/server/info")
def info() -> Response:
    cms = current_cms()
    acc = get_accountability()
    data: dict[str, Any] = {"project": project_info(cms), "setupCompleted": True}
    if not acc.is_anonymous:
        rate_limit, rate_limit_global = server_info_limits(cms)
        limit_default, limit_max = limit_settings(cms.config)
        data.update(
            rateLimit=rate_limit,
            rateLimitGlobal=rate_limit_global,
            extensions={"limit": None},
            queryLimit={"default": limit_default, "max": max(limit_max, -1)},
            websocket=False,
            uploads=None,
            version=DIRECTUS_VERSION,
            transom_version=__version__,
        )
    return json_response({"data": data})


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp


def _pool_gauge(cms: Any, method: str) -> Any:
    """A reading of the engine's pool, looked up at check time (the engine may change)."""
    return getattr(cms.engine.pool, method)()


def storage_checks(cms: Any) -> list[HealthCheck]:
    """``storage:<location>:responseTime`` for every location on the local driver.

    Read from the raw settings (``STORAGE_LOCATIONS``, ``STORAGE_<LOC>_DRIVER``,
    ``STORAGE_<LOC>_ROOT``) without declaring them: they belong to the files plugin, which
    may check its locations itself; these checks are then dropped (``fallback``).
    """
    checks = []
    for location in parse_csv(cms.config.get("STORAGE_LOCATIONS") or "local"):
        key = location.upper()
        default_driver = "local" if location == "local" else ""
        driver = str(cms.config.get(f"STORAGE_{key}_DRIVER") or default_driver).lower()
        root = cms.config.get(f"STORAGE_{key}_ROOT") or (
            "./uploads" if location == "local" else None)
        if driver != "local" or not root:
            continue
        threshold = float(cms.config.get(f"STORAGE_{key}_HEALTHCHECK_THRESHOLD") or 750)
        checks.append(HealthCheck(
            f"storage:{location}:responseTime",
            lambda root=str(root): check_local_folder(root),
            "objectstore", required=False, threshold_ms=threshold, fallback=True,
        ))
    return checks


@hookimpl
def register_health_checks(cms: Any) -> Any:
    vendor = cms.dialect.vendor or cms.dialect.name
    threshold = float(cms.config.get("DB_HEALTHCHECK_THRESHOLD", 150))
    checks = [HealthCheck(f"{vendor}:responseTime", cms.ping_database, "datastore", True,
                          threshold)]
    pool = cms.engine.pool
    if callable(getattr(pool, "checkedin", None)) and callable(getattr(pool, "checkedout",
                                                                           None)):
        # Directus's knex pool gauges: idle connections, and connections in use.
        checks += [
            HealthCheck(f"{vendor}:connectionsAvailable",
                        lambda: _pool_gauge(cms, "checkedin"), "datastore", required=False,
                        measure="value"),
            HealthCheck(f"{vendor}:connectionsUsed",
                        lambda: _pool_gauge(cms, "checkedout"), "datastore", required=False,
                        measure="value"),
        ]
    return checks + storage_checks(cms)
