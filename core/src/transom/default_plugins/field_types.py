"""Core's field types, contributed through ``register_field_types`` like a plugin's.

They describe what core already does (storage in :func:`transom.schema.types.default_sa_type`
and the dialects, converters in :mod:`transom.compiler.values`, operators in
:data:`transom.schema.types.OPERATORS_BY_TYPE`), so ``cms.field_types`` lists every type.
Core keeps its built-in, precomputed handling of these names: the registry is consulted only
for a plugin's types, so the read path costs the same as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import hookimpl
from ..compiler.values import IN, OUT
from ..schema.types import ALIAS_TYPES, TYPES, FieldType, default_sa_type, operators_for
from .openapi import _TYPES as OPENAPI_TYPES

_GRAPHQL_SCALARS = {
    "integer": "Int", "bigInteger": "BigInt", "float": "Float", "decimal": "Float",
    "boolean": "Boolean", "json": "JSON", "csv": "JSON", "date": "Date", "dateTime": "Date",
    "timestamp": "Date", "hash": "Hash", "geometry": "GeoJSON",
}


def _column(name: str) -> Callable[[str], Any]:
    def column(_dialect_name: str) -> Any:
        return default_sa_type(name)

    return column


def _core_type(name: str) -> FieldType:
    alias = name in ALIAS_TYPES
    return FieldType(
        name=name,
        column=None if alias else _column(name),
        to_db=IN.get(name),
        from_db=OUT.get(name),
        operators=frozenset() if alias else operators_for(name),
        graphql_scalar=_GRAPHQL_SCALARS.get(name, "String"),
        openapi=dict(OPENAPI_TYPES.get(name, {"type": "string"})),
    )


#: One object per core type, built once: the same objects for every app.
CORE_FIELD_TYPES: tuple[FieldType, ...] = tuple(_core_type(n) for n in (*TYPES, *ALIAS_TYPES))


@hookimpl
def register_field_types(cms: Any) -> Any:
    return list(CORE_FIELD_TYPES)
