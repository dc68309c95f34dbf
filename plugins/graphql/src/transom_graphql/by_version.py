"""``<c>_by_version(id: ID!, version: String!)`` (singletons: ``version`` only): an item
read with a content version's delta applied, as Directus's GraphQL offers it.

The read is the ordinary one with ``version`` set on the query; the versions plugin
(transom-versions) lays the delta over the item in its ``items.read`` filter and answers
403 for an unknown key. Without that plugin the field is not offered. The answer uses the
collection's own object type (Directus has a ``version_<c>`` type whose relations are JSON).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLArgument, GraphQLID, GraphQLNonNull, GraphQLResolveInfo, GraphQLString

from transom.api import current_cms

from .meta import RootInfo
from .resolvers import _plan

VERSIONS_PLUGIN = "versions"


def offered() -> bool:
    """Whether transom-versions is loaded (it answers ``?version=``)."""
    try:
        return current_cms().pm.get_plugin(VERSIONS_PLUGIN) is not None
    except RuntimeError:  # outside an app context: no plugin to ask
        return False


def root_fields(make: Callable[..., Any], collection: str, tname: str, obj: Any,
                singleton: bool) -> dict[str, Any]:
    """The ``<tname>_by_version`` root field, built with the builder's ``_root``."""
    if not offered():
        return {}
    args: dict[str, GraphQLArgument] = {"version": GraphQLArgument(GraphQLNonNull(GraphQLString))}
    if not singleton:
        args = {"id": GraphQLArgument(GraphQLNonNull(GraphQLID)), **args}
    info = RootInfo("by_version", collection)
    return {f"{tname}_by_version": make(obj, info, args, resolve=_resolver(info, singleton))}


def _resolver(meta: RootInfo, singleton: bool) -> Callable[..., Any]:
    def resolve(_root: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        planner, level = _plan(info)
        query = planner.query(level).copy(version=args["version"])
        svc = info.context.service(meta.collection)
        if singleton:
            return svc.read_singleton(query)
        return svc.read_one(args["id"], query)
    return resolve
