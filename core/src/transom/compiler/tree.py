"""The ``fields`` list to a tree of what to read: columns, functions and relations per level.

``*`` expands to the fields the caller may read; ``*.*`` one level into relations; dot paths
walk m2o, o2m (and so m2m through the junction) and the ``item`` of an m2a junction, which
needs a collection scope (``item:headings.title``). A field that does not exist, or that no
rule lets the caller read, is a 403 when asked for by name; a relation into a collection the
caller cannot read is silently left out, as Directus does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import ForbiddenError, InvalidQueryError
from ..query import Query, parse_query_dict
from ..query.filters import parse_function
from ..schema.model import Collection, Field, RelationInfo
from .context import CompileContext, require_field


@dataclass
class ColumnOut:
    key: str
    field: Field


@dataclass
class FunctionOut:
    key: str
    function: str
    field: Field
    args: Any


@dataclass
class RelationOut:
    """A relational field; ``node`` is None when only its key(s) are wanted."""

    key: str
    field: Field
    rel: RelationInfo
    node: Node | None = None
    #: for a2o (m2a ``item``): one node per scoped collection
    scoped: dict[str, Node] = field(default_factory=dict)
    #: set by the reader when it read this m2o with a JOIN in the parent's statement
    joined: bool = False


@dataclass
class Node:
    coll: Collection
    query: Query
    path: str
    outputs: list[Any] = field(default_factory=list)

    def keys(self) -> set[str]:
        return {o.key for o in self.outputs}


def _split(entry: str) -> tuple[str, str | None]:
    # Dots inside a function's parentheses (json(data, a.b)) do not split a path.
    depth = 0
    for i, ch in enumerate(entry):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "." and depth == 0:
            return entry[:i], entry[i + 1:]
    return entry, None


def _deep_for(query: Query, key: str) -> Query:
    deep = query.deep or {}
    sub = deep.get(key)
    if isinstance(sub, Query):
        return sub
    if isinstance(sub, dict):
        return parse_query_dict({k.lstrip("_") if k.startswith("_") else k: v
                                 for k, v in sub.items()})
    return Query()


def function_key(name: str, field_name: str, args: tuple[Any, ...]) -> str:
    """The output key of ``name(field_name, ...)``: ``rating_year``, ``comments_count``, and
    Directus 11's ``<field>_<path>_json`` for ``json(field, path)`` (``data.a[0]`` ->
    ``data_a_0_json``)."""
    if name == "json" and args:
        path = re.sub(r"[^A-Za-z0-9]+", "_", str(args[0])).strip("_")
        return f"{field_name}_{path}_json" if path else f"{field_name}_json"
    return f"{field_name}_{name}"


def is_backlink(via: RelationInfo | None, rel: RelationInfo | None) -> bool:
    """Whether ``rel`` (a field of the collection reached through ``via``) leads straight
    back along ``via``: the o2m of an m2o just followed, or the m2o of an o2m/m2m/m2a."""
    if via is None or rel is None or rel.related != via.collection:
        return False
    if via.kind == "m2o":
        return rel.kind in ("o2m", "m2m", "m2a") and rel.foreign_field == via.field
    return rel.kind == "m2o" and rel.field == via.foreign_field


def build_tree(ctx: CompileContext, coll: Collection, fields: list[str] | None, query: Query,
               path: str = "root", depth: int = 0, via: RelationInfo | None = None,
               backlink: bool | None = None) -> Node:
    """Resolve ``fields`` against ``coll`` into a :class:`Node` (permissions applied).

    ``via`` is the relation followed to get here; with ``backlink`` false (the root
    query's ``backlink=false``) a wildcard leaves out the field that leads back along it.
    """
    if backlink is None:
        backlink = query.backlink
    max_depth = int(ctx.config.get("MAX_RELATIONAL_DEPTH", 10))
    if depth > max_depth:
        raise InvalidQueryError(f"Max relational depth of {max_depth} exceeded")
    node = Node(coll, query, path)
    access = ctx.read_access(coll)
    aliases = dict(query.alias or {})
    groups: dict[str, list[str] | None] = {}
    order: list[str] = []

    def want(head: str, rest: str | None) -> None:
        if head not in groups:
            groups[head] = []
            order.append(head)
        if rest is None:
            if groups[head] is not None and not groups[head]:
                groups[head] = None  # the key itself, nothing nested
        else:
            lst = groups[head]
            if lst is None:
                groups[head] = [rest]
            else:
                lst.append(rest)

    for entry in fields or ["*"]:
        entry = entry.strip()
        if not entry:
            continue
        head, rest = _split(entry)
        if head == "*":
            for name, f in coll.fields.items():
                if not access.field_allowed(name):
                    continue
                if f.is_alias and ctx.schema.relation(coll.collection, name) is None:
                    continue  # presentation aliases carry no data
                if not backlink and is_backlink(via, ctx.schema.relation(coll.collection, name)):
                    continue
                if rest is None:
                    if name not in groups:
                        want(name, None)
                elif ctx.schema.relation(coll.collection, name) is not None:
                    want(name, rest)
                elif name not in groups:
                    want(name, None)
            continue
        want(head, rest)

    for head in order:
        rests = groups[head]
        target = aliases.get(head, head)
        if "." in head or ("." in target and parse_function(target) is None):
            raise InvalidQueryError(f'Alias "{head}" can\'t be relational')
        fn = parse_function(target)
        if fn is not None:
            name, field_name, args = fn
            f = require_field(access, coll, field_name, path)
            key = head if head in aliases else function_key(name, field_name, args)
            node.outputs.append(FunctionOut(key, name, f, args))
            continue
        name, _, scope = target.partition(":")
        f = require_field(access, coll, name, path)
        rel = ctx.schema.relation(coll.collection, name)
        if rel is None:
            if f.is_alias:
                continue
            node.outputs.append(ColumnOut(head, f))
            continue
        sub_path = head if path == "root" else f"{path}.{head}"
        if rel.kind == "a2o":
            node.outputs.append(RelationOut(head, f, rel))  # scopes: _scoped_items
            continue
        if rests is None:
            if rel.kind == "m2o":
                node.outputs.append(ColumnOut(head, f))
                continue
            rests_for_child = None
        else:
            rests_for_child = rests
        related = ctx.schema.get(rel.related or "")
        if related is None or related.table is None:
            continue
        if not ctx.read_access(related).allowed:
            continue  # Directus leaves out relations into unreadable collections
        if rests_for_child is None:
            node.outputs.append(RelationOut(head, f, rel, None))
            continue
        child = build_tree(ctx, related, rests_for_child, _deep_for(query, head), sub_path,
                           depth + 1, rel, backlink)
        node.outputs.append(RelationOut(head, f, rel, child))
    _scoped_items(ctx, node, groups, order, query, path, depth)
    return node


def _scoped_items(ctx: CompileContext, node: Node, groups: dict[str, list[str] | None],
                  order: list[str], query: Query, path: str, depth: int) -> None:
    """Fill the per-collection nodes of m2a ``item:collection`` requests."""
    by_field: dict[str, RelationOut] = {}
    for o in node.outputs:  # the first output of each m2a field is the one kept below
        if isinstance(o, RelationOut) and o.rel.kind == "a2o":
            by_field.setdefault(o.field.field, o)
    for head in order:
        name, _, scope = head.partition(":")
        if name not in by_field:
            continue
        out = by_field[name]
        rests = groups[head]
        if not scope:
            if rests:
                targets = list(out.rel.allowed)
            else:
                continue
        else:
            if scope not in out.rel.allowed:
                raise ForbiddenError.field(head, node.coll.collection, path)
            targets = [scope]
        for target in targets:
            related = ctx.schema.get(target)
            if related is None or related.table is None or not ctx.read_access(related).allowed:
                continue
            sub_path = f"{name}:{target}" if path == "root" else f"{path}.{name}:{target}"
            child = build_tree(ctx, related, rests or ["*"], _deep_for(query, head), sub_path,
                               depth + 1)
            if target in out.scoped:
                out.scoped[target].outputs.extend(
                    o for o in child.outputs if o.key not in out.scoped[target].keys())
            else:
                out.scoped[target] = child
    # Several "item:x" heads were added as separate groups; keep one output per field.
    seen: set[str] = set()
    kept = []
    for o in node.outputs:
        if isinstance(o, RelationOut) and o.rel.kind == "a2o":
            if o.field.field in seen:
                continue
            seen.add(o.field.field)
            o.key = o.field.field
        kept.append(o)
    node.outputs = kept
