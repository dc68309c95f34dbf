"""Per-app state: the bounded cache of generated schemas.

A schema depends only on what a caller may do, not on who the caller is, so it is keyed by
the scope, ``Accountability.permission_key()`` (admin, or the sorted policy ids), the schema
snapshot's version and a digest of the permission rules in effect (so that editing a
permission takes effect without a restart). Users sharing policies share one schema object;
the least recently used schemas are dropped beyond ``GRAPHQL_SCHEMA_CACHE_CAPACITY``, so
memory stays flat however many users there are.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from graphql import GraphQLSchema

from .builder import build_schema
from .execute import DocumentCache

if TYPE_CHECKING:
    from transom.api import Accountability, Transom

STATE_KEY = "transom_graphql"


class SchemaCache:
    """A thread-safe LRU of GraphQL schemas."""

    def __init__(self, capacity: int = 100) -> None:
        self.capacity = max(int(capacity), 1)
        self._items: OrderedDict[tuple[Any, ...], GraphQLSchema] = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: tuple[Any, ...]) -> GraphQLSchema | None:
        with self._lock:
            schema = self._items.get(key)
            if schema is not None:
                self._items.move_to_end(key)
            return schema

    def put(self, key: tuple[Any, ...], schema: GraphQLSchema) -> GraphQLSchema:
        with self._lock:
            existing = self._items.get(key)
            if existing is not None:  # another thread built it first: share that one
                self._items.move_to_end(key)
                return existing
            self._items[key] = schema
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
            return schema

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class GraphQLState:
    """What the plugin keeps in ``cms.state("transom_graphql")``: the schemas, and the
    parsed and validated documents of the queries seen lately."""

    def __init__(self, capacity: int = 100, documents: int = 256) -> None:
        self.schemas = SchemaCache(capacity)
        self.documents = DocumentCache(documents)

    def schema_for(self, cms: Transom, accountability: Accountability,
                   scope: str) -> GraphQLSchema:
        snapshot = cms.schema
        permissions = cms.access.permissions(accountability)
        key = (scope, accountability.permission_key(), snapshot.version,
               _rules_digest(permissions, snapshot))
        schema = self.schemas.get(key)
        if schema is None:
            schema = build_schema(snapshot, permissions, scope)
            self.schemas.builds += 1
            schema = self.schemas.put(key, schema)
        return schema


def _rules_digest(permissions: Any, snapshot: Any) -> str:
    """A short digest of what the permission rules allow (empty for admins)."""
    if permissions.bypass:
        return ""
    summary = permissions.summary(snapshot)
    text = json.dumps(summary, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:16]


def get_state(app: Any) -> GraphQLState:
    """The app's state, created on first use when ``init_app`` did not run."""
    cms = app.extensions["transom"]
    return cms.state(STATE_KEY, lambda: GraphQLState(
        int(cms.config.get("GRAPHQL_SCHEMA_CACHE_CAPACITY", 100))))
