"""Prototype: what building a whole per-caller schema with graphene would cost.

    uv run python plugins/graphql/bench/graphene_full.py [--collections 50] [--repeat 10]

Takes the schema today's builder makes and recreates every type of it as graphene classes
made with ``type(...)`` (ObjectType / InputObjectType / Union / Scalar, fields with lambda
thunks as the builder's are), then lets ``graphene.Schema`` make the graphql-core schema.
The time of that (class creation + graphene's type map) is what graphene adds on top of
the builder's own decisions (which fields a caller sees), which stay the same either way.
It also checks the SDL comes out the same. Figures in README.md, "Libraries".
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import graphene
from graphene.types.schema import TypeMap
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    print_schema,
)
from schema_build import make_app, reader_permissions, timed

BUILTIN = {"String": graphene.String, "Int": graphene.Int, "Float": graphene.Float,
           "Boolean": graphene.Boolean, "ID": graphene.ID}


def to_graphene(schema) -> graphene.Schema:
    classes: dict[str, type] = {}

    def ref(t):
        if isinstance(t, GraphQLNonNull):
            inner = ref(t.of_type)
            return graphene.NonNull(inner)
        if isinstance(t, GraphQLList):
            return graphene.List(ref(t.of_type))
        return lambda: classes[t.name]

    def unwrap(t):
        # graphene wants a class or a structure around a class; names resolve lazily
        if isinstance(t, GraphQLNonNull):
            return graphene.NonNull(unwrap(t.of_type))
        if isinstance(t, GraphQLList):
            return graphene.List(unwrap(t.of_type))
        if t.name in BUILTIN:
            return BUILTIN[t.name]
        return lambda n=t.name: classes[n]

    for name, t in schema.type_map.items():
        if name.startswith("__") or name in BUILTIN or isinstance(t, GraphQLEnumType):
            continue
        if isinstance(t, GraphQLScalarType):
            classes[name] = type(name, (graphene.Scalar,), {
                "Meta": type("Meta", (), {"name": name, "description": t.description}),
                "serialize": staticmethod(t.serialize),
                "parse_value": staticmethod(t.parse_value),
                "parse_literal": staticmethod(t.parse_literal)})
    for name, t in schema.type_map.items():
        if isinstance(t, GraphQLObjectType) and not name.startswith("__"):
            attrs = {}
            for fname, f in t.fields.items():
                args = {a: graphene.Argument(unwrap(arg.type)) for a, arg in f.args.items()}
                attrs[fname] = graphene.Field(unwrap(f.type), args=args or None,
                                              resolver=f.resolve)
            attrs["Meta"] = type("Meta", (), {"name": name, "description": t.description})
            classes[name] = type(name, (graphene.ObjectType,), attrs)
        elif isinstance(t, GraphQLInputObjectType):
            attrs = {fname: graphene.InputField(unwrap(f.type)) for fname, f in t.fields.items()}
            attrs["Meta"] = type("Meta", (), {"name": name, "container": dict})
            classes[name] = type(name, (graphene.InputObjectType,), attrs)
    for name, t in schema.type_map.items():
        if isinstance(t, GraphQLUnionType):
            members = tuple(classes[m.name] for m in t.types)
            classes[name] = type(name, (graphene.Union,), {
                "Meta": type("Meta", (), {"name": name, "types": members})})
    mutation = classes.get("Mutation")
    return graphene.Schema(query=classes["Query"], mutation=mutation, auto_camelcase=False)


def inputs_to_graphene(schema, only=lambda name: True) -> TypeMap:
    """Only the input objects (``<c>_filter``, ``<c>_quantifier_filter``, ``create_<c>_input``
    ...) as graphene classes, through graphene's type map; scalars are the schema's own."""
    classes: dict[str, type] = {}
    type_map = TypeMap(auto_camelcase=False)
    for name, t in schema.type_map.items():
        if isinstance(t, GraphQLScalarType) and name not in BUILTIN:
            type_map[name] = t

    def unwrap(t):
        if isinstance(t, GraphQLNonNull):
            return graphene.NonNull(unwrap(t.of_type))
        if isinstance(t, GraphQLList):
            return graphene.List(unwrap(t.of_type))
        if t.name in BUILTIN:
            return BUILTIN[t.name]
        if isinstance(t, GraphQLScalarType):
            return scalars[t.name]
        return lambda n=t.name: classes[n]

    scalars = {name: type(name, (graphene.Scalar,), {"Meta": type("Meta", (), {"name": name})})
               for name, t in schema.type_map.items()
               if isinstance(t, GraphQLScalarType) and name not in BUILTIN}
    for name, t in schema.type_map.items():
        if isinstance(t, GraphQLInputObjectType) and only(name):
            attrs = {fname: graphene.InputField(unwrap(f.type)) for fname, f in t.fields.items()}
            attrs["Meta"] = type("Meta", (), {"name": name, "container": dict})
            classes[name] = type(name, (graphene.InputObjectType,), attrs)
    for cls in classes.values():
        type_map.add_type(cls).fields  # noqa: B018 - resolve the thunk
    return type_map


def _mutation_input(name: str) -> bool:
    return name.startswith(("create_", "update_")) and name.endswith("_input")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--collections", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    from transom_graphql.builder import build_schema

    from transom.accountability import SYSTEM_ADMIN

    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(args.collections, Path(tmp))
        cms = app.extensions["transom"]
        snap = cms.schema
        admin = cms.access.permissions(SYSTEM_ADMIN)
        reader = reader_permissions(app, args.collections)
        for label, perms, scope in (("admin items", admin, "items"),
                                    ("reader items", reader, "items"),
                                    ("admin system", admin, "system")):
            core = build_schema(snap, perms, scope)
            n = args.repeat
            ms_core = timed(lambda perms=perms, scope=scope:
                            build_schema(snap, perms, scope).type_map, n, best=True)
            ms_gr = timed(lambda core=core: to_graphene(core).graphql_schema.type_map, n,
                          best=True)
            ms_in = timed(lambda core=core: inputs_to_graphene(core), n, best=True)
            ms_mut = timed(lambda core=core: inputs_to_graphene(core, _mutation_input), n,
                           best=True)
            inputs = [t.name for t in core.type_map.values()
                      if isinstance(t, GraphQLInputObjectType)]
            same = print_schema(to_graphene(core).graphql_schema) == print_schema(core)
            print(f"{label}: graphql-core build {ms_core:.1f} ms (best of {n}); with graphene:"
                  f" every type +{ms_gr:.1f} ms (x{(ms_core + ms_gr) / ms_core:.1f}, same SDL:"
                  f" {same}); the {len(inputs)} input objects +{ms_in:.1f} ms"
                  f" (x{(ms_core + ms_in) / ms_core:.1f}); the"
                  f" {sum(map(_mutation_input, inputs))} create/update inputs +{ms_mut:.1f} ms"
                  f" (x{(ms_core + ms_mut) / ms_core:.1f})")
        cms.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
