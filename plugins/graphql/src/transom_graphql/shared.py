"""The types every generated schema holds whatever the caller may do, declared with graphene.

The filter operator inputs (``string_filter_operators``...), the function filter inputs and
output types (``date_functions``...), ``PageInfo``, ``delete_one``/``delete_many`` and the
static root fields (``server_ping``, ``_empty``) are graphene classes. :func:`shared_types`
runs a graphene ``TypeMap`` (one per schema, :func:`new_type_map`: a schema owns its types)
over them and hands the builder the graphql-core types graphene made, so the SDL is
graphene's rendering of these declarations. The builder also declares the mutation inputs
(``create_<c>_input``, ``update_<c>_input``) with :func:`input_object` in the same type map.
The other per-caller types (read types, ``<c>_filter``, unions) stay graphql-core: see
README.md, "Libraries".

Two adjustments keep answers and speed as they were:

- input objects use ``container = dict``: graphene's default container is an
  ``InputObjectTypeContainer`` that sets every declared field as an attribute on each
  parsed value; the filter translator wants a plain dict of what the caller wrote;
- the default resolvers graphene puts on object fields (``dict_or_attr_resolver``) are
  dropped after conversion: for dict values they answer what graphql-core's default
  resolver answers, and a field without a resolver takes the fast path of
  :mod:`.fastexec`.
"""

from __future__ import annotations

from typing import Any

import graphene
from graphene.types.schema import TypeMap
from graphql import GraphQLNamedType, GraphQLObjectType

from transom.api import field_types

from .meta import DATE_FUNCTIONS, TIME_FUNCTIONS
from .scalars import (
    CUSTOM_SCALARS,
    JSON,
    PLUGIN_SCALARS,
    BigInt,
    Date,
    GeoJSON,
    Hash,
    StringOrFloat,
    plugin_scalar,
)

_STRING_OPS = ("_contains", "_icontains", "_ncontains", "_nicontains", "_starts_with",
               "_istarts_with", "_nstarts_with", "_nistarts_with", "_ends_with",
               "_iends_with", "_nends_with", "_niends_with")
_ORDER_OPS = ("_lt", "_lte", "_gt", "_gte")


def input_object(name: str, fields: dict[str, Any]) -> type[graphene.InputObjectType]:
    """An input object ``name`` with ``fields`` (op -> graphene type), in that order."""
    attrs: dict[str, Any] = {op: graphene.InputField(t) for op, t in fields.items()}
    attrs["Meta"] = type("Meta", (), {"name": name, "container": dict})
    return type(name, (graphene.InputObjectType,), attrs)


def _object(name: str, fields: dict[str, Any],
            description: str | None = None) -> type[graphene.ObjectType]:
    attrs: dict[str, Any] = {f: graphene.Field(t) for f, t in fields.items()}
    attrs["Meta"] = type("Meta", (), {"name": name, "description": description})
    return type(name, (graphene.ObjectType,), attrs)


def _operators(name: str, value: Any, extra: dict[str, Any], ordered: bool = False,
               strings: bool = False) -> type[graphene.InputObjectType]:
    fields: dict[str, Any] = {"_eq": value, "_neq": value}
    if strings:
        fields.update(dict.fromkeys(_STRING_OPS, value))
    if ordered:
        fields.update(dict.fromkeys(_ORDER_OPS, value))
    fields.update(extra)
    return input_object(name, fields)


def _lists(t: Any, between: bool = False) -> dict[str, Any]:
    out = {"_in": graphene.List(t), "_nin": graphene.List(t)}
    if between:
        out["_between"] = graphene.List(t)
        out["_nbetween"] = graphene.List(t)
    return out


_FLAGS = {"_null": graphene.Boolean, "_nnull": graphene.Boolean}
_EMPTIES = {"_empty": graphene.Boolean, "_nempty": graphene.Boolean}
_BOTH = DATE_FUNCTIONS + TIME_FUNCTIONS

StringOperators = _operators("string_filter_operators", graphene.String,
                             {**_lists(graphene.String), **_FLAGS, **_EMPTIES}, strings=True)
NumberOperators = _operators("number_filter_operators", StringOrFloat,
                             {**_lists(StringOrFloat, True), **_FLAGS}, ordered=True)
BigIntOperators = _operators("big_int_filter_operators", BigInt,
                             {**_lists(BigInt, True), **_FLAGS}, ordered=True)
DateOperators = _operators("date_filter_operators", graphene.String,
                           {**_lists(graphene.String), "_between": graphene.List(StringOrFloat),
                            "_nbetween": graphene.List(StringOrFloat), **_FLAGS}, ordered=True)
BooleanOperators = _operators("boolean_filter_operators", graphene.Boolean, _FLAGS)
# ID operators: Directus's set, plus the ordering ones (integer keys compare).
IdOperators = _operators("id_filter_operators", graphene.ID,
                         {**_lists(graphene.ID, True), **_FLAGS, **_EMPTIES}, ordered=True,
                         strings=True)
