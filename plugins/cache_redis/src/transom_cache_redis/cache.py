"""The response cache of one app: request hooks, purging and the schema marker.

Flow of a GET: ``before_request`` works out the key and looks it up (one Redis round trip);
a hit is answered at once, with no database work; a miss remembers the generation it read,
and ``after_request`` stores a 200 JSON answer under it. Everything that can go wrong with
the store (Redis down, slow, full) makes the request go uncached, never fail.

Who purges: writes mark the request in a blocking filter (it runs inside the request, just
before the change), and ``after_request`` purges once the response is ready, after the
commit, so the writer's next read is already fresh. Writes made outside a request (CLI,
schedules) are purged by an after-commit listener.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import orjson
from flask import Flask, Response, g, has_request_context, request

from transom.api import get_accountability

from .keys import IdentityRules, cacheable_path, digest, stable_query
from .settings import MEMORY_MAX_ENTRIES, CacheSettings
from .stores import Lookup, MemoryStore, RedisStore, Store, StoreUnavailable

log = logging.getLogger("transom.cache")

EXTENSION_KEY = "transom_cache_redis"

#: ``request.environ`` key telling other plugins (metrics) what the cache did: ``hit``,
#: ``miss`` (looked up, not found) or ``bypass`` (cacheable, but the store was unavailable
#: or the client asked to skip it). Absent when the request was not cacheable.
ENVIRON_RESULT = "transom.cache"

#: System collections whose changes always purge: they change what a permission set sees.
ACCESS_COLLECTIONS = frozenset({"directus_permissions", "directus_policies", "directus_access",
                                "directus_roles"})

#: messenger topic of a purge of the per-worker memory store
PURGE_TOPIC = "cache.purge"
#: Sent when a purge could not reach Redis: every worker then bumps the generation itself
#: before it serves from Redis again (its own breaker may never have seen the outage).
OWED_TOPIC = "cache.purge_owed"

_G_PENDING = "_transom_cache_pending"
_G_HIT = "_transom_cache_hit"
_G_DIRTY = "_transom_cache_dirty"


class ResponseCache:
    """One per app (``cms.state("transom_cache_redis")``)."""

    def __init__(self, cms: Any, settings: CacheSettings) -> None:
        self.cms = cms
        self.settings = settings
        self.rules = IdentityRules(cms)
        self.stats: dict[str, int] = {"hits": 0, "misses": 0, "stores": 0, "bypasses": 0,
                                      "purges": 0}
        self._stats_lock = threading.Lock()
        self._schema_lock = threading.Lock()
        self._schema_seen: str | None = None
        self.store: Store = self._make_store()
        self.subscribe()

    def _make_store(self) -> Store:
        s = self.settings
        if s.store == "redis":
            if not s.redis_url:
                from transom.api import StartupError

                raise StartupError("CACHE_STORE=redis needs CACHE_REDIS (a redis:// URL) or "
                                   "CACHE_REDIS_HOST.")
            return RedisStore(s.redis_url, s.namespace, s.redis_timeout_s)
        return MemoryStore(MEMORY_MAX_ENTRIES)

    def count(self, name: str) -> None:
        with self._stats_lock:
            self.stats[name] = self.stats.get(name, 0) + 1

    # -- purging -------------------------------------------------------------------------
    def purge(self) -> bool:
        """Hide every cached answer from every instance; False when the store is down (the
        purge is then owed and done before the store serves anything again). The memory
        store lives in each worker: the messenger carries the purge to the others."""
        if isinstance(self.store, MemoryStore):
            self.cms.messenger.publish(PURGE_TOPIC, {})
            return True
        if self._purge_store():
            return True
        self.cms.messenger.publish(OWED_TOPIC, {})
        return False

    def _purge_store(self) -> bool:
        try:
            self.store.purge()
        except StoreUnavailable:
            return False
        self.count("purges")
        return True

    def subscribe(self) -> None:
        """Purges and access changes made by other workers and instances."""
        messenger = self.cms.messenger
        if isinstance(self.store, MemoryStore):
            messenger.subscribe(PURGE_TOPIC, lambda _payload: self._purge_store())
        else:
            messenger.subscribe(OWED_TOPIC, lambda _payload: self.store.owe_purge())
        messenger.subscribe("access", lambda _payload: self.rules.forget())

    def purges_for(self, collection: str | None) -> bool:
        if collection in ACCESS_COLLECTIONS:
            return True
        return self.settings.auto_purge and collection not in self.settings.ignore

    def on_change_filter(self, payload: Any, meta: dict[str, Any], context: Any) -> None:
        """Blocking filter on every create/update/delete: only marks the request."""
        collection = meta.get("collection")
        if collection in ACCESS_COLLECTIONS:
            self.rules.forget()
        if has_request_context() and self.purges_for(collection):
            setattr(g, _G_DIRTY, True)
        return None

    def on_change(self, meta: dict[str, Any], context: Any) -> None:
        """After-commit listener: purges writes that no request will purge."""
        collection = meta.get("collection")
        if collection in ACCESS_COLLECTIONS:
            self.rules.forget()
        if not self.purges_for(collection):
            return
        if has_request_context() and g.get(_G_DIRTY):
            return  # after_request of this request purges
        self.purge()

    def on_schema_changed(self, meta: dict[str, Any], context: Any) -> None:
        """Old entries are unreachable here (the version is in the key) but not on the
        other instances: purge, and tell them the new version."""
        self.rules.forget()
        self.purge()
        version = meta.get("version")
        if self.settings.share_schema and version:
            self._schema_seen = str(version)
            try:
                self.store.publish_schema(str(version))
            except StoreUnavailable:
                pass

    def follow_schema(self, marker: str | None) -> None:
        """Re-read the schema when another instance published a version we haven't seen.

        Acts only when the marker *changes*, so two instances that disagree about a version
        cannot make each other refresh forever."""
        if not marker or marker == self._schema_seen:
            return
        with self._schema_lock:
            if marker == self._schema_seen:
                return
            self._schema_seen = marker
            if marker != self.cms.schema.version:
                log.info("cache: schema %s published by another instance; re-reading", marker)
                self.cms.refresh_schema()

    def on_startup(self) -> None:
        """This instance has just read the schema: the published version is not news."""
        if not self.settings.share_schema:
            return
        try:
            self._schema_seen = self.store.schema_marker()
        except StoreUnavailable:
            pass

    # -- request hooks -------------------------------------------------------------------
    def install(self, app: Flask) -> None:
        app.before_request(self.before_request)
        app.after_request(self.after_request)

    def _schema_check_only(self) -> None:
        if not (self.settings.share_schema and isinstance(self.store, RedisStore)):
            return
        try:
            self.follow_schema(self.store.schema_marker())
        except StoreUnavailable:
            pass

    def before_request(self) -> Response | None:
        if request.method != "GET" or not cacheable_path(request.path):
            self._schema_check_only()
            return None
        if "export" in request.args:
            return None
        if self.settings.skip_allowed and "no-store" in request.headers.get("Cache-Control", ""):
            request.environ[ENVIRON_RESULT] = "bypass"
            self.count("bypasses")
            return None
        try:
            acc = get_accountability()
        except Exception:  # noqa: BLE001 - a bad token: the view answers with the error
            return None
        raw_query = request.query_string.decode("latin-1")
        query = stable_query(list(request.args.items(multi=True)))
        try:
            identity = self.rules.identity(acc, request.path, raw_query)
        except Exception:  # noqa: BLE001 - when in doubt, don't cache
            log.debug("cache: cannot tell who is asking; not caching", exc_info=True)
            return None
        # answers may vary by language (the i18n plugin folds translations by header)
        lang = request.headers.get("Accept-Language", "")
        key = digest("GET", request.path, query, identity, self.cms.schema.version, lang)
        try:
            found = self.store.lookup(key)
        except StoreUnavailable:
            request.environ[ENVIRON_RESULT] = "bypass"
            self.count("bypasses")
            return None
        if self.settings.share_schema and found.schema:
            before = self.cms.schema.version
            self.follow_schema(found.schema)
            if self.cms.schema.version != before:  # the key was made with the old schema
                return None
        if found.value is not None:
            resp = self._from_value(found.value)
            if resp is not None:
                setattr(g, _G_HIT, True)
                request.environ[ENVIRON_RESULT] = "hit"
                self.count("hits")
                return resp
        setattr(g, _G_PENDING, (found, key, acc))
        request.environ[ENVIRON_RESULT] = "miss"
        self.count("misses")
        return None

    def after_request(self, resp: Response) -> Response:
        if g.get(_G_DIRTY) and resp.status_code < 400:
            self.purge()
        header = self.settings.status_header
        if g.get(_G_HIT):
            if header:
                resp.headers[header] = "HIT"
            return resp
        pending: tuple[Lookup, str, Any] | None = g.get(_G_PENDING)
        if pending is None:
            return resp
        found, key, acc = pending
        body = self._cacheable_body(resp)
        if body is None:
            return resp
        now_ms = int(time.time() * 1000)
        ttl = self.settings.ttl_ms
        value = self._to_value(resp, body, now_ms + ttl)
        try:
            self.store.store(found.generation, key, value, ttl)
        except StoreUnavailable:
            return resp
        self.count("stores")
        resp.headers["Cache-Control"] = self.cache_control(acc, ttl)
        if header:
            resp.headers[header] = "MISS"
        return resp

    # -- values --------------------------------------------------------------------------
    def _cacheable_body(self, resp: Response) -> bytes | None:
        if (resp.status_code != 200 or resp.mimetype != "application/json"
                or resp.is_streamed or resp.direct_passthrough or "Set-Cookie" in resp.headers):
            return None
        body = resp.get_data()
        if self.settings.max_size is not None and len(body) > self.settings.max_size:
            return None
        if request.path.startswith("/graphql"):
            try:  # GraphQL reports errors with a 200
                if "errors" in orjson.loads(body):
                    return None
            except (orjson.JSONDecodeError, TypeError):
                return None
        return body

    @staticmethod
    def _to_value(resp: Response, body: bytes, expires_ms: int) -> bytes:
        head = orjson.dumps({"ct": resp.headers.get("Content-Type"), "exp": expires_ms})
        return head + b"\n" + body

    def _from_value(self, value: bytes) -> Response | None:
        head, sep, body = value.partition(b"\n")
        if not sep:
            return None
        try:
            meta = orjson.loads(head)
        except orjson.JSONDecodeError:
            return None
        remaining = max(0, int(meta.get("exp", 0)) - int(time.time() * 1000))
        resp = Response(body, status=200, content_type=meta.get("ct") or "application/json")
        resp.headers["Cache-Control"] = self.cache_control(get_accountability(), remaining)
        return resp

    def cache_control(self, acc: Any, ttl_ms: int) -> str:
        """Directus's header for cacheable answers: ``no-cache`` when auto-purge may drop
        them any moment, else ``public`` (anonymous) or ``private`` with ``max-age``."""
        if self.settings.auto_purge:
            return "no-cache"
        if "no-cache" in request.headers.get("Cache-Control", ""):
            return "no-store"
        scope = "public" if acc is not None and acc.is_anonymous else "private"
        value = f"{scope}, max-age={round(ttl_ms / 1000)}"
        if self.settings.s_maxage is not None and self.settings.s_maxage >= 0:
            value += f", s-maxage={self.settings.s_maxage}"
        return value

    def close(self) -> None:
        self.store.close()
