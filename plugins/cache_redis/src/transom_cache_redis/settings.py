"""Settings of the response cache, with Directus's variable names where it has them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from transom.api import Setting

SETTINGS: tuple[Setting, ...] = (
    Setting("CACHE_ENABLED", False, "bool", "Cache GET responses of item and system reads."),
    Setting("CACHE_STORE", "memory", "str", "Where cached responses live: memory (per "
            "process) or redis (shared by every worker and instance).",
            choices=("memory", "redis")),
    Setting("CACHE_REDIS", None, "str", "Redis URL of the cache store (redis://host:6379/0)."),
    Setting("CACHE_REDIS_HOST", None, "str", "Redis host, when CACHE_REDIS is not set."),
    Setting("CACHE_REDIS_PORT", 6379, "int", "Redis port, when CACHE_REDIS is not set."),
    Setting("CACHE_REDIS_DB", 0, "int", "Redis database number, when CACHE_REDIS is not set."),
    Setting("CACHE_REDIS_PASSWORD", None, "str", "Redis password, when CACHE_REDIS is not set."),
    Setting("CACHE_REDIS_TIMEOUT", 200, "duration", "Socket timeout of cache calls to Redis; "
            "a slower Redis is treated as down and requests go uncached."),
    Setting("CACHE_TTL", "5m", "duration", "How long a cached response is served."),
    Setting("CACHE_AUTO_PURGE", False, "bool", "Clear the cache whenever an item changes."),
    Setting("CACHE_AUTO_PURGE_IGNORE_LIST", "directus_activity,directus_presets", "csv",
            "Collections whose changes never purge the cache."),
    Setting("CACHE_NAMESPACE", "transom", "str", "Prefix of every cache key in Redis."),
    Setting("CACHE_SCHEMA", True, "bool", "Share schema changes between instances through "
            "the Redis cache store (an instance re-reads its schema when another changed it)."),
    Setting("CACHE_STATUS_HEADER", None, "str", "Response header telling HIT or MISS "
            "(e.g. X-Cache); unset: none."),
    Setting("CACHE_SKIP_ALLOWED", False, "bool", "Let 'Cache-Control: no-store' requests "
            "bypass the cache."),
    Setting("CACHE_VALUE_MAX_SIZE", "false", "str", "Largest response body cached (bytes or "
            "10kb, 1mb); false: no limit."),
    Setting("CACHE_CONTROL_S_MAXAGE", None, "int", "Add s-maxage to Cache-Control of cached "
            "responses, for shared proxies."),
)

#: Entries kept by the per-process memory store before it starts evicting.
MEMORY_MAX_ENTRIES = 2000


def parse_size(value: Any) -> int | None:
    """``CACHE_VALUE_MAX_SIZE``: bytes, ``10kb``/``1mb``/``1gb``, or false/empty for no limit."""
    text = str(value if value is not None else "").strip().lower()
    if text in ("", "false", "0", "-1", "infinity", "none"):
        return None
    for unit, factor in (("kb", 1024), ("mb", 1024**2), ("gb", 1024**3), ("b", 1)):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


@dataclass(frozen=True)
class CacheSettings:
    """The parsed settings, read once per app so that requests never re-parse them."""

    enabled: bool
    store: str
    redis_url: str | None
    redis_timeout_s: float
    ttl_ms: int
    auto_purge: bool
    ignore: frozenset[str]
    namespace: str
    share_schema: bool
    status_header: str | None
    skip_allowed: bool
    max_size: int | None
    s_maxage: int | None

    @classmethod
    def from_config(cls, config: Any) -> CacheSettings:
        return cls(
            enabled=bool(config.get("CACHE_ENABLED")),
            store=str(config.get("CACHE_STORE", "memory")),
            redis_url=redis_url(config),
            redis_timeout_s=max(float(config.get("CACHE_REDIS_TIMEOUT", 200)), 1.0) / 1000.0,
            ttl_ms=int(config.get("CACHE_TTL", 300_000)),
            auto_purge=bool(config.get("CACHE_AUTO_PURGE")),
            ignore=frozenset(config.get("CACHE_AUTO_PURGE_IGNORE_LIST") or ()),
            namespace=str(config.get("CACHE_NAMESPACE", "transom")),
            share_schema=bool(config.get("CACHE_SCHEMA", True)),
            status_header=config.get("CACHE_STATUS_HEADER") or None,
            skip_allowed=bool(config.get("CACHE_SKIP_ALLOWED")),
            max_size=parse_size(config.get("CACHE_VALUE_MAX_SIZE")),
            s_maxage=config.get("CACHE_CONTROL_S_MAXAGE"),
        )


def redis_url(config: Any) -> str | None:
    """``CACHE_REDIS``, else one built from ``CACHE_REDIS_HOST``/``_PORT``/``_DB``, else
    Directus's shared ``REDIS`` variable."""
    url = config.get("CACHE_REDIS")
    if url:
        return str(url)
    host = config.get("CACHE_REDIS_HOST")
    if host:
        password = config.get("CACHE_REDIS_PASSWORD")
        auth = f":{quote(str(password), safe='')}@" if password else ""
        port = config.get("CACHE_REDIS_PORT", 6379)
        return f"redis://{auth}{host}:{port}/{config.get('CACHE_REDIS_DB', 0)}"
    shared = config.get("REDIS")
    return str(shared) if shared else None
