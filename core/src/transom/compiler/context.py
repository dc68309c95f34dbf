"""The state one query compilation shares: schema, dialect, permissions, the caller."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa

from ..errors import ForbiddenError
from ..query.filters import dynamic_paths

if TYPE_CHECKING:
    from ..accountability import Accountability
    from ..dialects import Dialect
    from ..events import EventBus
    from ..permissions.rules import CollectionAccess, Permissions
    from ..schema.model import Collection, Field, SchemaSnapshot


class CompileHost(Protocol):
    """What the compiler needs of the kernel (``cms``): config, dialect and the event bus.

    The compiler sits below the kernel; it takes this instead of importing ``Transom``, and
    hands the object on to event contexts (hooks receive it as ``cms``)."""

    config: Any
    dialect: Dialect
    events: EventBus

    def event_names(self, collection: str, action: str) -> list[str]: ...


#: ``load(kind, paths)``: the current user's (``kind="user"``) or role's (``"role"``) row
#: with the given (possibly nested, dotted) fields, for ``$CURRENT_USER.<path>`` /
#: ``$CURRENT_ROLE.<path>``; None when there is no such user or role.
DynamicLoader = Callable[[str, set[str]], "dict[str, Any] | None"]


def dynamic_values(accountability: Accountability | None, load: DynamicLoader | None,
                   obj: Any, now: dt.datetime | None = None,
                   user_data: dict[str, Any] | None = None,
                   role_data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The context :func:`~transom.query.filters.resolve_dynamic` reads for ``obj`` (a
    filter, preset or validation rule): the caller's ids, and the user's and role's rows
    fetched (through ``load``) for the deep variables ``obj`` uses."""
    acc = accountability
    if load is not None and acc is not None:
        paths = dynamic_paths(obj)
        if paths["user"] and acc.user is not None:
            user_data = load("user", paths["user"])
        if paths["role"] and acc.role is not None:
            role_data = load("role", paths["role"])
    return {
        "user": acc.user if acc else None,
        "role": acc.role if acc else None,
        "roles": list(acc.roles) if acc else [],
        "policies": list(acc.policies) if acc else [],
        "user_data": user_data,
        "role_data": role_data,
        "now": now,
    }


def require_field(access: CollectionAccess, coll: Collection, name: str,
                  path: str = "root") -> Field:
    """The field ``name`` of ``coll`` if it exists and ``access`` lets the caller use it,
    else the 403 Directus answers for a missing or forbidden field."""
    f = coll.fields.get(name)
    if f is None or not access.field_allowed(name):
        raise ForbiddenError.field(name, coll.collection, path)
    return f


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
    #: fetches the user's/role's rows for ``$CURRENT_USER.<path>`` (see DynamicLoader)
    load_dynamic: DynamicLoader | None = None
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

    def dynamic_context(self, obj: Any = None) -> dict[str, Any]:
        """The values of the dynamic variables ``obj`` uses (user and role rows loaded on
        demand, once per request: the loader caches them on the accountability)."""
        ctx = dynamic_values(self.accountability, self.load_dynamic, obj, self.now,
                             self.user_data, self.role_data)
        self.user_data, self.role_data = ctx["user_data"], ctx["role_data"]
        return ctx
