"""One GraphQL request: parse, validate, check limits, execute, shape errors as Directus.

* a syntax error, a validation error (unknown field, bad argument type...), bad variables,
  or an operation over the depth/cost limits: HTTP 400, one ``GRAPHQL_VALIDATION`` error
  listing the GraphQL errors in ``extensions.errors`` (Directus's shape, samples 48-50);
* errors raised while resolving: HTTP 200 with partial ``data`` and one entry per error,
  ``extensions.code`` being the Transom error code (``FORBIDDEN``, ``RECORD_NOT_UNIQUE``...).
"""

from __future__ import annotations

import decimal
import logging
import re
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLBoolean,
    GraphQLError,
    GraphQLFloat,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.pyutils import Path

from transom.api import ErrorGroup, MethodNotAllowedError, TransomError

from .fastexec import DataExecutionContext
from .limits import check_limits
from .meta import EXT
from .resolvers import RequestContext

log = logging.getLogger("transom.graphql")


class GraphQLValidationError(TransomError):
    """The request is not a valid operation for the caller's schema (Directus's
    ``GRAPHQL_VALIDATION``); ``extensions.errors`` lists what GraphQL found."""

    code = "GRAPHQL_VALIDATION"
    status = 400
    default_message = "GraphQL validation error."

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(None, errors=errors)


class StoredValueError(TransomError):
    """A stored value its GraphQL type cannot represent (``'abc'`` in an integer column,
    written behind Transom's back): that field is null, with this error; the rest of the
    item and of the list is served (REST serves such values as stored)."""

    code = "UNREPRESENTABLE_VALUE"
    status = 200  # never an HTTP status: it only ever appears inside a GraphQL answer
    default_message = "A stored value can't be represented in its GraphQL type."


_TRUE = frozenset({"1", "true", "t", "yes"})
_FALSE = frozenset({"0", "false", "f", "no"})
_INT32 = (-(2**31), 2**31 - 1)


def _lossless(scalar: GraphQLScalarType, value: Any) -> Any:
    """``value`` as ``scalar`` when no information is lost (``"42"`` or ``Decimal("42.0")``
    for Int, ``"3.5"`` for Float, ``1``/``"false"`` for Boolean, UTF-8 bytes for String);
    raises ValueError otherwise."""
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value).decode("utf-8")  # strict: undecodable bytes are not lossless
        if scalar is GraphQLString:
            return value
    text = str(value).strip()
    if scalar is GraphQLInt or scalar is GraphQLFloat:
        try:
            number = decimal.Decimal(text)
        except decimal.InvalidOperation:
            raise ValueError(text) from None
        if not number.is_finite():
            raise ValueError(text)
        if scalar is GraphQLFloat:
            return float(number)
        if number != number.to_integral_value() or not _INT32[0] <= number <= _INT32[1]:
            raise ValueError(text)
        return int(number)
    if scalar is GraphQLBoolean:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
    raise ValueError(text)


class StoredValueExecutionContext(DataExecutionContext):
    """A read never fails because of a stored value: a scalar that refuses a value gets it
    converted losslessly, else that one field is null with an ``UNREPRESENTABLE_VALUE``
    error and a log line naming collection, field and key."""

    def execute_field(self, parent_type: GraphQLObjectType, source: Any,
                      field_nodes: list[FieldNode], path: Path) -> Any:
        # the item a scalar is completed for (a leaf completes before any nested field)
        self._item = source
        return super().execute_field(parent_type, source, field_nodes, path)

    def complete_value(self, return_type: Any, field_nodes: list[FieldNode],
                       info: GraphQLResolveInfo, path: Path, result: Any) -> Any:
        scalar = return_type.of_type if isinstance(return_type, GraphQLNonNull) \
            else return_type
        if result is None or not isinstance(scalar, GraphQLScalarType):
            return super().complete_value(return_type, field_nodes, info, path, result)
        try:
            return super().complete_value(return_type, field_nodes, info, path, result)
        except (GraphQLError, TypeError, ValueError) as exc:
            try:
                return scalar.serialize(_lossless(scalar, result))
            except (GraphQLError, TypeError, ValueError):
                pass
            raise self._unrepresentable(scalar, info, result) from exc

    def _unrepresentable(self, scalar: GraphQLScalarType, info: GraphQLResolveInfo,
                         value: Any) -> StoredValueError:
        field = info.parent_type.fields.get(info.field_name)
        meta = (field.extensions or {}).get(EXT) if field is not None else None
        collection = getattr(meta, "collection", None) or info.parent_type.name
        name = getattr(meta, "field", None) or info.field_name
        key = None
        coll = info.context.cms.schema.get(collection) if hasattr(
            info.context, "cms") else None
        item = getattr(self, "_item", None)
        if coll is not None and coll.primary_key and isinstance(item, dict):
            key = item.get(coll.primary_key)
        shown = repr(value)[:80]
        log.warning("stored value %s of %s.%s (key %r) can't be a GraphQL %s; served as "
                    "null with an error", shown, collection, name, key, scalar.name)
        return StoredValueError(
            f'The stored value {shown} of "{collection}.{name}" can\'t be represented as '
            f"{scalar.name}.", collection=collection, field=name)


@dataclass
class Request:
    """The three GraphQL-over-HTTP parameters."""

    query: str
    variables: dict[str, Any] | None = None
    operation_name: str | None = None


