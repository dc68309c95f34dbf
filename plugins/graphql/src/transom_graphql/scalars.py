"""Custom scalars with Directus's names, so generated client code keeps working unchanged.

Values reach the resolvers already in their JSON form (ItemsService converts them), so the
output side mostly passes values through; the input side accepts the literal kinds Directus
accepts.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from typing import Any

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


def _untyped(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    return value_from_ast_untyped(node, variables)


GraphQLJSON = GraphQLScalarType(
    name="JSON",
    description="Any JSON value (objects, arrays, strings, numbers, booleans, null).",
    serialize=_json_out,
    parse_value=lambda v: v,
    parse_literal=_untyped,
)

GraphQLGeoJSON = GraphQLScalarType(
    name="GeoJSON",
    description="A GeoJSON geometry object.",
    serialize=_json_out,
    parse_value=lambda v: v,
    parse_literal=_untyped,
)


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


GraphQLDate = GraphQLScalarType(
    name="Date",
    description="A date, date-time or time as an ISO 8601 string.",
    serialize=_date_out,
    parse_value=_string_value("Date"),
    parse_literal=_string_literal("Date"),
)

GraphQLHash = GraphQLScalarType(
    name="Hash",
    description="A hashed value (write the plain value; reads are concealed).",
    serialize=lambda v: None if v is None else str(v),
    parse_value=_string_value("Hash"),
    parse_literal=_string_literal("Hash"),
)


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


GraphQLBigInt = GraphQLScalarType(
    name="BigInt",
    description="A 64-bit integer, sent as a string.",
    serialize=_bigint_out,
    parse_value=_bigint_in,
    parse_literal=_bigint_literal,
)


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


GraphQLStringOrFloat = GraphQLScalarType(
    name="StringOrFloat",
    description="A number, or a string such as a dynamic variable ($NOW, $CURRENT_USER).",
    serialize=lambda v: v,
    parse_value=_string_or_float_in,
    parse_literal=_string_or_float_literal,
)

CUSTOM_SCALARS = (GraphQLJSON, GraphQLGeoJSON, GraphQLDate, GraphQLHash, GraphQLBigInt,
                  GraphQLStringOrFloat)
