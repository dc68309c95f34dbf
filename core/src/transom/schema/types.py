"""Directus's field types: storage, allowed filter operators and wire form of values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from ..errors import StartupError

#: Directus 11 ``TYPES`` (the storable ones).
TYPES: tuple[str, ...] = (
    "bigInteger",
    "boolean",
    "date",
    "dateTime",
    "decimal",
    "float",
    "integer",
    "json",
    "string",
    "text",
    "time",
    "timestamp",
    "binary",
    "uuid",
    "hash",
    "csv",
    "geometry",
    "unknown",
)
ALIAS_TYPES: tuple[str, ...] = ("alias", "o2m", "m2m", "m2a", "o2a", "files", "translations")
NUMERIC_TYPES = frozenset({"integer", "bigInteger", "float", "decimal"})
DATE_TYPES = frozenset({"date", "dateTime", "timestamp", "time"})
STRING_TYPES = frozenset({"string", "text", "csv", "hash", "uuid"})

_STRING_OPS = (
    "_contains _ncontains _icontains _nicontains _starts_with _nstarts_with _istarts_with "
    "_nistarts_with _ends_with _nends_with _iends_with _niends_with _eq _neq _ieq _nieq "
    "_empty _nempty _null _nnull _in _nin"
).split()
_ORDERED_OPS = "_eq _neq _lt _lte _gt _gte _between _nbetween _null _nnull _in _nin".split()

#: Filter operators each type accepts (Directus's ``getFilterOperatorsForType``).
OPERATORS_BY_TYPE: dict[str, frozenset[str]] = {
    **{t: frozenset(_STRING_OPS) for t in ("string", "text", "csv", "binary", "unknown")},
    "uuid": frozenset("_eq _neq _null _nnull _in _nin".split()),
    "json": frozenset("_null _nnull _json _empty _nempty".split()),
    "boolean": frozenset("_eq _neq _null _nnull".split()),
    **{t: frozenset(_ORDERED_OPS) for t in (*NUMERIC_TYPES, *DATE_TYPES)},
    "geometry": frozenset(
        "_eq _neq _null _nnull _intersects _nintersects _intersects_bbox _nintersects_bbox".split()
    ),
    "hash": frozenset("_empty _nempty _null _nnull".split()),
    "alias": frozenset(),
}
CONCEALED_OPERATORS = OPERATORS_BY_TYPE["hash"]
ALL_OPERATORS = frozenset().union(*OPERATORS_BY_TYPE.values()) | {"_some", "_none", "_regex"}


def operators_for(type_: str, special: tuple[str, ...] = ()) -> frozenset[str]:
    """Operators a field of this type (and ``special`` flags) accepts in a query filter."""
    if "conceal" in special or type_ == "hash":
        return CONCEALED_OPERATORS
    ops = OPERATORS_BY_TYPE.get(type_)
    if ops is None:
        ft = _REGISTRY.get(type_)
        ops = ft.operators if ft is not None else OPERATORS_BY_TYPE["string"]
    return ops


class UuidString(sa.types.TypeDecorator[str]):
    """A uuid kept as its dashed text form: native ``uuid`` on PostgreSQL, ``char(36)``
    elsewhere, which is what Directus (knex) creates and writes."""

    impl = sa.CHAR(36)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            # here, not at import: it pulls every PostgreSQL driver module (~0.06 s) even
            # into an app on SQLite
            from sqlalchemy.dialects import postgresql

            return dialect.type_descriptor(postgresql.UUID(as_uuid=False))
        return dialect.type_descriptor(sa.CHAR(36))

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        # uuid.UUID objects are accepted too and stored in their canonical dashed form.
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    @property
    def python_type(self) -> type[str]:
        return str


def default_sa_type(
    type_: str,
    max_length: int | None = None,
    precision: int | None = None,
    scale: int | None = None,
) -> sa.types.TypeEngine[Any]:
    """A portable SQLAlchemy type for a Directus type (dialects may refine it)."""
    if type_ in ("string", "hash", "csv"):
        return sa.String(max_length or 255)
    if type_ == "text":
        return sa.Text()
    if type_ == "integer":
        return sa.Integer()
    if type_ == "bigInteger":
        return sa.BigInteger()
    if type_ == "float":
        return sa.Float()
    if type_ == "decimal":
        return sa.Numeric(precision or 10, 5 if scale is None else scale)
    if type_ == "boolean":
        return sa.Boolean()
    if type_ == "date":
        return sa.Date()
    if type_ == "dateTime":
        return sa.DateTime(timezone=False)
    if type_ == "timestamp":
        return sa.DateTime(timezone=True)
    if type_ == "time":
        return sa.Time()
    if type_ == "json":
        return sa.JSON()
    if type_ == "uuid":
        return UuidString()
    if type_ == "binary":
        return sa.LargeBinary()
    return sa.Text()


@dataclass(frozen=True)
class FieldType:
    """A field type, contributed through the ``register_field_types`` hook.

    Core's own types are registered the same way (``transom.default_plugins.field_types``)
    but keep their precomputed converters: the registry is consulted only for names core
    does not know, so it costs nothing on the read path.

    :param name: the type name used in ``directus_fields`` and the API (``"color"``).
    :param column: ``(dialect_name) -> TypeEngine`` of the column that stores it
        (default ``varchar(255)``).
    :param to_db: JSON value -> stored value; raising :class:`ValueError` (its message is
        shown) makes a Directus 400 ``FAILED_VALIDATION``. Also used on filter operands.
    :param from_db: stored value -> JSON value (None: as stored).
    :param operators: filter operators it accepts; others are a 400 ``INVALID_QUERY``.
    :param graphql_scalar: the GraphQL scalar's name: one of the plugin's (``String``,
        ``JSON``, ``Int``, ``Float``, ``Boolean``, ``Date``...) or a new name, made as a
        scalar sent and read as a string.
    :param openapi: the JSON schema of a value in ``/server/specs/oas``.
    :param interface: ``meta.interface`` of a field created without one.
    :param special: the ``special`` flag that records the type in ``directus_fields``
        (default: the name), since the column alone does not tell it.
    """

    name: str
    column: Callable[[str], Any] | None = None
    to_db: Callable[[Any], Any] | None = None
    from_db: Callable[[Any], Any] | None = None
    operators: frozenset[str] = field(default_factory=lambda: OPERATORS_BY_TYPE["string"])
    graphql_scalar: Any = "String"
    openapi: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    interface: str | None = None
    special: str | None = None

    def column_type(self, dialect_name: str) -> sa.types.TypeEngine[Any]:
        return self.column(dialect_name) if self.column is not None else sa.String(255)

    @property
    def special_flag(self) -> str:
        return self.special or self.name


#: Every registered field type by name (core's and plugins'), filled at app start-up from
#: ``register_field_types``; process-wide, as the converters of the compiler are.
_REGISTRY: dict[str, FieldType] = {}
_BY_SPECIAL: dict[str, FieldType] = {}


def register_field_type(ft: FieldType) -> None:
    """Add (or replace) a field type in the registry. Core names keep core's behaviour."""
    if not isinstance(ft, FieldType) or not ft.name:
        raise TypeError(f"not a FieldType: {ft!r}")
    _REGISTRY[ft.name] = ft
    if ft.name not in TYPES and ft.name not in ALIAS_TYPES:
        _BY_SPECIAL[ft.special_flag] = ft


