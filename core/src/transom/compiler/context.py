"""The state one query compilation shares: schema, dialect, permissions, the caller."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import ForbiddenError

if TYPE_CHECKING:
    from ..accountability import Accountability
    from ..dialects import Dialect
    from ..permissions.rules import CollectionAccess, Permissions
    from ..schema.model import Collection, SchemaSnapshot


@dataclass
class CompileContext:
    """Everything the filter, field and sort compilers need, for one request."""

    schema: SchemaSnapshot
    dialect: Dialect
    permissions: Permissions
    accountability: Accountability | None
    config: Any
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    user_data: dict[str, Any] | None = None
    role_data: dict[str, Any] | None = None
    _aliases: itertools.count = field(default_factory=lambda: itertools.count(1))

    def collection(self, name: str) -> Collection:
        """The collection, or 403 as Directus answers for one that does not exist."""
        coll = self.schema.get(name)
        if coll is None or coll.table is None:
            raise ForbiddenError.collection(name)
        return coll

    def alias(self, coll: Collection) -> sa.FromClause:
        """An alias of the collection's table, unique within this compilation (subqueries
        must not collide). Aliases are reused across requests (they are immutable and
        cost a column-proxy build each), keyed by their number, in the table's ``info``."""
        assert coll.table is not None
        n = next(self._aliases)
        cache = coll.table.info.setdefault("transom_aliases", {})
        alias = cache.get(n)
        if alias is None:
            alias = cache[n] = coll.table.alias(f"t{n}")
        return alias

    def read_access(self, coll: Collection) -> CollectionAccess:
        return self.permissions.access(coll.collection, "read")

    def dynamic_context(self) -> dict[str, Any]:
        acc = self.accountability
        return {
            "user": acc.user if acc else None,
            "role": acc.role if acc else None,
            "roles": list(acc.roles) if acc else [],
            "policies": list(acc.policies) if acc else [],
            "user_data": self.user_data,
            "role_data": self.role_data,
            "now": self.now,
        }
