"""Custom scalars with Directus's names, so generated client code keeps working unchanged.

Values reach the resolvers already in their JSON form (ItemsService converts them), so the
output side mostly passes values through; the input side accepts the literal kinds Directus
accepts.

The scalars are graphene ``Scalar`` classes (``JSON``, ``GeoJSON``, ``Date``, ``Hash``,
``BigInt``, ``StringOrFloat``); graphene's type map turns each into the graphql-core scalar
the builder puts in every schema (``GraphQLJSON``... below, made once per process).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from typing import Any

import graphene
from graphene.types.schema import TypeMap
from graphql import (
    FloatValueNode,
    GraphQLError,
    GraphQLScalarType,
    IntValueNode,
    StringValueNode,
    ValueNode,
    value_from_ast_untyped,
)


def _json_out(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value


def _identity(value: Any) -> Any:
    return value


def _hash_out(value: Any) -> str | None:
    return None if value is None else str(value)


def _untyped(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    return value_from_ast_untyped(node, variables)


class JSON(graphene.Scalar):
    class Meta:
        name = "JSON"
        description = "Any JSON value (objects, arrays, strings, numbers, booleans, null)."

    serialize = staticmethod(_json_out)
    parse_value = staticmethod(_identity)
    parse_literal = staticmethod(_untyped)


class GeoJSON(graphene.Scalar):
    class Meta:
        name = "GeoJSON"
        description = "A GeoJSON geometry object."

    serialize = staticmethod(_json_out)
    parse_value = staticmethod(_identity)
    parse_literal = staticmethod(_untyped)


def _date_out(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _string_literal(name: str) -> Callable[..., str]:
    def parse(node: ValueNode, _variables: dict[str, Any] | None = None) -> str:
        if isinstance(node, StringValueNode):
            return node.value
        raise GraphQLError(f"{name} cannot represent a non-string value.", node)

    return parse


def _string_value(name: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if isinstance(value, str):
            return value
        raise GraphQLError(f"{name} cannot represent a non-string value: {value!r}")

    return parse


class Date(graphene.Scalar):
    class Meta:
        name = "Date"
        description = "A date, date-time or time as an ISO 8601 string."

    serialize = staticmethod(_date_out)
    parse_value = staticmethod(_string_value("Date"))
    parse_literal = staticmethod(_string_literal("Date"))


class Hash(graphene.Scalar):
    class Meta:
        name = "Hash"
        description = "A hashed value (write the plain value; reads are concealed)."

    serialize = staticmethod(_hash_out)
    parse_value = staticmethod(_string_value("Hash"))
    parse_literal = staticmethod(_string_literal("Hash"))


def _bigint_out(value: Any) -> str:
    # Sent as a string so JavaScript clients keep every digit, as Directus does.
    if isinstance(value, bool):
        raise GraphQLError(f"BigInt cannot represent {value!r}")
    try:
        return str(int(value))
    except (TypeError, ValueError):
        raise GraphQLError(f"BigInt cannot represent {value!r}") from None


def _bigint_in(value: Any) -> int:
    if isinstance(value, bool):
        raise GraphQLError(f"BigInt cannot represent {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise GraphQLError(f"BigInt cannot represent {value!r}")


def _bigint_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> int:
    if isinstance(node, IntValueNode | StringValueNode):
        return _bigint_in(node.value)
    raise GraphQLError("BigInt cannot represent a non-integer value.", node)


class BigInt(graphene.Scalar):
    class Meta:
        name = "BigInt"
        description = "A 64-bit integer, sent as a string."

    serialize = staticmethod(_bigint_out)
    parse_value = staticmethod(_bigint_in)
    parse_literal = staticmethod(_bigint_literal)


def _string_or_float_in(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise GraphQLError(f"StringOrFloat cannot represent {value!r}")
    return value


def _string_or_float_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> Any:
    if isinstance(node, StringValueNode):
        return node.value
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, FloatValueNode):
        return float(node.value)
    raise GraphQLError("StringOrFloat cannot represent this value.", node)


class StringOrFloat(graphene.Scalar):
    class Meta:
        name = "StringOrFloat"
        description = "A number, or a string such as a dynamic variable ($NOW, $CURRENT_USER)."

    serialize = staticmethod(_identity)
    parse_value = staticmethod(_string_or_float_in)
    parse_literal = staticmethod(_string_or_float_literal)


def to_core(*types: type[graphene.Scalar]) -> tuple[GraphQLScalarType, ...]:
    """The graphql-core scalars graphene makes of ``types`` (``GrapheneScalarType``)."""
    type_map = TypeMap(types=list(types), auto_camelcase=False)
    return tuple(type_map[t._meta.name] for t in types)


GraphQLJSON, GraphQLGeoJSON, GraphQLDate, GraphQLHash, GraphQLBigInt, GraphQLStringOrFloat = \
    to_core(JSON, GeoJSON, Date, Hash, BigInt, StringOrFloat)

CUSTOM_SCALARS = (GraphQLJSON, GraphQLGeoJSON, GraphQLDate, GraphQLHash, GraphQLBigInt,
                  GraphQLStringOrFloat)


#: Scalars of plugins' field types (``FieldType.graphql_scalar``), made once per name as
#: string scalars: {name: (graphene type, graphql-core type)}.
PLUGIN_SCALARS: dict[str, tuple[type[graphene.Scalar], GraphQLScalarType]] = {}


def plugin_scalar(name: str) -> tuple[type[graphene.Scalar], GraphQLScalarType]:
    """The string scalar called ``name`` for a plugin's field type (made on first use)."""
    found = PLUGIN_SCALARS.get(name)
    if found is None:
        meta = type("Meta", (), {"name": name,
                                 "description": f"A {name} value, sent as a string."})
        gtype = type(name, (graphene.Scalar,), {
            "Meta": meta,
            "serialize": staticmethod(_identity),
            "parse_value": staticmethod(_string_value(name)),
            "parse_literal": staticmethod(_string_literal(name)),
        })
        found = PLUGIN_SCALARS[name] = (gtype, to_core(gtype)[0])
    return found
