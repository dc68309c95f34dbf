"""REST query strings, SEARCH bodies and plain dicts into one :class:`Query`.

This is Directus's ``sanitizeQuery`` plus the syntax half of ``validateQuery``: shapes and
values are checked here (400 ``INVALID_QUERY``); names are checked against the schema later.
Query strings use ``qs`` bracket notation (``filter[title][_eq]=x``), decoded by
:func:`nest_args`; ``filter``, ``deep``, ``alias`` and ``aggregate`` may also be JSON.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from transom.errors import InvalidPayloadError, InvalidQueryError

from .filters import normalize_filter, split_csv, validate_function_path
from .model import AGGREGATE_FUNCTIONS, EXPORT_FORMATS, META_VALUES, Query

#: ``QUERYSTRING_MAX_PARSE_DEPTH``: bracket segments allowed after a parameter's name.
MAX_DEPTH = 10
#: ``QUERYSTRING_ARRAY_LIMIT``: indexes above this stay object keys (as ``qs`` does).
ARRAY_LIMIT = 500
#: JavaScript's ``Number.MAX_SAFE_INTEGER``: the largest ``limit``/``offset``/``page``.
MAX_SAFE_INTEGER = 2**53 - 1

_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT_RE = re.compile(r"\[([^\[\]]*)\]")
_INDEX_RE = re.compile(r"^(?:0|[1-9]\d*)$")
_NUMBER_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


# --------------------------------------------------------------------------- bracket parsing


class _Repeated(list):
    """Values of a parameter given more than once (``a=1&a=2``) while parsing."""


def _pairs(args: Any) -> Iterable[tuple[str, Any]]:
    if args is None:
        return ()
    items = getattr(args, "items", None)
    if hasattr(args, "getlist") and items is not None:
        try:
            return list(items(multi=True))
        except TypeError:
            pass
    if isinstance(args, Mapping):
        return list(args.items())
    return list(args)


def nest_args(
    args: Mapping[str, Any] | Iterable[tuple[str, Any]] | None,
    *,
    depth: int = MAX_DEPTH,
    array_limit: int = ARRAY_LIMIT,
) -> dict[str, Any]:
    """Decode flat bracket keys into nested data, the way ``qs`` does.

    ``a[b][c]=1`` nests, ``a[]=x`` appends, ``a[0]=x&a[1]=y`` and repeated ``a=x&a=y`` give
    lists (index gaps are closed up). More than ``depth`` brackets is a 400. Values that
    are already lists or dicts (a plain mapping from code) are taken as they are.
    """
    root: dict[str, Any] = {}
    for key, value in _pairs(args):
        key = str(key)
        match = _KEY_RE.match(key)
        segments = _SEGMENT_RE.findall(match.group(2)) if match else []
        name = match.group(1) if match else key
        if len(segments) > depth:
            raise InvalidQueryError(
                f'Query parameter "{name}" is nested deeper than {depth} levels'
            )
        _assign(root, name, segments, value)
    return {k: _finish(v, array_limit) for k, v in root.items()}


def _next_index(container: dict[str, Any]) -> str:
    numbers = [int(k) for k in container if _INDEX_RE.match(k)]
    return str(max(numbers) + 1) if numbers else "0"


def _as_container(value: Any, name: str) -> dict[str, Any]:
    """The dict to descend into, turning earlier plain values into indexed entries."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return {"0": value}


def _assign(root: dict[str, Any], name: str, segments: list[str], value: Any) -> None:
    container = root
    key = name
    for segment in segments:
        if key in container and not isinstance(container[key], dict):
            container[key] = _as_container(container[key], name)
        child = container.setdefault(key, {})
        key = _next_index(child) if segment == "" else segment
        container = child
    if key not in container:
        container[key] = value
        return
    existing = container[key]
    if isinstance(existing, _Repeated):
        existing.append(value)
    elif isinstance(existing, dict):
        if existing and all(_INDEX_RE.match(k) for k in existing):
            existing[_next_index(existing)] = value
        else:
            raise InvalidQueryError(f'Query parameter "{name}" is given in conflicting forms')
    else:
        container[key] = _Repeated([existing, value])


def _finish(value: Any, array_limit: int) -> Any:
    """Turn index-keyed dicts and repeated values into lists, depth first."""
    if isinstance(value, _Repeated):
        return [_finish(v, array_limit) for v in value]
    if isinstance(value, dict):
        done = {k: _finish(v, array_limit) for k, v in value.items()}
        if done and all(
            isinstance(k, str) and _INDEX_RE.match(k) and int(k) <= array_limit for k in done
        ):
            return [done[k] for k in sorted(done, key=int)]
        return done
    return value


# --------------------------------------------------------------------------- entry points


