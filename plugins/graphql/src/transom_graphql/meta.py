"""What each generated schema element stands for.

The builder stores these in the ``extensions`` of GraphQL fields and input fields, so the
planner and the filter translator read the schema they were given instead of re-deriving
names (type names differ from collection names in the system scope, fields may be aliased).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Key of our metadata in ``extensions``.
EXT = "transom"
#: Key added to an m2a item so the union knows which object type it is.
TYPE_MARKER = "__transom_collection__"

DATE_FUNCTIONS = ("year", "month", "week", "day", "weekday")
TIME_FUNCTIONS = ("hour", "minute", "second")


@dataclass(frozen=True)
class FieldInfo:
    """A field of a read type.

    ``kind`` is ``column`` (a value), ``m2o`` (an object), ``list`` (o2m, m2m or m2a: a
    list of junction or related items), ``a2o`` (the ``item`` of an m2a junction: a union)
    or ``func`` (``<field>_func``: date parts or a count).
    """

    kind: str
    collection: str
    field: str
    related: str | None = None
    related_pk: str | None = None
    #: m2o: the related collection has no row rules for this caller, so asking only for its
    #: key can be answered from the foreign key column without reading the related table.
    key_shortcut: bool = False
    collection_field: str | None = None
    #: a2o: GraphQL type name -> collection
    members: dict[str, str] = field(default_factory=dict)
    #: a2o: collection -> its primary key
    member_pks: dict[str, str] = field(default_factory=dict)
    #: a2o: members without row rules for this caller (key-only selections need no read)
    member_shortcuts: frozenset[str] = frozenset()
    functions: tuple[str, ...] = ()


@dataclass(frozen=True)
class RootInfo:
    """A root query or mutation field: what it does and on which collection."""

    kind: str
    collection: str
    #: whether the caller may read the collection (mutations return Boolean otherwise)
    readable: bool = True


@dataclass(frozen=True)
class FilterInfo:
    """A field of a ``<type>_filter`` input.

    ``kind``: ``op`` (operators of a value), ``func`` (``<field>_func``), ``rel`` (m2o:
    a filter of the related type), ``quant`` (o2m-like: ``_some``/``_none`` allowed),
    ``a2o`` (``item__<collection>``).
    """

    kind: str
    field: str
    scope: str | None = None


def info_of(element: Any) -> Any:
    """Our metadata on a GraphQL field or input field, or None."""
    ext = getattr(element, "extensions", None) or {}
    return ext.get(EXT)
