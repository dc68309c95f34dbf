"""The query language front half: request parameters into one plain :class:`Query`.

REST (query strings and SEARCH bodies), GraphQL arguments, WebSocket subscriptions and
plugin code all meet here; the compiler takes it from there with the schema in hand.
"""

from __future__ import annotations

from .export import EXPORT_TYPES, export_filename, export_items
from .filters import (
    FUNCTIONS,
    KNOWN_OPERATORS,
    LOGICAL_OPERATORS,
    UNDEFINED,
    adjust_date,
    dynamic_paths,
    filter_fields,
    has_dynamic_variables,
    normalize_filter,
    parse_function,
    resolve_dynamic,
    split_csv,
    split_path,
    validate_function_path,
    validate_operator,
)
from .model import AGGREGATE_FUNCTIONS, EXPORT_FORMATS, META_VALUES, Query
from .parse import nest_args, parse_query, parse_query_dict

__all__ = [
    "AGGREGATE_FUNCTIONS",
    "EXPORT_FORMATS",
    "EXPORT_TYPES",
    "FUNCTIONS",
    "KNOWN_OPERATORS",
    "LOGICAL_OPERATORS",
    "META_VALUES",
    "UNDEFINED",
    "Query",
    "adjust_date",
    "dynamic_paths",
    "export_filename",
    "export_items",
    "filter_fields",
    "has_dynamic_variables",
    "nest_args",
    "normalize_filter",
    "parse_function",
    "parse_query",
    "parse_query_dict",
    "resolve_dynamic",
    "split_csv",
    "split_path",
    "validate_function_path",
    "validate_operator",
]
