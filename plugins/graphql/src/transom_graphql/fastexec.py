"""A leaner execution context for data that is already in memory.

Once a root resolver has read the whole tree in one ItemsService call, every nested scalar
is a dict lookup; graphql-core's generic path (resolve info, argument coercion, awaitable
checks) costs several microseconds per field and row, which dominates a list of 25. Plain
scalar fields without a resolver are completed here directly; anything else (relations,
errors, non-null violations, values a scalar refuses) goes through graphql-core unchanged,
so results and errors are the same, only faster. All resolvers are synchronous.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    ExecutionContext,
    FieldNode,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
)
from graphql.pyutils import Path, Undefined


def _never_awaitable(_value: Any) -> bool:
    return False


class DataExecutionContext(ExecutionContext):
    """Completes dict-backed scalar fields without the per-field machinery."""

    is_awaitable = staticmethod(_never_awaitable)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain: dict[GraphQLObjectType, dict[str, GraphQLScalarType]] = {}

    def _plain_fields(self, parent_type: GraphQLObjectType) -> dict[str, GraphQLScalarType]:
        """Scalar fields of ``parent_type`` read by the default resolver (a null in a
        non-null one is left to graphql-core, which reports it)."""
        plain = self._plain.get(parent_type)
        if plain is None:
            plain = {}
            for name, field in parent_type.fields.items():
                ftype = field.type
                if isinstance(ftype, GraphQLNonNull):
                    ftype = ftype.of_type
                if field.resolve is None and isinstance(ftype, GraphQLScalarType):
                    plain[name] = ftype
            self._plain[parent_type] = plain
        return plain

    def execute_fields(self, parent_type: GraphQLObjectType, source_value: Any,
                       path: Path | None, fields: dict[str, list[FieldNode]]) -> Any:
        if not isinstance(source_value, dict):
            return super().execute_fields(parent_type, source_value, path, fields)
        plain = self._plain_fields(parent_type)
        results: dict[str, Any] = {}
        for response_name, field_nodes in fields.items():
            name = field_nodes[0].name.value
            scalar = plain.get(name)
            if scalar is not None:
                value = source_value.get(name)
                if value is not None:
                    try:
                        results[response_name] = scalar.serialize(value)
                        continue
                    except Exception:  # noqa: BLE001 - let graphql-core report it properly
                        pass
                elif not isinstance(parent_type.fields[name].type, GraphQLNonNull):
                    results[response_name] = None
                    continue
            elif name == "__typename":
                results[response_name] = parent_type.name
                continue
            result = self.execute_field(parent_type, source_value, field_nodes,
                                        Path(path, response_name, parent_type.name))
            if result is not Undefined:
                results[response_name] = result
        return results