def field_type(name: str | None) -> FieldType | None:
    """The registered field type called ``name``, or None."""
    return _REGISTRY.get(name) if name else None


def plugin_field_type(name: str | None) -> FieldType | None:
    """A registered type that is not one of core's (those keep their built-in handling)."""
    if not name or name in TYPES or name in ALIAS_TYPES:
        return None
    return _REGISTRY.get(name)


def type_for_special(flag: str) -> str | None:
    """The plugin type recorded by a ``special`` flag, if any."""
    ft = _BY_SPECIAL.get(flag)
    return ft.name if ft is not None else None


def collect_field_types(results: list[Any]) -> dict[str, FieldType]:
    """Check and register what ``register_field_types`` returned (one app's types).

    Two plugins giving one name, or a plugin redefining a core type, is a start-up error.
    """
    out: dict[str, FieldType] = {}
    for ft in results:
        if not isinstance(ft, FieldType):
            raise StartupError(f"register_field_types returned {ft!r}, not a FieldType")
        known = out.get(ft.name)
        if known is not None and known != ft:
            raise StartupError(f"Two plugins register the field type {ft.name!r}")
        core = _REGISTRY.get(ft.name)
        if (ft.name in TYPES or ft.name in ALIAS_TYPES) and core is not None and core != ft:
            raise StartupError(f"The core field type {ft.name!r} cannot be redefined")
        out[ft.name] = ft
    for ft in out.values():
        register_field_type(ft)
    return out


def field_types() -> dict[str, FieldType]:
    """A copy of the registry."""
    return dict(_REGISTRY)
