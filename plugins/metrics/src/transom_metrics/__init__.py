"""Prometheus metrics for Transom: ``GET /metrics``, as Directus serves it.

Request counts and latency per route (the Flask URL rule, so ``/items/<collection>``, not
every raw path) and status, error counts by status class, database pool use, response-cache
hits and misses, schema version. Admins, or ``Authorization: Metrics <token>`` with a token
from ``METRICS_TOKENS``, may read it. With ``METRICS_ENABLED`` off (the default, as in
Directus) there is no ``/metrics`` route at all (404) and no request hook. See README.md.
"""

from __future__ import annotations

import hmac
import time
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request

from transom.api import Setting, hookimpl

if TYPE_CHECKING:  # prometheus-client (~0.03 s to import) loads only when metrics are on
    from .metrics import AppMetrics

__all__ = ["AppMetrics", "EXTENSION_KEY", "get_metrics"]

EXTENSION_KEY = "transom_metrics"
_START_KEY = "transom.metrics.start"
_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

SETTINGS = (
    Setting("METRICS_ENABLED", False, "bool", "Serve Prometheus metrics at /metrics."),
    Setting("METRICS_TOKENS", None, "csv", "Tokens accepted as 'Authorization: Metrics "
            "<token>' on /metrics (admins may always read it)."),
    Setting("METRICS_NAME_PREFIX", "transom_", "str", "Prefix of every metric name."),
)


def __getattr__(name: str) -> Any:
    """``AppMetrics`` stays importable from the package (PEP 562), imported on first use."""
    if name == "AppMetrics":
        from .metrics import AppMetrics

        return AppMetrics
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_metrics(cms: Any) -> AppMetrics | None:
    return cms.state(EXTENSION_KEY)


@hookimpl
def register_settings() -> Any:
    return list(SETTINGS)


class _StartClock:
    """WSGI middleware noting when a request arrived, before any ``before_request`` (the
    cache answers hits there and stops the chain)."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ[_START_KEY] = time.perf_counter()
        return self.wsgi_app(environ, start_response)


@hookimpl
def init_app(cms: Any, app: Any) -> None:
    if not cms.config.get("METRICS_ENABLED"):
        return
    from .metrics import CACHE_ENVIRON_KEY, AppMetrics

    metrics = cms.state(EXTENSION_KEY, lambda: AppMetrics(
        cms, str(cms.config.get("METRICS_NAME_PREFIX", "transom_"))))
    app.wsgi_app = _StartClock(app.wsgi_app)

    @app.after_request
    def _record(resp: Response) -> Response:
        try:
            rule = request.url_rule
            metrics.observe(request.method, rule.rule if rule is not None else "<unmatched>",
                            resp.status_code, request.environ.get(_START_KEY),
                            request.environ.get(CACHE_ENVIRON_KEY))
        except Exception:  # noqa: BLE001 - counting must never fail a request
            cms.log.debug("metrics: could not record a request", exc_info=True)
        return resp


bp = Blueprint("transom_metrics", __name__)


def _token_ok(header: str, tokens: list[str]) -> bool | None:
    """True/False for a ``Metrics <token>`` header, None for any other header."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "metrics":
        return None
    value = value.strip()
    return bool(value) and any(hmac.compare_digest(value.encode(), t.encode()) for t in tokens)


@bp.get("/metrics")
def metrics_endpoint() -> Response:
    from transom.api import ForbiddenError, current_cms, get_accountability

    cms = current_cms()
    metrics = get_metrics(cms)
    verdict = _token_ok(request.headers.get("Authorization", ""),
                        list(cms.config.get("METRICS_TOKENS") or ()))
    if verdict is None:
        verdict = get_accountability().admin
    if not verdict or metrics is None:
        raise ForbiddenError()
    resp = Response(metrics.render(), status=200, content_type=_CONTENT_TYPE)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp if cms.config.get("METRICS_ENABLED") else []
