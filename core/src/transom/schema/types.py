"""Directus's field types: storage, allowed filter operators and wire form of values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

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
    return OPERATORS_BY_TYPE.get(type_, OPERATORS_BY_TYPE["string"])


class UuidString(sa.types.TypeDecorator[str]):
    """A uuid kept as its dashed text form: native ``uuid`` on PostgreSQL, ``char(36)``
    elsewhere, which is what Directus (knex) creates and writes."""

    impl = sa.CHAR(36)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
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
    """A field type contributed by a plugin through ``register_field_types``.

    :param name: the type name used in ``directus_fields`` and the API.
    :param sa_type: factory ``(max_length, precision, scale) -> TypeEngine``.
    :param operators: filter operators it accepts.
    :param from_db: converts a database value to its JSON form.
    :param to_db: converts a JSON value to what the driver stores.
    """

    name: str
    sa_type: Any
    operators: frozenset[str] = field(default_factory=lambda: OPERATORS_BY_TYPE["string"])
    from_db: Any = None
    to_db: Any = None
