"""Response cache for Transom, Directus-style, on Redis or in memory.

Caches the JSON answers of GET requests (items, system collections, server info...) keyed by
path, query, permission set and schema version; purges on writes with ``CACHE_AUTO_PURGE``
through a generation counter shared by every instance; keeps serving (uncached) when Redis
goes away. See README.md for the settings and the keying rules.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from transom.api import Filter, HealthCheck, Listener, hookimpl

from .cache import ENVIRON_RESULT, EXTENSION_KEY, ResponseCache
from .settings import SETTINGS, CacheSettings

__all__ = ["ENVIRON_RESULT", "EXTENSION_KEY", "ResponseCache", "cache_enabled", "get_cache"]

_CHANGE_EVENTS = ("*.create", "*.update", "*.delete")


def get_cache(cms: Any) -> ResponseCache | None:
    """The app's cache, made on first use; None when ``CACHE_ENABLED`` is off."""
    def make() -> ResponseCache | None:
        settings = CacheSettings.from_config(cms.config)
        return ResponseCache(cms, settings) if settings.enabled else None

    return cms.state(EXTENSION_KEY, make)


def cache_enabled(cms: Any) -> bool:
    """Whether this app caches responses: the public question other plugins (metrics) ask,
    through ``cms.pm.get_plugin("cache_redis")`` so they need not depend on this package.
    Known once the kernel is built (from ``init_app`` on); it never makes the cache. What
    the cache did for one request is ``request.environ[ENVIRON_RESULT]``."""
    return cms.state(EXTENSION_KEY) is not None


@hookimpl
def register_settings() -> Any:
    return list(SETTINGS)


@hookimpl
def register_filters(cms: Any) -> Any:
    cache = get_cache(cms)
    if cache is None:
        return []
    return [Filter(event, cache.on_change_filter, priority=10_000) for event in _CHANGE_EVENTS]


@hookimpl
def register_listeners(cms: Any) -> Any:
    cache = get_cache(cms)
    if cache is None:
        return []
    return [*(Listener(event, cache.on_change) for event in _CHANGE_EVENTS),
            Listener("schema.changed", cache.on_schema_changed)]


@hookimpl
def init_app(cms: Any, app: Any) -> None:
    cache = get_cache(cms)
    if cache is not None:
        cache.install(app)


@hookimpl
def startup(cms: Any) -> None:
    cache = get_cache(cms)
    if cache is not None:
        cache.on_startup()


@hookimpl
def register_health_checks(cms: Any) -> Any:
    cache = get_cache(cms)
    if cache is None:
        return []
    return HealthCheck("cache:responseTime", cache.store.ping, "cache", required=False,
                       threshold_ms=150.0)


bp = Blueprint("transom_cache_redis", __name__)


@bp.post("/utils/cache/clear")
def clear_cache() -> Response:
    """Directus's ``POST /utils/cache/clear[?system]``: admins only; ``system`` also drops
    the resolved-access caches and re-reads the schema."""
    from flask import request

    from transom.api import ForbiddenError, current_cms, get_accountability

    if not get_accountability().admin:
        raise ForbiddenError()
    cms = current_cms()
    cache = get_cache(cms)
    if cache is not None:
        cache.rules.forget()
        cache.purge()
    if "system" in request.args:
        cms.access_changed()
        cms.schema_changed()
    return Response(status=200)


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp


@hookimpl
def shutdown(cms: Any) -> None:
    cache = cms.state(EXTENSION_KEY)
    if cache is not None:
        cache.close()
