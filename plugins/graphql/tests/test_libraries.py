"""What graphene builds in a served schema (README.md, "Libraries")."""

from __future__ import annotations

from graphene.types.definitions import (
    GrapheneInputObjectType,
    GrapheneObjectType,
    GrapheneScalarType,
)
from graphql import GraphQLInputObjectType, GraphQLObjectType, GraphQLUnionType
from transom_graphql.builder import build_schema
from transom_graphql.shared import new_type_map, shared_types

from transom.accountability import SYSTEM_ADMIN


def test_graphene_builds_the_static_types_and_mutation_inputs(m2a):
    cms = m2a.extensions["transom"]
    schema = build_schema(cms.schema, cms.access.permissions(SYSTEM_ADMIN), "items")
    types = schema.type_map
    scalars = [name for name in ("JSON", "Date", "BigInt", "StringOrFloat", "Hash", "GeoJSON")
               if name in types]  # only those the snapshot's columns use
    assert {"JSON", "Date", "StringOrFloat"} <= set(scalars)
    for name in scalars:
        assert isinstance(types[name], GrapheneScalarType), name
    for name in ("string_filter_operators", "number_filter_operators",
                 "datetime_function_filter_operators", "create_articles_input",
                 "update_articles_input"):
        assert isinstance(types[name], GrapheneInputObjectType), name
        assert types[name].out_type is dict  # plain dicts reach the resolvers
    for name in ("PageInfo", "datetime_functions", "delete_one", "delete_many"):
        assert isinstance(types[name], GrapheneObjectType), name
        # graphene's default resolvers are dropped: these fields take the fastexec path
        assert all(f.resolve is None for f in types[name].fields.values()), name
    # per-caller types with metadata in ``extensions`` stay graphql-core
    for name in ("articles", "articles_filter", "pages_blocks_item_union"):
        t = types[name]
        assert isinstance(t, GraphQLObjectType | GraphQLInputObjectType | GraphQLUnionType)
        assert not isinstance(t, GrapheneObjectType | GrapheneInputObjectType), name


def test_each_schema_gets_its_own_shared_types():
    a, b = shared_types(new_type_map()), shared_types(new_type_map())
    assert a["string_filter_operators"] is not b["string_filter_operators"]
    assert a["number_filter_operators"].fields["_eq"].type is \
        b["number_filter_operators"].fields["_eq"].type  # the process-wide StringOrFloat


def test_mutation_and_filter_inputs_still_work(gql):
    data = gql.data('mutation { create_authors_item(data: {name: "Grace"}) { name } }')
    assert data == {"create_authors_item": {"name": "Grace"}}
    data = gql.data('{ authors(filter: {name: {_eq: "Grace"}}) { name } }')
    assert data == {"authors": [{"name": "Grace"}]}
