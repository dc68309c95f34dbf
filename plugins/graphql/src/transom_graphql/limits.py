"""Depth and cost limits, checked after validation and before anything touches the database.

Depth counts nested fields (``{ a { b { c } } }`` is 3); introspection fields (``__schema``,
``__type``, ``__typename``) are not counted, so GraphQL tools keep working.

Cost estimates the work an operation may cause: every field costs 1, and the selection of
a field that returns rows (it takes ``limit`` or ``first``) costs as many times as the rows
it may return: the literal or variable value of ``limit``/``first``; when absent,
``QUERY_LIMIT_DEFAULT`` for a root field and :data:`NESTED_ROWS` for a nested one; ``-1``
counts as ``QUERY_LIMIT_MAX`` (or :data:`UNBOUNDED_ROWS` when that is unlimited).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

from transom.api import limit_settings

#: Rows assumed for a nested list field without ``limit``.
NESTED_ROWS = 10
#: Rows assumed for ``limit: -1`` when ``QUERY_LIMIT_MAX`` is unlimited.
UNBOUNDED_ROWS = 1000


class _Measure:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode],
                 variables: dict[str, Any], default_rows: int, max_rows: int) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.default_rows = default_rows
        self.max_rows = max_rows

    def rows(self, node: FieldNode, field_def: Any, root: bool) -> int:
        arg_name = next((n for n in ("limit", "first") if n in field_def.args), None)
        if arg_name is None:
            return 1
        value: Any = None
        for arg in node.arguments or ():
            if arg.name.value != arg_name:
                continue
            if isinstance(arg.value, IntValueNode):
                value = int(arg.value.value)
            elif isinstance(arg.value, VariableNode):
                value = self.variables.get(arg.value.name.value)
        if not isinstance(value, int) or isinstance(value, bool):
            return self.default_rows if root else NESTED_ROWS
        if value < 0:
            return self.max_rows
        return max(value, 1)

    def selection(self, parent: Any, selection_set: SelectionSetNode | None, root: bool,
                  seen: frozenset[str] = frozenset()) -> tuple[int, int]:
        """(depth, cost) of a selection set on ``parent``."""
        if selection_set is None:
            return 0, 0
        depth = cost = 0
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                name = sel.name.value
                if name.startswith("__"):
                    continue
                fields = getattr(parent, "fields", None) or {}
                field_def = fields.get(name)
                if field_def is None:
                    continue
                child = get_named_type(field_def.type)
                d, c = self.selection(child, sel.selection_set, False, seen)
                depth = max(depth, d + 1)
                cost += 1 + self.rows(sel, field_def, root) * c
            elif isinstance(sel, InlineFragmentNode):
                target = parent
                if sel.type_condition is not None:
                    target = self.schema.get_type(sel.type_condition.name.value) or parent
                d, c = self.selection(target, sel.selection_set, root, seen)
                depth, cost = max(depth, d), cost + c
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                frag = self.fragments.get(name)
                if frag is None or name in seen:
                    continue
                target = self.schema.get_type(frag.type_condition.name.value) or parent
                d, c = self.selection(target, frag.selection_set, root, seen | {name})
                depth, cost = max(depth, d), cost + c
        return depth, cost


def measure(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
            variables: dict[str, Any], config: Any) -> tuple[int, int]:
    """The (depth, cost) of ``operation`` (see the module docstring)."""
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    default_rows, max_rows = limit_settings(config)
    unbounded = max_rows if max_rows >= 0 else UNBOUNDED_ROWS
    if default_rows < 0:
        default_rows = unbounded
    root: GraphQLObjectType | None
    if operation.operation == OperationType.MUTATION:
        root = schema.mutation_type
    elif operation.operation == OperationType.SUBSCRIPTION:
        root = schema.subscription_type
    else:
        root = schema.query_type
    m = _Measure(schema, fragments, variables, default_rows, unbounded)
    return m.selection(root, operation.selection_set, True)


def check_limits(schema: GraphQLSchema, document: DocumentNode,
                 operation: OperationDefinitionNode, variables: dict[str, Any],
                 config: Any) -> list[GraphQLError]:
    """Errors for an operation deeper or costlier than ``GRAPHQL_MAX_DEPTH``/``_COST``."""
    max_depth = int(config.get("GRAPHQL_MAX_DEPTH", 10) or 0)
    max_cost = int(config.get("GRAPHQL_MAX_COST", 100_000) or 0)
    if max_depth <= 0 and max_cost <= 0:
        return []
    depth, cost = measure(schema, document, operation, variables, config)
    errors = []
    if 0 < max_depth < depth:
        errors.append(GraphQLError(
            f"Query depth of {depth} exceeds the maximum depth of {max_depth} "
            "(GRAPHQL_MAX_DEPTH).", operation))
    if 0 < max_cost < cost:
        errors.append(GraphQLError(
            f"Query cost of {cost} exceeds the maximum cost of {max_cost} "
            "(GRAPHQL_MAX_COST).", operation))
    return errors
