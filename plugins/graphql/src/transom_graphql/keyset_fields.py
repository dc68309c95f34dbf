"""``<collection>_page``: keyset (cursor) pagination over GraphQL, Transom's opt-in.

The same code as REST's ``?keyset=true`` / ``?after=`` (``ItemsService.read_page``): the
cursor carries the sort values of a page's last item and becomes an ordinary filter for the
next page, so page 10,000 costs what page 1 does. The answer is
``{ items { ... } next_cursor }``; ``next_cursor`` is null on the last page. The Relay-style
``<collection>_connection`` keeps its offset cursors; this root is for walking big
collections.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLString,
    get_named_type,
)

from .lang import apply_lang
from .meta import RootInfo
from .planner import Level, Planner

#: the list arguments a keyset page takes (no ``offset``/``page``: the cursor replaces them)
_PAGE_OPTIONS = ("sort", "limit", "search", "after")


def page_type(tname: str, obj: GraphQLObjectType) -> GraphQLObjectType:
    return GraphQLObjectType(f"{tname}_page", {
        "items": GraphQLField(GraphQLNonNull(GraphQLList(GraphQLNonNull(obj)))),
        "next_cursor": GraphQLField(GraphQLString),
    }, description="One keyset page and the cursor of the next (Transom extension).")


def root_fields(root: Callable[..., GraphQLField], collection: str, tname: str,
                obj: GraphQLObjectType, filter_type: Any, taken: set[str],
                extra_args: dict[str, GraphQLArgument]) -> dict[str, GraphQLField]:
    """``{tname}_page`` unless a collection's own type already has that name."""
    name = f"{tname}_page"
    if name in taken:
        return {}
    args = {
        "filter": GraphQLArgument(filter_type),
        "sort": GraphQLArgument(GraphQLList(GraphQLString)),
        "limit": GraphQLArgument(GraphQLInt),
        "search": GraphQLArgument(GraphQLString),
        "after": GraphQLArgument(GraphQLString),
        **extra_args,
    }
    info = RootInfo("page", collection)
    return {name: root(GraphQLNonNull(page_type(tname, obj)), info, args, resolve_page(info))}


def resolve_page(meta: RootInfo) -> Callable[..., Any]:
    def resolve(_root: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        apply_lang(args, meta.collection)
        planner = Planner(info)
        page = get_named_type(info.return_type)
        item_type = get_named_type(page.fields["items"].type)
        nodes = [sub for subs in planner.sub_fields(page, list(info.field_nodes)).values()
                 if subs[0].name.value == "items" for sub in subs]
        level = planner.level(item_type, nodes) if nodes else Level()
        filter_arg = info.parent_type.fields[info.field_name].args["filter"].type
        query = planner.query(level, args, filter_arg, names=_PAGE_OPTIONS)
        svc = info.context.service(meta.collection)
        if query.fields is None:
            query.fields = [svc.coll().primary_key]
        query.keyset = True
        items, cursor = svc.read_page(query)
        return {"items": items, "next_cursor": cursor}

    return resolve
