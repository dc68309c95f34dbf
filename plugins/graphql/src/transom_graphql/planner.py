"""A root field's whole selection set into ONE Transom query.

Instead of resolving relations field by field (one query per parent row), the planner walks
the selection set of a root field once, with fragments, ``@skip``/``@include`` and
variables applied, and produces the ``fields`` list (dot paths), ``deep`` (the arguments of
nested list fields) and ``alias`` (when one relation is asked for twice under different
GraphQL aliases) of a single :meth:`ItemsService.read_by_query` call. The number of SQL
statements is then bounded by the depth of the query, never by the number of rows, and the
nested resolvers only read from the dicts it returned.

An m2o field of which only the related key is asked for is read from the foreign key column
when the related collection has no row rules for the caller (no extra statement).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLUnionType,
    get_named_type,
)
from graphql.execution.collect_fields import collect_sub_fields
from graphql.execution.values import get_argument_values

from transom.api import Query, parse_query_dict

from .meta import FieldInfo, FilterInfo, info_of

_LIST_OPTIONS = ("sort", "limit", "offset", "page", "search")


def response_key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


def relation_key(field_name: str, key: str) -> str:
    """The key a relation is read under: its name, or a distinct alias when the GraphQL
    query named it differently (each alias may carry its own arguments)."""
    return field_name if key == field_name else f"{field_name}__{key}"


@dataclass
class Level:
    """What to read at one level of the item tree."""

    fields: list[str] = field(default_factory=list)
    deep: dict[str, Query] = field(default_factory=dict)
    alias: dict[str, str] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set, repr=False)

    def add(self, path: str) -> None:
        if path not in self._seen:
            self._seen.add(path)
            self.fields.append(path)

    def nested(self, prefix: str, sub: Level, fallback: str | None) -> None:
        """Add ``sub``'s fields under ``prefix`` (``fallback`` when it asks for nothing)."""
        paths = sub.fields or ([fallback] if fallback else [])
        for path in paths:
            self.add(f"{prefix}.{path}")


