"""Resolvers: root fields call :class:`ItemsService` once; nested fields read the result.

Every read and write goes through ItemsService as the caller, so permissions, hooks,
validation and error codes are exactly those of REST.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import GraphQLResolveInfo, get_named_type

from transom.api import InvalidCredentialsError, InvalidQueryError, ItemsService

from .lang import apply_lang
from .meta import TYPE_MARKER, RootInfo
from .planner import Level, Planner, relation_key, response_key

if TYPE_CHECKING:
    from transom.api import Accountability, Transom


@dataclass
class RequestContext:
    """The ``context_value`` of one GraphQL request."""

    cms: Transom
    accountability: Accountability
    scope: str

    def service(self, collection: str) -> ItemsService:
        return ItemsService(self.cms, collection, self.accountability)


# -- nested fields (read from the parent dict) -----------------------------------------
def m2o_resolver(name: str, related_pk: str) -> Callable[..., Any]:
    def resolve(parent: Any, info: GraphQLResolveInfo) -> Any:
        value = parent.get(relation_key(name, response_key(info.field_nodes[0])))
        if value is None or isinstance(value, dict):
            return value
        return {related_pk: value}  # read from the foreign key (see planner)

    return resolve


def relation_resolver(name: str) -> Callable[..., Any]:
    def resolve(parent: Any, info: GraphQLResolveInfo, **_args: Any) -> Any:
        return parent.get(relation_key(name, response_key(info.field_nodes[0])))

    return resolve


def a2o_resolver(name: str, collection_field: str, type_names: dict[str, str],
                 pks: dict[str, str]) -> Callable[..., Any]:
    def resolve(parent: Any, _info: GraphQLResolveInfo) -> Any:
        value = parent.get(name)
        collection = str(parent.get(collection_field))
        tname = type_names.get(collection)
        if value is None or tname is None:
            return None
        if isinstance(value, dict):
            return {**value, TYPE_MARKER: tname}
        # Only the key was asked for (or __typename): the junction row holds it.
        return {pks[collection]: value, TYPE_MARKER: tname}

    return resolve


def func_resolver(name: str, functions: tuple[str, ...]) -> Callable[..., Any]:
    def resolve(parent: Any, _info: GraphQLResolveInfo) -> Any:
        return {fn: parent.get(f"{name}_{fn}") for fn in functions}

    return resolve


def total_count(parent: Any, info: GraphQLResolveInfo) -> Any:
    """``totalCount`` of a connection: counted only when asked for (one more statement)."""
    collection, query = parent["_count"]
    svc = info.context.service(collection)
    return svc.meta(query.copy(meta=["filter_count"], limit=None, offset=None))["filter_count"]


# -- cursors ---------------------------------------------------------------------------
_CURSOR_PREFIX = "transom:offset:"


def encode_cursor(offset: int) -> str:
    """Opaque cursor of the row at ``offset`` (0-based) in the connection's order."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith(_CURSOR_PREFIX) or not text[len(_CURSOR_PREFIX):].isdigit():
        raise InvalidQueryError(f'"after" is not a valid cursor: {cursor!r}')
    return int(text[len(_CURSOR_PREFIX):])


# -- root fields -----------------------------------------------------------------------
def _field_def(info: GraphQLResolveInfo) -> Any:
    return info.parent_type.fields[info.field_name]


def _filter_type(info: GraphQLResolveInfo) -> Any:
    arg = _field_def(info).args.get("filter")
    return arg.type if arg is not None else None


def _plan(info: GraphQLResolveInfo) -> tuple[Planner, Level]:
    planner = Planner(info)
    gtype = get_named_type(info.return_type)
    return planner, planner.level(gtype, list(info.field_nodes))


def _ordered(items: list[dict[str, Any]], keys: list[Any], pk: str | None,
             query: Any) -> list[dict[str, Any]]:
    """Items read back after a write, in the order of the written keys (unless sorted)."""
    if query.sort or not pk:
        return items
    order = {str(k): i for i, k in enumerate(keys)}
    return sorted(items, key=lambda it: order.get(str(it.get(pk)), len(order)))


