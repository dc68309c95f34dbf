"""The data chain's two tools: ``{{ path }}`` templates and Directus filters evaluated in
memory (the condition operation).

A string that is one whole template (``"{{ $trigger.payload }}"``) becomes the value at that
path with its JSON type; templates inside longer text are replaced by their text (objects and
lists as JSON, a missing value as an empty string). Paths use dots and ``[n]`` indexes:
``$trigger.payload.tags[0]``, ``$last.id``, ``read_post.title``.
"""

from __future__ import annotations

import json
import re
from typing import Any

_WHOLE = re.compile(r"^\s*\{\{\s*([^{}]+?)\s*\}\}\s*$")
_PART = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
_INDEX = re.compile(r"\[(\d+)\]")
_MISSING = object()


def lookup(data: Any, path: str) -> Any:
    """The value at ``path`` in ``data``, or None when any step is missing."""
    value = _walk(data, path)
    return None if value is _MISSING else value


def _walk(data: Any, path: str) -> Any:
    current = data
    for part in _INDEX.sub(r".\1", path.strip()).split("."):
        if part == "":
            continue
        if isinstance(current, dict):
            if part not in current:
                return _MISSING
            current = current[part]
        elif isinstance(current, list) and part.isdigit():
            index = int(part)
            if index >= len(current):
                return _MISSING
            current = current[index]
        else:
            return _MISSING
    return current


def _text(value: Any) -> str:
    if value is None or value is _MISSING:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def render(value: Any, data: dict[str, Any]) -> Any:
    """``value`` (options of an operation) with every template filled from ``data``."""
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        if whole:
            return lookup(data, whole.group(1))
        if "{{" not in value:
            return value
        return _PART.sub(lambda m: _text(_walk(data, m.group(1))), value)
    if isinstance(value, dict):
        return {k: render(v, data) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, data) for v in value]
    return value


# -- filters in memory ------------------------------------------------------------------------
class FilterSyntaxError(ValueError):
    """A condition's filter is not a Directus filter (an operator we do not know...)."""


def _num(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _compare(a: Any, b: Any, op: str) -> bool:
    a, b = _num(a), _num(b)
    try:
        if op == "_lt":
            return a < b
        if op == "_lte":
            return a <= b
        if op == "_gt":
            return a > b
        return a >= b
    except TypeError:
        return False


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [v.strip() for v in value.split(",")]
    return [value]


def _operator(op: str, actual: Any, expected: Any) -> bool:
    text = "" if actual is None else str(actual)
    checks: dict[str, Any] = {
        "_eq": lambda: actual == expected or (
            actual is not None and expected is not None and _num(actual) == _num(expected)
            and not isinstance(actual, bool)),
        "_neq": lambda: not _operator("_eq", actual, expected),
        "_lt": lambda: _compare(actual, expected, "_lt"),
        "_lte": lambda: _compare(actual, expected, "_lte"),
        "_gt": lambda: _compare(actual, expected, "_gt"),
        "_gte": lambda: _compare(actual, expected, "_gte"),
        "_in": lambda: any(_operator("_eq", actual, e) for e in _as_list(expected)),
        "_nin": lambda: not any(_operator("_eq", actual, e) for e in _as_list(expected)),
        "_null": lambda: (actual is None) == _truthy(expected),
        "_nnull": lambda: (actual is not None) == _truthy(expected),
        "_empty": lambda: _empty(actual) == _truthy(expected),
        "_nempty": lambda: (not _empty(actual)) == _truthy(expected),
        "_contains": lambda: _contains(actual, expected),
        "_ncontains": lambda: not _contains(actual, expected),
        "_icontains": lambda: str(expected).lower() in text.lower(),
        "_nicontains": lambda: str(expected).lower() not in text.lower(),
        "_starts_with": lambda: text.startswith(str(expected)),
        "_nstarts_with": lambda: not text.startswith(str(expected)),
        "_istarts_with": lambda: text.lower().startswith(str(expected).lower()),
        "_ends_with": lambda: text.endswith(str(expected)),
        "_nends_with": lambda: not text.endswith(str(expected)),
        "_iends_with": lambda: text.lower().endswith(str(expected).lower()),
        "_between": lambda: _between(actual, expected),
        "_nbetween": lambda: not _between(actual, expected),
        "_regex": lambda: _regex(text, expected),
    }
    check = checks.get(op)
    if check is None:
        raise FilterSyntaxError(f'Unknown filter operator "{op}"')
    return bool(check())


def _truthy(value: Any) -> bool:
    return value not in (False, "false", 0, "0")


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):
        return expected in actual
    return actual is not None and str(expected) in str(actual)


def _between(actual: Any, expected: Any) -> bool:
    bounds = _as_list(expected)
    if len(bounds) != 2:
        raise FilterSyntaxError("_between needs two values")
    return _compare(actual, bounds[0], "_gte") and _compare(actual, bounds[1], "_lte")


def _regex(text: str, expected: Any) -> bool:
    pattern = str(expected)
    if len(pattern) > 2 and pattern.startswith("/") and pattern.rfind("/") > 0:
        pattern = pattern[1:pattern.rfind("/")]
    try:
        return re.search(pattern, text) is not None
    except re.error as exc:
        raise FilterSyntaxError(f"Bad _regex pattern: {exc}") from exc


def matches(flt: Any, data: Any) -> bool:
    """Does ``data`` satisfy the Directus filter ``flt`` (nested objects are paths)?"""
    if flt is None or flt == {}:
        return True
    if not isinstance(flt, dict):
        raise FilterSyntaxError("A filter must be an object")
    for key, sub in flt.items():
        if key == "_and":
            if not all(matches(f, data) for f in _clauses(sub, key)):
                return False
        elif key == "_or":
            if not any(matches(f, data) for f in _clauses(sub, key)):
                return False
        elif key.startswith("_"):
            if not _operator(key, data, sub):
                return False
        else:
            value = data.get(key) if isinstance(data, dict) else None
            if isinstance(sub, dict) and not any(k.startswith("_") for k in sub) and \
                    isinstance(value, list):
                # a list value and a nested filter: some element must match (Directus's m2m)
                if not any(matches(sub, v) for v in value):
                    return False
            elif not matches(sub, value):
                return False
    return True


def _clauses(value: Any, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise FilterSyntaxError(f"{key} takes a list of filters")
    return value