class Planner:
    """Plans reads for one resolver call (the GraphQL request's fragments and variables)."""

    def __init__(self, info: GraphQLResolveInfo) -> None:
        self.info = info
        self.schema = info.schema
        self.fragments = info.fragments
        self.variables = info.variable_values

    def sub_fields(self, gtype: GraphQLObjectType,
                   nodes: list[FieldNode]) -> dict[str, list[FieldNode]]:
        return collect_sub_fields(self.schema, self.fragments, self.variables, gtype, nodes)

    # -- selections ----------------------------------------------------------------------
    def level(self, gtype: GraphQLObjectType, nodes: list[FieldNode]) -> Level:
        out = Level()
        for key, fnodes in self.sub_fields(gtype, nodes).items():
            name = fnodes[0].name.value
            gfield = gtype.fields.get(name)
            meta = info_of(gfield) if gfield is not None else None
            if not isinstance(meta, FieldInfo):
                continue  # __typename and helpers resolved without data
            if meta.kind == "column":
                out.add(meta.field)
            elif meta.kind == "func":
                ftype = get_named_type(gfield.type)
                for sub_nodes in self.sub_fields(ftype, fnodes).values():
                    fn = sub_nodes[0].name.value
                    if fn in meta.functions:
                        out.add(f"{fn}({meta.field})")
            elif meta.kind == "m2o":
                self._m2o(out, meta, gfield, key, fnodes)
            elif meta.kind == "list":
                self._list(out, meta, gfield, key, fnodes)
            elif meta.kind == "a2o":
                self._a2o(out, meta, gfield, fnodes)
        return out

    def _m2o(self, out: Level, meta: FieldInfo, gfield: Any, key: str,
             fnodes: list[FieldNode]) -> None:
        rkey = relation_key(meta.field, key)
        if rkey != meta.field:
            out.alias[rkey] = meta.field
        sub = self.level(get_named_type(gfield.type), fnodes)
        if meta.key_shortcut and set(sub.fields) <= {meta.related_pk} and not sub.deep:
            out.add(rkey)  # the foreign key is the related item's key
            return
        out.nested(rkey, sub, meta.related_pk)
        if sub.deep or sub.alias:
            out.deep[rkey] = Query(deep=sub.deep or None, alias=sub.alias or None)

    def _list(self, out: Level, meta: FieldInfo, gfield: Any, key: str,
              fnodes: list[FieldNode]) -> None:
        rkey = relation_key(meta.field, key)
        if rkey != meta.field:
            out.alias[rkey] = meta.field
        sub = self.level(get_named_type(gfield.type), fnodes)
        out.nested(rkey, sub, meta.related_pk)
        args = get_argument_values(gfield, fnodes[0], self.variables)
        query = self.options(args, gfield.args["filter"].type if "filter" in gfield.args
                             else None)
        query.deep = sub.deep or None
        query.alias = sub.alias or None
        if query != Query():
            out.deep[rkey] = query

    def _a2o(self, out: Level, meta: FieldInfo, gfield: Any, fnodes: list[FieldNode]) -> None:
        if meta.collection_field:
            out.add(meta.collection_field)
        scoped_any = False
        union = get_named_type(gfield.type)
        assert isinstance(union, GraphQLUnionType)
        for tname, collection in meta.members.items():
            mtype = self.schema.get_type(tname)
            if not isinstance(mtype, GraphQLObjectType):
                continue
            sub = self.level(mtype, fnodes)
            pk = meta.member_pks.get(collection)
            if collection in meta.member_shortcuts and set(sub.fields) <= {pk} and not sub.deep:
                continue  # the junction's own key column answers (see a2o_resolver)
            scoped = f"{meta.field}:{collection}"
            scoped_any = True
            out.nested(scoped, sub, pk)
            if sub.deep or sub.alias:
                out.deep[scoped] = Query(deep=sub.deep or None, alias=sub.alias or None)
        if not scoped_any:
            out.add(meta.field)  # the raw key (a scoped read returns it for other members)

    # -- arguments -----------------------------------------------------------------------
    def options(self, args: dict[str, Any], filter_type: Any = None,
                names: tuple[str, ...] = _LIST_OPTIONS) -> Query:
        """``filter``/``sort``/``limit``/... arguments as a Query (validated by Transom)."""
        raw: dict[str, Any] = {n: args[n] for n in names if args.get(n) is not None}
        flt = args.get("filter")
        if flt and filter_type is not None:
            raw["filter"] = translate_filter(flt, get_named_type(filter_type))
        return parse_query_dict(raw)

    def query(self, level: Level, args: dict[str, Any] | None = None,
              filter_type: Any = None, names: tuple[str, ...] = _LIST_OPTIONS) -> Query:
        """The root Query: the level's fields, deep and alias plus the field's arguments."""
        query = self.options(args or {}, filter_type, names)
        query.fields = list(level.fields) or None
        query.deep = level.deep or None
        query.alias = level.alias or None
        return query


def translate_filter(value: dict[str, Any], itype: Any) -> dict[str, Any]:
    """A coerced ``<type>_filter`` input into Transom's filter object.

    ``<field>_func: {year: {...}}`` becomes ``"year(<field>)": {...}``, ``item__<c>``
    becomes ``item:<c>``, and an o2m filter mixing ``_some``/``_none`` with plain fields is
    split into an ``_and`` of single-quantifier filters.
    """
    if not isinstance(itype, GraphQLInputObjectType) or not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    extra: list[dict[str, Any]] = []
    for key, v in value.items():
        if v is None:
            continue
        ifield = itype.fields.get(key)
        if ifield is None:
            continue
        if key in ("_and", "_or"):
            inner = get_named_type(ifield.type)
            out[key] = [translate_filter(x, inner) for x in v if x]
            continue
        if key in ("_some", "_none"):
            out[key] = translate_filter(v, get_named_type(ifield.type))
            continue
        meta = info_of(ifield)
        if not isinstance(meta, FilterInfo):
            continue
        if meta.kind == "op":
            out[meta.field] = dict(v)
        elif meta.kind == "func":
            for fn, ops in v.items():
                if ops is not None:
                    out[f"{fn}({meta.field})"] = dict(ops)
        elif meta.kind == "rel":
            out[meta.field] = translate_filter(v, get_named_type(ifield.type))
        elif meta.kind == "a2o":
            out[f"{meta.field}:{meta.scope}"] = translate_filter(v, get_named_type(ifield.type))
        elif meta.kind == "quant":
            sub = translate_filter(v, get_named_type(ifield.type))
            quants = [(q, sub.pop(q)) for q in ("_some", "_none") if q in sub]
            parts = ([{meta.field: sub}] if sub or not quants else [])
            parts += [{meta.field: {q: qv}} for q, qv in quants]
            out[meta.field] = parts[0][meta.field]
            extra.extend(parts[1:])
    if extra:
        return {"_and": [out, *extra]}
    return out