def parse_query(args: Any = None, *, body: Mapping[str, Any] | None = None) -> Query:
    """The :class:`Query` for a request's query string (``request.args``), with a SEARCH
    body's ``{"query": {...}}`` overriding the URL parameter by parameter."""
    raw = nest_args(args)
    if body is not None:
        if not isinstance(body, Mapping):
            raise InvalidPayloadError("Payload must be an object")
        override = body.get("query")
        if override is not None:
            if not isinstance(override, Mapping):
                raise InvalidPayloadError('"query" must be of type object')
            raw.update(override)
    return _sanitize(raw, nested=False)


def parse_query_dict(d: Mapping[str, Any] | Query | None) -> Query:
    """The :class:`Query` for the dict form used by services, GraphQL and WebSocket.

    Keys are Directus's (``fields``, ``filter``, ``sort``, ``limit``, ``offset``, ``page``,
    ``search``, ``meta``, ``aggregate``, ``groupBy``/``group``, ``deep``, ``alias``,
    ``export``, ``version``, ``versionRaw``, ``backlink``); values may be JSON types or the
    string forms a query string would carry.
    """
    if d is None:
        return Query()
    if isinstance(d, Query):
        return d.copy()
    if not isinstance(d, Mapping):
        raise InvalidQueryError('"query" must be of type object')
    return _sanitize(d, nested=False)


# --------------------------------------------------------------------------- sanitising

_NESTED_KEYS = frozenset(
    {
        "filter",
        "search",
        "sort",
        "limit",
        "offset",
        "page",
        "aggregate",
        "groupBy",
        "group",
        "alias",
    }
)


def _given(raw: Mapping[str, Any], key: str) -> bool:
    value = raw.get(key)
    return value is not None and value != "" and value != []


def _sanitize(raw: Mapping[str, Any], *, nested: bool) -> Query:
    query = Query()
    if not nested and _given(raw, "fields"):
        query.fields = _string_list(raw["fields"], "fields", functions=True)
    if _given(raw, "filter"):
        query.filter = _filter(raw["filter"])
    if isinstance(raw.get("search"), str) and raw["search"]:
        if "\x00" in raw["search"]:
            raise InvalidQueryError('"search" can\'t contain a NUL character')
        query.search = raw["search"]
    if _given(raw, "sort"):
        query.sort = _string_list(raw["sort"], "sort", functions=True)
    query.limit = _integer(raw, "limit", minimum=-1)
    query.offset = _integer(raw, "offset", minimum=0)
    query.page = _integer(raw, "page", minimum=0) or None  # page 0 is ignored, as Directus
    if not nested and _given(raw, "meta"):
        query.meta = _meta(raw["meta"])
    if _given(raw, "aggregate"):
        query.aggregate = _aggregate(raw["aggregate"])
    group_key = "groupBy" if _given(raw, "groupBy") else "group"
    if _given(raw, group_key):
        query.group = _string_list(raw[group_key], group_key, functions=True)
    if _given(raw, "alias"):
        query.alias = _alias(raw["alias"])
    if not nested:
        if _given(raw, "deep"):
            query.deep = _deep(raw["deep"])
        if _given(raw, "export"):
            query.export = _export(raw["export"])
        if isinstance(raw.get("version"), str) and raw["version"]:
            query.version = raw["version"]
        if "versionRaw" in raw or "version_raw" in raw:
            flag = raw.get("versionRaw", raw.get("version_raw"))
            query.version_raw = flag in ("", "true", True)
        if "backlink" in raw:
            query.backlink = raw["backlink"] not in (False, "false")
        if "estimate" in raw:
            query.estimate = _flag(raw["estimate"], "estimate")
        if _given(raw, "after"):
            if not isinstance(raw["after"], str) or len(raw["after"]) > 4096:
                raise InvalidQueryError('"after" must be a cursor string')
            query.after = raw["after"]
        if "keyset" in raw:
            query.keyset = _flag(raw["keyset"], "keyset")
    return query


def _flag(value: Any, name: str) -> bool:
    """A boolean parameter: ``true``/``false`` (an empty value is ``true``, as ``?x``)."""
    if value in (True, "", "true", "1"):
        return True
    if value in (False, None, "false", "0"):
        return False
    raise InvalidQueryError(f'"{name}" must be a boolean')


def _string_list(value: Any, name: str, *, functions: bool = False) -> list[str] | None:
    """A CSV string or a list whose items may hold CSV; trimmed, empties dropped."""
    if isinstance(value, str):
        chunks: list[Any] = [value]
    elif isinstance(value, list | tuple):
        chunks = list(value)
    else:
        raise InvalidQueryError(f'"{name}" must be an array')
    items: list[str] = []
    for i, chunk in enumerate(chunks):
        if not isinstance(chunk, str):
            raise InvalidQueryError(f'"{name}[{i}]" must be a string')
        for item in split_csv(chunk):
            item = item.strip()
            if item:
                if functions:
                    validate_function_path(item.lstrip("-"))
                items.append(item)
    return items or None


