"""Generate the GraphQL schema of one caller from the schema snapshot and its permissions.

A caller only ever sees what it may use: a collection it may not read has no type and no
root field, a field it may not read is absent from the type, a mutation exists only for the
actions it may perform. Asking for anything else is therefore a validation error (400), as
in Directus. Schemas are built once per permission set and cached (see :mod:`.state`).

Naming follows Directus 11: the read type is named after the collection (without the
``directus_`` prefix in the system scope); ``<c>_filter``, ``<c>_aggregated``,
``create_<c>_input``... as listed in README.md.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import graphene
from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    GraphQLUnionType,
)

from transom.api import Collection, Field, SchemaSnapshot, field_type

from . import by_version, keyset_fields, resolvers
from .lang import lang_argument, translated
from .meta import (
    DATE_FUNCTIONS,
    EXT,
    TIME_FUNCTIONS,
    TYPE_MARKER,
    FieldInfo,
    FilterInfo,
    RootInfo,
)
from .scalars import (
    CUSTOM_SCALARS,
    GraphQLBigInt,
    GraphQLDate,
    GraphQLGeoJSON,
    GraphQLHash,
    GraphQLJSON,
    plugin_scalar,
)
from .shared import GRAPHENE_SCALARS, input_object, new_type_map, shared_types
from .system_extras import mutation_fields as extra_mutations
from .system_extras import query_fields as extra_queries

_log = logging.getLogger("transom.graphql")

SCOPES = ("items", "system")
SYSTEM_PREFIX = "directus_"

_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")
_NUMERIC = ("integer", "bigInteger", "float", "decimal")
#: The scalar of an integer column's sum/min/max (a bigInteger's is a string, as its values).
_INTEGERS: dict[str, GraphQLOutputType] = {"integer": GraphQLInt, "bigInteger": GraphQLBigInt}
#: special flags that fill a value on create, so the field is optional even if NOT NULL
_GENERATED = frozenset({"uuid", "date-created", "date-updated", "user-created",
                        "user-updated", "role-created", "role-updated", "cast-timestamp"})
_LIST_ARGS = ("filter", "sort", "limit", "offset", "page", "search")


def valid_name(name: str) -> bool:
    """Whether ``name`` can be a GraphQL name (others are left out of the schema)."""
    return bool(_NAME.match(name)) and not name.startswith("__")


_skipped: set[tuple[str, str]] = set()


def generated_names_ok(name: str, what: str) -> bool:
    """Whether ``name`` and the names generated from it (``<name>_filter``,
    ``<name>_func``...) are GraphQL names; a discovered table or column named ``_`` is left
    out of the schema, logged once, rather than breaking /graphql for everyone."""
    if valid_name(name) and valid_name(f"{name}_x"):
        return True
    if (what, name) not in _skipped:
        _skipped.add((what, name))
        _log.warning("%s %r left out of GraphQL: its name can't make GraphQL names",
                     what, name)
    return False


def _ext(info: Any) -> dict[str, Any]:
    return {EXT: info}


class _Shared:
    """Types every schema shares in shape, declared with graphene in :mod:`.shared` (made
    anew per schema: types belong to one schema)."""

    def __init__(self) -> None:
        #: graphene's type map of this schema (the shared types, the mutation inputs)
        self.type_map = new_type_map()
        t: dict[str, Any] = shared_types(self.type_map)
        self.string_ops = t["string_filter_operators"]
        self.number_ops = t["number_filter_operators"]
        self.bigint_ops = t["big_int_filter_operators"]
        self.date_ops = t["date_filter_operators"]
        self.boolean_ops = t["boolean_filter_operators"]
        self.id_ops = t["id_filter_operators"]
        self.hash_ops = t["hash_filter_operators"]
        self.geometry_ops = t["geometry_filter_operators"]
        self.count_fn_filter = t["count_function_filter_operators"]
        self.date_fn_filter = t["date_function_filter_operators"]
        self.time_fn_filter = t["time_function_filter_operators"]
        self.datetime_fn_filter = t["datetime_function_filter_operators"]
        self.count_fns = t["count_functions"]
        self.date_fns = t["date_functions"]
        self.time_fns = t["time_functions"]
        self.datetime_fns = t["datetime_functions"]
        self.page_info = t["PageInfo"]
        self.delete_one = t["delete_one"]
        self.delete_many = t["delete_many"]
        #: fields copied onto ``Query`` (``server_ping``, ``_empty``)
        self.static_roots: dict[str, GraphQLField] = t["StaticRoots"].fields

    def operators_for(self, f: Field, is_key: bool) -> GraphQLInputObjectType:
        if is_key or f.type == "uuid":
            return self.id_ops
        if f.concealed:
            return self.hash_ops
        t = f.type
        if t == "bigInteger":
            return self.bigint_ops
        if t in _NUMERIC:
            return self.number_ops
        if t in ("date", "dateTime", "timestamp", "time"):
            return self.date_ops
        if t == "boolean":
            return self.boolean_ops
        if t.startswith("geometry"):
            return self.geometry_ops
        return self.string_ops

    def function_filter(self, f: Field, relational: bool) -> GraphQLInputObjectType | None:
        if relational or f.type in ("json", "csv"):
            return self.count_fn_filter
        return {"date": self.date_fn_filter, "time": self.time_fn_filter,
                "dateTime": self.datetime_fn_filter,
                "timestamp": self.datetime_fn_filter}.get(f.type)

    def function_type(self, f: Field, relational: bool) -> tuple[GraphQLObjectType,
                                                                 tuple[str, ...]] | None:
        if relational or f.type in ("json", "csv"):
            return self.count_fns, ("count",)
        if f.type == "date":
            return self.date_fns, DATE_FUNCTIONS
        if f.type == "time":
            return self.time_fns, TIME_FUNCTIONS
        if f.type in ("dateTime", "timestamp"):
            return self.datetime_fns, DATE_FUNCTIONS + TIME_FUNCTIONS
        return None


def scalar_for(f: Field) -> GraphQLOutputType:
    """The GraphQL scalar of a column's value (keys are typed separately, as ``ID``)."""
    if f.concealed:
        return GraphQLHash
    t = f.type
    if t == "integer":
        return GraphQLInt
    if t == "bigInteger":
        return GraphQLBigInt
    if t in ("float", "decimal"):
        return GraphQLFloat
    if t == "boolean":
        return GraphQLBoolean
    if t in ("json", "csv"):
        return GraphQLJSON
    if t in ("date", "dateTime", "timestamp"):
        return GraphQLDate
    if t.startswith("geometry"):
        return GraphQLGeoJSON
    ft = field_type(t)  # a plugin's type: its scalar (core's left here are all "String")
    if ft is not None and ft.graphql_scalar != "String":
        return _KNOWN_SCALARS.get(ft.graphql_scalar) or plugin_scalar(ft.graphql_scalar)[1]
    return GraphQLString