HashOperators = input_object("hash_filter_operators", {**_FLAGS, **_EMPTIES})
GeometryOperators = _operators("geometry_filter_operators", GeoJSON, {
    "_intersects": GeoJSON, "_nintersects": GeoJSON, "_intersects_bbox": GeoJSON,
    "_nintersects_bbox": GeoJSON, **_FLAGS})

CountFunctionFilter = input_object("count_function_filter_operators", {"count": NumberOperators})
DateFunctionFilter = input_object("date_function_filter_operators",
                            dict.fromkeys(DATE_FUNCTIONS, NumberOperators))
TimeFunctionFilter = input_object("time_function_filter_operators",
                            dict.fromkeys(TIME_FUNCTIONS, NumberOperators))
DatetimeFunctionFilter = input_object("datetime_function_filter_operators",
                                dict.fromkeys(_BOTH, NumberOperators))

CountFunctions = _object("count_functions", {"count": graphene.Int})
DateFunctions = _object("date_functions", dict.fromkeys(DATE_FUNCTIONS, graphene.Int))
TimeFunctions = _object("time_functions", dict.fromkeys(TIME_FUNCTIONS, graphene.Int))
DatetimeFunctions = _object("datetime_functions", dict.fromkeys(_BOTH, graphene.Int))

PageInfo = _object("PageInfo", {
    "hasNextPage": graphene.NonNull(graphene.Boolean),
    "hasPreviousPage": graphene.NonNull(graphene.Boolean),
    "startCursor": graphene.String,
    "endCursor": graphene.String,
}, description="Relay page information (Transom extension).")
DeleteOne = _object("delete_one", {"id": graphene.NonNull(graphene.ID)})
DeleteMany = _object("delete_many", {"ids": graphene.NonNull(graphene.List(graphene.ID))})


def _pong(*_args: Any, **_kwargs: Any) -> str:
    return "pong"


def _nothing(*_args: Any, **_kwargs: Any) -> None:
    return None


class StaticRoots(graphene.ObjectType):
    """Root fields that do not depend on the snapshot; the builder copies them onto its
    ``Query`` (this type itself is never in a schema)."""

    class Meta:
        name = "StaticRoots"

    server_ping = graphene.Field(graphene.String, resolver=_pong)
    #: the only field of a ``Query`` for a caller who may read nothing
    _empty = graphene.Field(graphene.Boolean, resolver=_nothing)


SHARED = (StringOperators, NumberOperators, BigIntOperators, DateOperators, BooleanOperators,
          IdOperators, HashOperators, GeometryOperators, CountFunctionFilter,
          DateFunctionFilter, TimeFunctionFilter, DatetimeFunctionFilter, CountFunctions,
          DateFunctions, TimeFunctions, DatetimeFunctions, PageInfo, DeleteOne, DeleteMany)


#: graphene's type for each scalar the builder uses, by GraphQL name
GRAPHENE_SCALARS: dict[str, Any] = {
    "String": graphene.String, "Int": graphene.Int, "Float": graphene.Float,
    "Boolean": graphene.Boolean, "ID": graphene.ID, "JSON": JSON, "GeoJSON": GeoJSON,
    "Date": Date, "Hash": Hash, "BigInt": BigInt, "StringOrFloat": StringOrFloat}


def new_type_map() -> TypeMap:
    """A graphene type map for one schema. It starts with the process-wide scalars (the
    builder hands those out too), so graphene's ``BigInt`` is that one ``BigInt``."""
    type_map = TypeMap(auto_camelcase=False)
    type_map.update({scalar.name: scalar for scalar in CUSTOM_SCALARS})
    for ft in field_types().values():  # plugins' field types may bring scalars of their own
        name = ft.graphql_scalar
        if isinstance(name, str) and name not in GRAPHENE_SCALARS:  # core's are all there
            GRAPHENE_SCALARS.setdefault(name, plugin_scalar(name)[0])
        if isinstance(name, str) and name in PLUGIN_SCALARS:
            type_map[name] = PLUGIN_SCALARS[name][1]
    return type_map


def shared_types(type_map: TypeMap) -> dict[str, GraphQLNamedType]:
    """The graphql-core types graphene makes of :data:`SHARED` and :class:`StaticRoots` in
    ``type_map`` (one per schema), by GraphQL name."""
    out: dict[str, GraphQLNamedType] = {}
    for graphene_type in SHARED:
        gtype = type_map.add_type(graphene_type)
        if isinstance(gtype, GraphQLObjectType):
            for field in gtype.fields.values():
                field.resolve = None  # graphql-core's default resolver, and fastexec's path
        out[gtype.name] = gtype
    out["StaticRoots"] = type_map.add_type(StaticRoots)
    return out