#: A quote that opens or closes a quoted name (not an apostrophe inside a word).
_QUOTE = re.compile(r"(?<!\w)'|'(?!\w)")


def js_quotes(message: str) -> str:
    """graphql-core quotes names with ``'``; graphql-js (so Directus) with ``"``."""
    return _QUOTE.sub('"', message)


def _formatted(error: GraphQLError) -> dict[str, Any]:
    out: dict[str, Any] = {"message": js_quotes(error.message)}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    return out


def parse_and_validate(schema: GraphQLSchema, query: str,
                       config: Any) -> tuple[Any, list[dict[str, Any]]]:
    """The document and the (formatted) syntax or validation errors of ``query``."""
    limit = int(config.get("GRAPHQL_QUERY_TOKEN_LIMIT", 5000) or 0)
    try:
        document = parse(query, max_tokens=limit if limit > 0 else None)
    except GraphQLError as exc:
        return None, [_formatted(exc)]
    rules = list(specified_rules)
    if not config.get("GRAPHQL_INTROSPECTION", True):
        rules.append(NoSchemaIntrospectionCustomRule)
    return document, [_formatted(e) for e in validate(schema, document, rules)]


class DocumentCache:
    """Parsed and validated documents per (schema, query text): validation depends on
    nothing else, and clients send the same few queries over and over. Entries hold their
    schema weakly, so an evicted schema is never kept alive by its documents."""

    #: queries longer than this are not kept (they are rare and large)
    MAX_QUERY_LENGTH = 20_000

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = max(int(capacity), 0)
        self._items: OrderedDict[tuple[int, str], tuple[Any, Any, list[dict[str, Any]]]] = (
            OrderedDict())
        self._lock = threading.Lock()

    def get(self, schema: GraphQLSchema, query: str,
            config: Any) -> tuple[Any, list[dict[str, Any]]]:
        cacheable = self.capacity > 0 and len(query) <= self.MAX_QUERY_LENGTH
        key = (id(schema), query)
        if cacheable:
            with self._lock:
                hit = self._items.get(key)
                if hit is not None and hit[0]() is schema:
                    self._items.move_to_end(key)
                    return hit[1], hit[2]
        document, errors = parse_and_validate(schema, query, config)
        if cacheable:
            with self._lock:
                self._items[key] = (weakref.ref(schema), document, errors)
                self._items.move_to_end(key)
                while len(self._items) > self.capacity:
                    self._items.popitem(last=False)
        return document, errors


def prepare(schema: GraphQLSchema, request: Request, config: Any, method: str,
            path: str = "/graphql", documents: DocumentCache | None = None,
            ) -> tuple[Any, OperationDefinitionNode, dict[str, Any]]:
    """Parse and validate; the document, its operation and coerced variables, or raise."""
    if documents is not None:
        document, errors = documents.get(schema, request.query, config)
    else:
        document, errors = parse_and_validate(schema, request.query, config)
    if errors:
        raise GraphQLValidationError(errors)
    operation = get_operation_ast(document, request.operation_name)
    if operation is None:
        message = (f'Unknown operation named "{request.operation_name}".'
                   if request.operation_name else
                   "Must provide operation name if query contains multiple operations.")
        raise GraphQLValidationError([{"message": message}])
    if method == "GET" and operation.operation != OperationType.QUERY:
        raise MethodNotAllowedError("GET", ["POST"], path)
    coerced = get_variable_values(schema, operation.variable_definitions or (),
                                  request.variables or {}, max_errors=50)
    if isinstance(coerced, list):
        raise GraphQLValidationError([_formatted(e) for e in coerced])
    limit_errors = check_limits(schema, document, operation, coerced, config)
    if limit_errors:
        raise GraphQLValidationError([_formatted(e) for e in limit_errors])
    return document, operation, coerced


def run(schema: GraphQLSchema, request: Request, context: RequestContext,
        method: str = "POST", path: str = "/graphql",
        documents: DocumentCache | None = None) -> dict[str, Any]:
    """The response body of a request that passed validation (errors raise before)."""
    config = context.cms.config
    document, _operation, _variables = prepare(schema, request, config, method, path,
                                               documents)
    result = execute(schema, document, context_value=context,
                     variable_values=request.variables or {},
                     operation_name=request.operation_name,
                     execution_context_class=StoredValueExecutionContext)
    assert isinstance(result, ExecutionResult)
    return response_body(result)


def response_body(result: ExecutionResult) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [entry for e in result.errors for entry in format_error(e)]
    body["data"] = result.data
    return body


def format_error(error: GraphQLError) -> list[dict[str, Any]]:
    """One GraphQL error as Directus answers it; an :class:`ErrorGroup` (validation of
    several fields) becomes one entry per field, each with its own code."""
    base = _formatted(error)
    if error.path is not None:
        base["path"] = list(error.path)
    original = error.original_error
    if isinstance(original, ErrorGroup):
        return [{**base, "message": e.message, "extensions": {**e.extensions, "code": e.code}}
                for e in original.errors]
    if isinstance(original, TransomError):
        return [{**base, "message": original.message,
                 "extensions": {**original.extensions, "code": original.code}}]
    if original is not None and not isinstance(original, GraphQLError):
        # Never leak a stack trace or SQL to the client; the log keeps it.
        log.error("unexpected error resolving %s", base.get("path"), exc_info=original)
        return [{**base, "message": TransomError.default_message,
                 "extensions": {"code": TransomError.code}}]
    return [{**base, "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]