def _read_back_one(svc: ItemsService, key: Any, info: GraphQLResolveInfo) -> Any:
    """The written item; FORBIDDEN when the caller may not read it back (a missing key
    updated by an admin, a row outside the read rules), as Directus answers."""
    planner, level = _plan(info)
    return svc.read_one(key, planner.query(level))


#: public for system_extras' ``update_users_me``
read_back_one = _read_back_one


def _read_back_many(svc: ItemsService, keys: list[Any], info: GraphQLResolveInfo,
                    args: dict[str, Any]) -> Any:
    if not keys:
        return []
    planner, level = _plan(info)
    query = planner.query(level, args, _filter_type(info))
    items = svc.read_many(keys, query)
    pk = svc.coll().primary_key
    if pk is not None and pk not in (query.fields or []):
        return items
    return _ordered(items, keys, pk, query)


def root(meta: RootInfo) -> Callable[..., Any]:
    """The resolver of a root query or mutation field."""
    handler = _HANDLERS[meta.kind]

    def resolve(_root: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        return handler(meta, info, args)

    return resolve


def _list(meta: RootInfo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    apply_lang(args, meta.collection)
    planner, level = _plan(info)
    query = planner.query(level, args, _filter_type(info))
    return info.context.service(meta.collection).read_by_query(query)


def _by_id(meta: RootInfo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    apply_lang(args, meta.collection)
    planner, level = _plan(info)
    return info.context.service(meta.collection).read_one(args["id"], planner.query(level))


def _singleton(meta: RootInfo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    planner, level = _plan(info)
    return info.context.service(meta.collection).read_singleton(planner.query(level))


def _me(meta: RootInfo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    user = info.context.accountability.user
    if user is None:
        raise InvalidCredentialsError()
    planner, level = _plan(info)
    return info.context.service(meta.collection).read_one(user, planner.query(level))


def _my_roles(meta: RootInfo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    """``GET /roles/me``: the caller's roles (none for the public), read as the caller."""
    roles = list(info.context.accountability.roles or ())
    if not roles:
        return []
    planner, level = _plan(info)
    return info.context.service(meta.collection).read_many(roles, planner.query(level))


_AGGREGATES = ("count", "countDistinct", "avg", "sum", "avgDistinct", "sumDistinct", "min",
               "max")


def _aggregated(meta: RootInfo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    planner = Planner(info)
    agg_type = get_named_type(info.return_type)
    aggregate: dict[str, list[str]] = {}
    for nodes in planner.sub_fields(agg_type, list(info.field_nodes)).values():
        name = nodes[0].name.value
        if name == "countAll":
            aggregate["countAll"] = ["*"]
        elif name in _AGGREGATES:
            ftype = get_named_type(agg_type.fields[name].type)
            names = aggregate.setdefault(name, [])
            for sub in planner.sub_fields(ftype, nodes).values():
                fname = sub[0].name.value
                if not fname.startswith("__") and fname not in names:
                    names.append(fname)
    group = list(args.get("groupBy") or [])
    query = planner.options(args, _filter_type(info))
    query.aggregate = {k: v for k, v in aggregate.items() if v} or None
    query.group = group or None
    rows = info.context.service(meta.collection).read_by_query(query)
    out = []
    for row in rows:
        # the row's own keys, as REST answers them: year(published_at) -> published_at_year
        item: dict[str, Any] = {"group": {k: v for k, v in row.items()
                                          if k not in _NOT_GROUP} if group else None}
        for fn in ("countAll", *_AGGREGATES):
            if fn in row:
                item[fn] = row[fn]
        out.append(item)
    return out


_NOT_GROUP = frozenset({"countAll", *_AGGREGATES})


def _connection(meta: RootInfo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    planner = Planner(info)
    conn_type = get_named_type(info.return_type)
    edge_type = get_named_type(conn_type.fields["edges"].type)
    node_type = get_named_type(edge_type.fields["node"].type)
    node_nodes = []
    for nodes in planner.sub_fields(conn_type, list(info.field_nodes)).values():
        if nodes[0].name.value == "edges":
            for sub in planner.sub_fields(edge_type, nodes).values():
                if sub[0].name.value == "node":
                    node_nodes.extend(sub)
    level = planner.level(node_type, node_nodes) if node_nodes else Level()
    cms = info.context.cms
    first = args.get("first")
    if first is None:
        first = int(cms.config.get("QUERY_LIMIT_DEFAULT", 100))
    if first < 0:
        raise InvalidQueryError('"first" must be greater than or equal to 0')
    maximum = int(cms.config.get("QUERY_LIMIT_MAX", -1))
    if maximum >= 0:
        first = min(first, maximum)
    offset = decode_cursor(args["after"]) + 1 if args.get("after") else 0
    svc = info.context.service(meta.collection)
    pk = svc.coll().primary_key
    query = planner.query(level, args, _filter_type(info), names=("sort", "search"))
    if query.fields is None:
        query.fields = [pk] if pk else None
    query.limit = first + 1  # one more row tells whether there is a next page
    query.offset = offset
    items = svc.read_by_query(query)
    has_next = len(items) > first
    items = items[:first]
    edges = [{"cursor": encode_cursor(offset + i), "node": item}
             for i, item in enumerate(items)]
    return {
        "edges": edges,
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": offset > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
        "_count": (meta.collection, query),
    }


def _create_one(meta: RootInfo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    svc = info.context.service(meta.collection)
    key = svc.create_one(dict(args["data"]))
    return _read_back_one(svc, key, info) if meta.readable else True


def _create_many(meta: RootInfo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    svc = info.context.service(meta.collection)
    keys = svc.create_many([dict(d) for d in args.get("data") or []])
    return _read_back_many(svc, keys, info, args) if meta.readable else True


def _update_one(meta: RootInfo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    svc = info.context.service(meta.collection)
    key = svc.update_one(args["id"], dict(args["data"]))
    return _read_back_one(svc, key, info) if meta.readable else True


def _update_many(meta: RootInfo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    svc = info.context.service(meta.collection)
    keys = svc.update_many(list(args["ids"]), dict(args["data"]))
    return _read_back_many(svc, keys, info, args) if meta.readable else True


def _update_batch(meta: RootInfo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    svc = info.context.service(meta.collection)
    keys = svc.update_batch([dict(d) for d in args.get("data") or []])
    return _read_back_many(svc, keys, info, args) if meta.readable else True


def _update_singleton(meta: RootInfo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    svc = info.context.service(meta.collection)
    svc.upsert_singleton(dict(args["data"]))
    if not meta.readable:
        return True
    planner, level = _plan(info)
    return svc.read_singleton(planner.query(level))


def _delete_one(meta: RootInfo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    info.context.service(meta.collection).delete_one(args["id"])
    return {"id": args["id"]}


def _delete_many(meta: RootInfo, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    ids = list(args["ids"])
    if ids:
        info.context.service(meta.collection).delete_many(ids)
    return {"ids": ids}


_HANDLERS: dict[str, Callable[[RootInfo, GraphQLResolveInfo, dict[str, Any]], Any]] = {
    "list": _list,
    "by_id": _by_id,
    "singleton": _singleton,
    "me": _me,
    "my_roles": _my_roles,
    "aggregated": _aggregated,
    "connection": _connection,
    "create_one": _create_one,
    "create_many": _create_many,
    "update_one": _update_one,
    "update_many": _update_many,
    "update_batch": _update_batch,
    "update_singleton": _update_singleton,
    "delete_one": _delete_one,
    "delete_many": _delete_many,
}
