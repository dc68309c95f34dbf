"""One GraphQL request: parse, validate, check limits, execute, shape errors as Directus.

* a syntax error, a validation error (unknown field, bad argument type...), bad variables,
  or an operation over the depth/cost limits: HTTP 400, one ``GRAPHQL_VALIDATION`` error
  listing the GraphQL errors in ``extensions.errors`` (Directus's shape, samples 48-50);
* errors raised while resolving: HTTP 200 with partial ``data`` and one entry per error,
  ``extensions.code`` being the Transom error code (``FORBIDDEN``, ``RECORD_NOT_UNIQUE``...).
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
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

from transom.api import ErrorGroup, MethodNotAllowedError, TransomError

from .fastexec import DataExecutionContext
from .limits import check_limits
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
                     execution_context_class=DataExecutionContext)
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