def _filter(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise InvalidQueryError("Invalid JSON for filter object") from exc
        if value is None:
            return None
    return normalize_filter(value) or None


def _number(value: Any) -> float | None:
    """JavaScript's ``Number()`` for the values a query can carry; ``None`` for NaN."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER_RE.match(value.strip()):
        number = float(value.strip())
        return number if math.isfinite(number) else None
    return None


def _integer(raw: Mapping[str, Any], name: str, *, minimum: int) -> int | None:
    """Joi's ``number().integer().min(n)`` with its messages."""
    value = raw.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = _number(value)
    if number is None:
        raise InvalidQueryError(f'"{name}" must be a number')
    if not number.is_integer():
        raise InvalidQueryError(f'"{name}" must be an integer')
    if number < minimum:
        raise InvalidQueryError(f'"{name}" must be greater than or equal to {minimum}')
    if abs(number) > MAX_SAFE_INTEGER:  # Joi's "safe number": what a double holds exactly
        raise InvalidQueryError(f'"{name}" must be a safe number')
    return int(number)


def _meta(value: Any) -> list[str]:
    items = _string_list(value, "meta") or []
    out: list[str] = []
    for i, item in enumerate(items):
        wanted = list(META_VALUES) if item == "*" else [item]
        for entry in wanted:
            if entry not in META_VALUES:
                raise InvalidQueryError(f'"meta[{i}]" must be one of [{", ".join(META_VALUES)}]')
            if entry not in out:
                out.append(entry)
    return out


def _aggregate(value: Any) -> dict[str, list[str]] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise InvalidQueryError('"aggregate" must be of type object') from exc
    if not isinstance(value, Mapping):
        raise InvalidQueryError('"aggregate" must be of type object')
    out: dict[str, list[str]] = {}
    for function, fields in value.items():
        if function not in AGGREGATE_FUNCTIONS:
            raise InvalidQueryError(f'Invalid aggregate function "{function}"')
        if fields is None or fields == "":
            continue
        items = _string_list(fields, f"aggregate.{function}")
        if items:
            out[function] = items
    return out or None


def _alias(value: Any) -> dict[str, str] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None  # Directus only logs a warning for a malformed alias
    if not isinstance(value, Mapping):
        return None
    out: dict[str, str] = {}
    for key, source in value.items():
        if not isinstance(key, str) or not key:
            raise InvalidQueryError('"alias" key has to be a string')
        if not isinstance(source, str) or not source:
            raise InvalidQueryError(f'"alias" value for "{key}" has to be a string')
        if "." in key or "." in source:
            raise InvalidQueryError('"alias" key/value can\'t contain a period character `.`')
        validate_function_path(source)
        out[key] = source
    return out or None


def _export(value: Any) -> str:
    if value not in EXPORT_FORMATS:
        raise InvalidQueryError(f'"export" must be one of [{", ".join(EXPORT_FORMATS)}]')
    return str(value)


def _deep(value: Any) -> dict[str, Query] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None  # Directus only logs a warning for a malformed deep
    if not isinstance(value, Mapping):
        return None
    return _deep_levels(value, depth=0) or None


def _deep_levels(level: Mapping[str, Any], *, depth: int) -> dict[str, Query]:
    """Relation name -> nested Query; keys with an underscore at this level are ignored."""
    if depth > MAX_DEPTH * 4:
        raise InvalidQueryError('"deep" is nested too deeply')
    out: dict[str, Query] = {}
    for key, value in level.items():
        if not isinstance(key, str) or not key or key.startswith("_"):
            continue
        if isinstance(value, Query):
            out[key] = value.copy()
        elif isinstance(value, Mapping):
            out[key] = _deep_query(value, depth=depth + 1)
    return out


def _deep_query(level: Mapping[str, Any], *, depth: int) -> Query:
    """One relation's level: ``_filter``/``_sort``/... form its query, other keys nest."""
    options: dict[str, Any] = {}
    relations: dict[str, Any] = {}
    for key, value in level.items():
        if not isinstance(key, str) or not key:
            continue
        if key.startswith("_"):
            name = key[1:]
            if name in _NESTED_KEYS:
                options[name] = value
        elif isinstance(value, Mapping | Query):
            relations[key] = value
    query = _sanitize(options, nested=True)
    if relations:
        query.deep = _deep_levels(relations, depth=depth) or None
    return query