_KNOWN_SCALARS: dict[str, GraphQLOutputType] = {
    "String": GraphQLString, "Int": GraphQLInt, "Float": GraphQLFloat,
    "Boolean": GraphQLBoolean, "JSON": GraphQLJSON, "Date": GraphQLDate,
    "Hash": GraphQLHash, "BigInt": GraphQLBigInt, "GeoJSON": GraphQLGeoJSON}


class SchemaBuilder:
    """Builds one :class:`GraphQLSchema` for (snapshot, permissions, scope)."""

    def __init__(self, snapshot: SchemaSnapshot, permissions: Any, scope: str,
                 system_extras: bool = True) -> None:
        if scope not in SCOPES:
            raise ValueError(f"unknown GraphQL scope {scope!r}")
        self.snapshot = snapshot
        self.perms = permissions
        self.scope = scope
        self.system_extras = system_extras
        self.shared = _Shared()
        self._access: dict[tuple[str, str], Any] = {}
        self.objects: dict[str, GraphQLObjectType] = {}
        self.filters: dict[str, GraphQLInputObjectType] = {}
        self.quantifiers: dict[str, GraphQLInputObjectType] = {}
        self.inputs: dict[tuple[str, str], GraphQLInputObjectType | None] = {}
        self.list_args_cache: dict[str, dict[str, GraphQLArgument]] = {}
        self.in_scope: list[str] = []
        self.types: set[str] = set()
        self.bases: set[str] = set()

    # -- what the caller can see ---------------------------------------------------------
    def access(self, collection: str, action: str) -> Any:
        key = (collection, action)
        if key not in self._access:
            self._access[key] = self.perms.access(collection, action)
        return self._access[key]

    def eligible(self, coll: Collection | None) -> bool:
        """Whether a collection has GraphQL types: any table or view, keyed or not (one
        without a primary key is read-only, with no ``_by_id`` or ``_connection``)."""
        return (coll is not None and coll.table is not None
                and generated_names_ok(self.type_name(coll.collection), "collection"))

    def type_name(self, collection: str) -> str:
        if self.scope == "system" and collection.startswith(SYSTEM_PREFIX):
            return collection[len(SYSTEM_PREFIX):]
        return collection

    def in_scope_collection(self, coll: Collection) -> bool:
        return coll.is_system == (self.scope == "system")

    def readable(self, collection: str) -> bool:
        return collection in self.types

    def _field_ok(self, collection: str, name: str, action: str = "read") -> bool:
        return generated_names_ok(name, f"field of {collection}") and \
            self.access(collection, action).field_allowed(name)

    def _resolve_types(self) -> None:
        """Collections with a read type: those in scope the caller may read and, in the
        items scope, system collections reachable through their relations."""
        snap = self.snapshot
        self.bases = bases = {self.type_name(c.collection) for c in snap.collections.values()
                              if self.eligible(c)}
        names: dict[str, str] = {}
        for coll in snap.collections.values():
            if not self.eligible(coll) or not self.access(coll.collection, "read").allowed:
                continue
            if self.scope == "system" and not coll.is_system:
                continue
            tname = self.type_name(coll.collection)
            if tname in names or _clashes(tname, bases):
                continue
            names[tname] = coll.collection
            if self.in_scope_collection(coll):
                self.in_scope.append(coll.collection)
        pending = list(self.in_scope)
        seen = set(pending)
        while pending:
            name = pending.pop()
            coll = snap.collections[name]
            for fname in coll.fields:
                if not self._field_ok(name, fname):
                    continue
                rel = snap.relation(name, fname)
                if rel is None:
                    continue
                targets = list(rel.allowed) if rel.kind == "a2o" else [rel.related or ""]
                for target in targets:
                    if target in seen or self.type_name(target) not in names:
                        continue
                    if names[self.type_name(target)] != target:
                        continue
                    seen.add(target)
                    pending.append(target)
        self.types = seen
        self.in_scope.sort()

    # -- read types ----------------------------------------------------------------------
    def object_type(self, collection: str) -> GraphQLObjectType:
        tname = self.type_name(collection)
        obj = self.objects.get(tname)
        if obj is None:
            obj = GraphQLObjectType(tname, lambda c=collection: self._object_fields(c))
            self.objects[tname] = obj
        return obj

    def _object_fields(self, collection: str) -> dict[str, GraphQLField]:
        coll = self.snapshot.collections[collection]
        snap = self.snapshot
        out: dict[str, GraphQLField] = {}
        func_fields: dict[str, GraphQLField] = {}
        for name, f in coll.fields.items():
            if not self._field_ok(collection, name):
                continue
            rel = snap.relation(collection, name)
            relational = False
            if rel is None or rel.kind == "m2o" and not self.readable(rel.related or ""):
                if f.is_alias:
                    continue
                gtype: GraphQLOutputType = scalar_for(f)
                if f.is_primary_key:
                    gtype = GraphQLNonNull(GraphQLID)
                out[name] = GraphQLField(gtype, extensions=_ext(
                    FieldInfo("column", collection, name)))
            elif rel.kind == "m2o":
                related = snap.collections[rel.related or ""]
                out[name] = GraphQLField(
                    self.object_type(related.collection),
                    resolve=resolvers.m2o_resolver(name, related.primary_key or "id"),
                    extensions=_ext(FieldInfo(
                        "m2o", collection, name, related=related.collection,
                        related_pk=related.primary_key,
                        key_shortcut=self.access(related.collection,
                                                 "read").row_filter() is None)))
            elif rel.kind in ("o2m", "m2m", "m2a"):
                if not self.readable(rel.related or ""):
                    continue
                relational = True
                out[name] = GraphQLField(
                    GraphQLList(self.object_type(rel.related or "")),
                    args=self.list_args(rel.related or ""),
                    resolve=resolvers.relation_resolver(name),
                    extensions=_ext(FieldInfo(
                        "list", collection, name, related=rel.related,
                        related_pk=snap.collections[rel.related or ""].primary_key)))
            elif rel.kind == "a2o":
                members = {self.type_name(m): m for m in rel.allowed if self.readable(m)}
                cfield = rel.collection_field or "collection"
                if not members or not self._field_ok(collection, cfield):
                    if not f.is_alias:
                        out[name] = GraphQLField(GraphQLString, extensions=_ext(
                            FieldInfo("column", collection, name)))
                    continue
                union = GraphQLUnionType(
                    f"{self.type_name(collection)}_{name}_union",
                    lambda m=tuple(members.values()): [self.object_type(c) for c in m],
                    resolve_type=_resolve_union_type)
                pks = {c: snap.collections[c].primary_key or "id" for c in members.values()}
                shortcuts = frozenset(c for c in members.values()
                                      if self.access(c, "read").row_filter() is None)
                out[name] = GraphQLField(
                    union,
                    resolve=resolvers.a2o_resolver(name, cfield,
                                                   {c: t for t, c in members.items()}, pks),
                    extensions=_ext(FieldInfo("a2o", collection, name, collection_field=cfield,
                                              members=members, member_pks=pks,
                                              member_shortcuts=shortcuts)))
                continue
            fn = self.shared.function_type(f, relational)
            fname = f"{name}_func"
            if fn is not None and fname not in coll.fields and valid_name(fname):
                ftype, functions = fn
                func_fields[fname] = GraphQLField(
                    ftype, resolve=resolvers.func_resolver(name, functions),
                    extensions=_ext(FieldInfo("func", collection, name, functions=functions)))
        out.update(func_fields)
        return out

    def list_args(self, collection: str) -> dict[str, GraphQLArgument]:
        args = self.list_args_cache.get(collection)
        if args is None:
            args = {
                "filter": GraphQLArgument(self.filter_type(collection)),
                "sort": GraphQLArgument(GraphQLList(GraphQLString)),
                "limit": GraphQLArgument(GraphQLInt),
                "offset": GraphQLArgument(GraphQLInt),
                "page": GraphQLArgument(GraphQLInt),
                "search": GraphQLArgument(GraphQLString),
            }
            self.list_args_cache[collection] = args
        return args

    def lang_args(self, collection: str) -> dict[str, GraphQLArgument]:
        """``lang`` on the root reads of a collection with translations (see lang.py)."""
        return {"lang": lang_argument()} if translated(self.snapshot, collection) else {}

    # -- filters -------------------------------------------------------------------------
    def filter_type(self, collection: str) -> GraphQLInputObjectType:
        tname = self.type_name(collection)
        ftype = self.filters.get(tname)
        if ftype is None:
            ftype = GraphQLInputObjectType(
                f"{tname}_filter", lambda c=collection: self._filter_fields(c, False))
            self.filters[tname] = ftype
        return ftype

    def quantifier_filter_type(self, collection: str) -> GraphQLInputObjectType:
        tname = self.type_name(collection)
        ftype = self.quantifiers.get(tname)
        if ftype is None:
            ftype = GraphQLInputObjectType(
                f"{tname}_quantifier_filter", lambda c=collection: self._filter_fields(c, True))
            self.quantifiers[tname] = ftype
        return ftype

    def _filter_fields(self, collection: str, quantifier: bool) -> dict[str, GraphQLInputField]:
        coll = self.snapshot.collections[collection]
        snap = self.snapshot
        me = self.filter_type(collection)
        out: dict[str, GraphQLInputField] = {
            "_and": GraphQLInputField(GraphQLList(me)),
            "_or": GraphQLInputField(GraphQLList(me)),
        }
        if quantifier:
            out["_some"] = GraphQLInputField(me)
            out["_none"] = GraphQLInputField(me)
        for name, f in coll.fields.items():
            if not self._field_ok(collection, name):
                continue
            rel = snap.relation(collection, name)
            relational = False
            if rel is None or rel.kind == "m2o" and not self.readable(rel.related or ""):
                if f.is_alias:
                    continue
                out[name] = GraphQLInputField(
                    self.shared.operators_for(f, f.is_primary_key),
                    extensions=_ext(FilterInfo("op", name)))
            elif rel.kind == "m2o":
                out[name] = GraphQLInputField(self.filter_type(rel.related or ""),
                                              extensions=_ext(FilterInfo("rel", name)))
            elif rel.kind in ("o2m", "m2m", "m2a"):
                if not self.readable(rel.related or ""):
                    continue
                relational = True
                out[name] = GraphQLInputField(self.quantifier_filter_type(rel.related or ""),
                                              extensions=_ext(FilterInfo("quant", name)))
            elif rel.kind == "a2o":
                for member in rel.allowed:
                    key = f"{name}__{member}"
                    if self.readable(member) and valid_name(key):
                        out[key] = GraphQLInputField(
                            self.filter_type(member),
                            extensions=_ext(FilterInfo("a2o", name, member)))
                continue
            fn = self.shared.function_filter(f, relational)
            fname = f"{name}_func"
            if fn is not None and fname not in coll.fields and valid_name(fname):
                out[fname] = GraphQLInputField(fn, extensions=_ext(FilterInfo("func", name)))
        return out

    # -- aggregation and connections -------------------------------------------------------
    def aggregated_type(self, collection: str) -> GraphQLObjectType:
        coll = self.snapshot.collections[collection]
        tname = self.type_name(collection)
        columns = [n for n, f in coll.fields.items()
                   if not f.is_alias and self._field_ok(collection, n)]
        numeric = [n for n in columns if coll.fields[n].type in _NUMERIC]
        fields: dict[str, GraphQLField] = {
            "group": GraphQLField(GraphQLJSON),
            "countAll": GraphQLField(GraphQLInt),
        }
        if columns:
            count = GraphQLObjectType(f"{tname}_aggregated_count", {
                n: GraphQLField(GraphQLInt) for n in columns})
            fields["count"] = GraphQLField(count)
            fields["countDistinct"] = GraphQLField(count)
        if numeric:
            nums = GraphQLObjectType(f"{tname}_aggregated_fields", {
                n: GraphQLField(GraphQLFloat) for n in numeric})
            for fn in ("avg", "avgDistinct"):
                fields[fn] = GraphQLField(nums)
            totals = self._totals_type(tname, coll, numeric) or nums
            for fn in ("sum", "sumDistinct", "min", "max"):
                fields[fn] = GraphQLField(totals)
        return GraphQLObjectType(f"{tname}_aggregated", fields)

    @staticmethod
    def _totals_type(tname: str, coll: Collection, numeric: list[str]) -> GraphQLObjectType | None:
        """Sums, minima and maxima of integer columns are integers (``155``, not ``155.0``):
        they get their own type when a collection has any, averages stay ``Float``."""
        if not any(coll.fields[n].type in _INTEGERS for n in numeric):
            return None
        return GraphQLObjectType(f"{tname}_aggregated_totals", {
            n: GraphQLField(_INTEGERS.get(coll.fields[n].type, GraphQLFloat))
            for n in numeric})

    def connection_type(self, collection: str) -> GraphQLObjectType:
        tname = self.type_name(collection)
        edge = GraphQLObjectType(f"{tname}_edge", {
            "cursor": GraphQLField(GraphQLNonNull(GraphQLString)),
            "node": GraphQLField(GraphQLNonNull(self.object_type(collection))),
        })
        return GraphQLObjectType(f"{tname}_connection", {
            "edges": GraphQLField(GraphQLNonNull(GraphQLList(GraphQLNonNull(edge)))),
            "pageInfo": GraphQLField(GraphQLNonNull(self.shared.page_info)),
            "totalCount": GraphQLField(GraphQLInt, resolve=resolvers.total_count),
        }, description="A Relay connection (Transom extension).")

    # -- inputs --------------------------------------------------------------------------
    def input_type(self, collection: str, action: str) -> GraphQLInputObjectType | None:
        """``create_<c>_input`` / ``update_<c>_input``, declared as a graphene input object
        (in this schema's graphene type map) from what ``action`` allows."""
        key = (collection, action)
        if key in self.inputs:
            return self.inputs[key]
        coll = self.snapshot.collections[collection]
        access = self.access(collection, action)
        presets = access.presets() if hasattr(access, "presets") else {}
        fields: dict[str, Any] = {}
        for name, f in coll.fields.items():
            is_pk = name == coll.primary_key
            if not valid_name(name):
                continue
            if not access.field_allowed(name) and not (is_pk and action == "update"):
                continue
            rel = self.snapshot.relation(collection, name)
            if rel is not None:
                fields[name] = GRAPHENE_SCALARS["JSON"]  # a key, or nested items
                continue
            if f.is_alias:
                continue
            gtype: Any = GRAPHENE_SCALARS["ID" if is_pk else scalar_for(f).name]
            if action == "create" and _required(f) and name not in presets:
                gtype = graphene.NonNull(gtype)
            fields[name] = gtype
        result = None
        if fields:
            declared = input_object(f"{action}_{self.type_name(collection)}_input", fields)
            result = self.shared.type_map.add_type(declared)
        self.inputs[key] = result
        return result

    # -- roots ---------------------------------------------------------------------------
    def _root(self, gtype: GraphQLOutputType, info: RootInfo,
              args: dict[str, GraphQLArgument] | None = None,
              resolve: Callable[..., Any] | None = None) -> GraphQLField:
        return GraphQLField(gtype, args=args or {}, resolve=resolve or resolvers.root(info),
                            extensions=_ext(info))

    def query_fields(self) -> dict[str, GraphQLField]:
        out: dict[str, GraphQLField] = {}
        taken = {self.type_name(c) for c in self.in_scope}
        for collection in self.in_scope:
            coll = self.snapshot.collections[collection]
            tname = self.type_name(collection)
            obj = self.object_type(collection)
            if coll.singleton:
                out[tname] = self._root(obj, RootInfo("singleton", collection))
                out.update(by_version.root_fields(self._root, collection, tname, obj, True))
                continue
            out[tname] = self._root(GraphQLNonNull(GraphQLList(GraphQLNonNull(obj))),
                                    RootInfo("list", collection), {
                                        **self.list_args(collection),
                                        **self.lang_args(collection)})
            if coll.primary_key is not None:
                by_id_args = {"id": GraphQLArgument(GraphQLNonNull(GraphQLID)),
                              **self.lang_args(collection)}
                out[f"{tname}_by_id"] = self._root(obj, RootInfo("by_id", collection),
                                                   by_id_args)
                out.update(by_version.root_fields(self._root, collection, tname, obj,
                                                  False))
            agg_args = dict(self.list_args(collection))
            agg_args["groupBy"] = GraphQLArgument(GraphQLList(GraphQLString))
            out[f"{tname}_aggregated"] = self._root(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(self.aggregated_type(collection)))),
                RootInfo("aggregated", collection), agg_args)
            if coll.primary_key is None:  # a cursor is a key: no connection without one
                continue
            out[f"{tname}_connection"] = self._root(
                GraphQLNonNull(self.connection_type(collection)),
                RootInfo("connection", collection), {
                    "first": GraphQLArgument(GraphQLInt),
                    "after": GraphQLArgument(GraphQLString),
                    "filter": GraphQLArgument(self.filter_type(collection)),
                    "sort": GraphQLArgument(GraphQLList(GraphQLString)),
                    "search": GraphQLArgument(GraphQLString),
                })
            out.update(keyset_fields.root_fields(  # <c>_page: keyset pagination
                self._root, collection, tname, obj, self.filter_type(collection), taken,
                self.lang_args(collection)))
        if self.scope == "system" and self.system_extras:
            if "directus_users" in self.types:
                out["users_me"] = self._root(self.object_type("directus_users"),
                                             RootInfo("me", "directus_users"))
            if "directus_roles" in self.types:
                out["roles_me"] = self._root(GraphQLList(self.object_type("directus_roles")),
                                             RootInfo("my_roles", "directus_roles"))
            out["server_ping"] = self.shared.static_roots["server_ping"]
            out.update({k: v for k, v in extra_queries().items() if k not in out})
        if not out:
            # A schema needs a Query type with a field; this one only says "nothing here".
            out["_empty"] = self.shared.static_roots["_empty"]
        return out

    def mutation_fields(self) -> dict[str, GraphQLField]:
        out: dict[str, GraphQLField] = {}
        snap = self.snapshot
        for coll in snap.collections.values():
            collection = coll.collection
            if not self.eligible(coll) or not self.in_scope_collection(coll) or coll.is_view \
                    or coll.primary_key is None:  # read-only, as over REST
                continue
            tname = self.type_name(collection)
            if _clashes(tname, self.bases):
                continue
            readable = collection in self.types
            one: GraphQLOutputType = self.object_type(collection) if readable else GraphQLBoolean
            many: GraphQLOutputType = (GraphQLList(GraphQLNonNull(self.object_type(collection)))
                                       if readable else GraphQLBoolean)
            list_args = dict(self.list_args(collection)) if readable else {}
            if self.access(collection, "create").allowed and not coll.singleton:
                create = self.input_type(collection, "create")
                if create is not None:
                    out[f"create_{tname}_items"] = self._root(
                        many, RootInfo("create_many", collection, readable), {
                            **list_args,
                            "data": GraphQLArgument(GraphQLList(GraphQLNonNull(create)))})
                    out[f"create_{tname}_item"] = self._root(
                        one, RootInfo("create_one", collection, readable), {
                            "data": GraphQLArgument(GraphQLNonNull(create))})
            if self.access(collection, "update").allowed:
                update = self.input_type(collection, "update")
                if update is not None and coll.singleton:
                    out[f"update_{tname}"] = self._root(
                        one, RootInfo("update_singleton", collection, readable), {
                            "data": GraphQLArgument(GraphQLNonNull(update))})
                elif update is not None:
                    out[f"update_{tname}_items"] = self._root(
                        many, RootInfo("update_many", collection, readable), {
                            **list_args,
                            "ids": GraphQLArgument(GraphQLNonNull(GraphQLList(GraphQLID))),
                            "data": GraphQLArgument(GraphQLNonNull(update))})
                    out[f"update_{tname}_batch"] = self._root(
                        many, RootInfo("update_batch", collection, readable), {
                            **list_args,
                            "data": GraphQLArgument(GraphQLList(GraphQLNonNull(update)))})
                    out[f"update_{tname}_item"] = self._root(
                        one, RootInfo("update_one", collection, readable), {
                            "id": GraphQLArgument(GraphQLNonNull(GraphQLID)),
                            "data": GraphQLArgument(GraphQLNonNull(update))})
            if self.access(collection, "delete").allowed and not coll.singleton:
                out[f"delete_{tname}_items"] = self._root(
                    self.shared.delete_many, RootInfo("delete_many", collection, readable), {
                        "ids": GraphQLArgument(GraphQLNonNull(GraphQLList(GraphQLID)))})
                out[f"delete_{tname}_item"] = self._root(
                    self.shared.delete_one, RootInfo("delete_one", collection, readable), {
                        "id": GraphQLArgument(GraphQLNonNull(GraphQLID))})
        if self.scope == "system" and self.system_extras:
            out.update({k: v for k, v in extra_mutations(self).items()
                        if k not in out})
        return out

    def build(self) -> GraphQLSchema:
        self._resolve_types()
        query = GraphQLObjectType("Query", self.query_fields())
        mutations = self.mutation_fields()
        mutation = GraphQLObjectType("Mutation", mutations) if mutations else None
        schema = GraphQLSchema(query=query, mutation=mutation)
        # Building the type map resolved every thunk; drop what a cached schema would
        # otherwise keep alive through them (the permissions, the access rules).
        self.perms = None
        self._access.clear()
        return schema


#: Names of the types every schema may hold besides the collections' own.
RESERVED_TYPE_NAMES = frozenset({
    "Query", "Mutation", "Subscription", "String", "Int", "Float", "Boolean", "ID",
    "PageInfo", "delete_one", "delete_many", *(s.name for s in CUSTOM_SCALARS),
    "string_filter_operators", "number_filter_operators", "big_int_filter_operators",
    "date_filter_operators", "boolean_filter_operators", "id_filter_operators",
    "hash_filter_operators", "geometry_filter_operators", "count_function_filter_operators",
    "date_function_filter_operators", "time_function_filter_operators",
    "datetime_function_filter_operators", "count_functions", "date_functions",
    "time_functions", "datetime_functions",
})
_SUFFIXES = ("_filter", "_quantifier_filter", "_aggregated", "_aggregated_count",
             "_aggregated_fields", "_aggregated_totals", "_connection", "_edge")


def _clashes(name: str, bases: set[str]) -> bool:
    """Whether a collection's type name is one the generator uses for another type (such a
    collection is left out rather than breaking every schema)."""
    if name in RESERVED_TYPE_NAMES or name.startswith("__") or name.endswith("_union"):
        return True
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in bases:
            return True
    for prefix in ("create_", "update_", "version_"):
        if name.startswith(prefix) and name.endswith("_input") and \
                name[len(prefix):-len("_input")] in bases:
            return True
    return False


def _required(f: Field) -> bool:
    """NOT NULL, no default, nothing generates it: the create input must carry it."""
    if f.nullable or f.auto_increment or f.is_generated:
        return False
    if f.default is not None:
        return False
    return not (set(f.special) & _GENERATED)


def _resolve_union_type(value: Any, _info: Any, _abstract: Any) -> str | None:
    return value.get(TYPE_MARKER) if isinstance(value, dict) else None


def build_schema(snapshot: SchemaSnapshot, permissions: Any, scope: str) -> GraphQLSchema:
    """The schema of a caller with ``permissions`` for ``scope`` (``items``/``system``)."""
    return SchemaBuilder(snapshot, permissions, scope).build()
