"""Filter objects: syntax normalisation, dynamic variables and small helpers.

Everything here works on the plain ``{field: {_op: value}}`` structure, without a schema
snapshot: whether a field exists (403) is decided later by the compiler. Which operators
suit which field type (400) comes from the type table of :mod:`transom.schema.types`, which
:func:`validate_operator` reads and the compiler calls with each field's type.

Shape guaranteed by :func:`normalize_filter`:

* logical groups are ``{"_and": [...]}`` / ``{"_or": [...]}`` holding lists of filter objects;
* ``{field: {_or: [...]}}`` at the top of the filter is hoisted to ``{_or: [{field: ...}]}``;
* ``"true"``/``"false"``/``"null"``/``"NULL"`` are real values; ``_in``/``_nin``/``_between``/
  ``_nbetween`` hold lists; ``_null``/``_nnull``/``_empty``/``_nempty`` hold booleans;
* ``_eq: None`` and ``_neq: None`` survive (IS NULL / IS NOT NULL); any other operator whose
  value is ``None`` or :data:`UNDEFINED` is dropped, and so is a field left without operators;
* operator names written without the underscore (``gt``) are spelled ``_gt``;
  ``item__<collection>`` keys are spelled ``item:<collection>``;
* unknown underscore operators (``_bogus``) are kept, so the compiler can name them.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from dateutil.relativedelta import relativedelta

from transom.errors import InvalidQueryError
from transom.schema.types import ALL_OPERATORS, operators_for


class _Undefined:
    """Marks a value that was never given (a GraphQL variable left unset)."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False

    def __deepcopy__(self, memo: dict[int, Any]) -> _Undefined:
        return self


#: An operator whose value is this is skipped, whatever the operator.
UNDEFINED: Any = _Undefined()

LOGICAL_OPERATORS: frozenset[str] = frozenset({"_and", "_or"})
RELATIONAL_OPERATORS: frozenset[str] = frozenset({"_some", "_none"})
LIST_OPERATORS: frozenset[str] = frozenset({"_in", "_nin", "_between", "_nbetween"})
BOOLEAN_OPERATORS: frozenset[str] = frozenset({"_null", "_nnull", "_empty", "_nempty"})
GEOMETRY_OPERATORS: frozenset[str] = frozenset(
    {"_intersects", "_nintersects", "_intersects_bbox", "_nintersects_bbox"}
)
#: Every operator name the filter syntax knows, logical and relational ones included.
KNOWN_OPERATORS: frozenset[str] = ALL_OPERATORS | LOGICAL_OPERATORS | RELATIONAL_OPERATORS
#: Operators whose value is itself an object (so ``{field: {some: {...}}}`` is unambiguous).
_OBJECT_VALUED = RELATIONAL_OPERATORS | GEOMETRY_OPERATORS | {"_json"}
#: Operators that keep a ``None`` value rather than being skipped.
_NULLABLE = frozenset({"_eq", "_neq"})

#: Functions usable in fields, filters, sort and groupBy: ``year(date_created)``.
DATE_FUNCTIONS: frozenset[str] = frozenset(
    {"year", "month", "week", "day", "weekday", "hour", "minute", "second"}
)
FUNCTIONS: frozenset[str] = DATE_FUNCTIONS | {"count", "json"}

#: Deepest nesting a filter object may have; guards the recursion against hostile input.
MAX_FILTER_DEPTH = 64
#: Most values the list operands (``_in``, ``_nin``, ...) of one filter may hold in all:
#: each is a bound parameter, and drivers take at most 65,535 per statement.
MAX_LIST_VALUES = 10_000

_FUNCTION_RE = re.compile(r"^([A-Za-z_]\w*)\((.*)\)$", re.DOTALL)
_SCALARS = (str, int, float, bool, dt.date, dt.time, decimal.Decimal, uuid.UUID)


# --------------------------------------------------------------------------- paths, functions


def split_path(path: str) -> list[str]:
    """Split a dotted path on dots outside parentheses (``a.json(data, x.y)`` is 2 parts)."""
    parts: list[str] = []
    level = 0
    start = 0
    for i, ch in enumerate(path):
        if ch == "(":
            level += 1
        elif ch == ")" and level:
            level -= 1
        elif ch == "." and level == 0:
            parts.append(path[start:i])
            start = i + 1
    parts.append(path[start:])
    return parts


def split_csv(value: str) -> list[str]:
    """Split a CSV list on commas outside parentheses, so ``json(f, p)`` stays whole."""
    items: list[str] = []
    level = 0
    start = 0
    for i, ch in enumerate(value):
        if ch == "(":
            level += 1
        elif ch == ")" and level:
            level -= 1
        elif ch == "," and level == 0:
            items.append(value[start:i])
            start = i + 1
    items.append(value[start:])
    return items


def parse_function(key: str) -> tuple[str, str, tuple[str, ...]] | None:
    """``"year(date)"`` -> ``("year", "date", ())``; ``"json(data, a.b)"`` ->
    ``("json", "data", ("a.b",))``; anything that isn't a known function -> ``None``.

    Only the key itself is looked at; for a relational path pass its last segment
    (see :func:`split_path`).
    """
    match = _FUNCTION_RE.match(key.strip())
    if not match or match.group(1) not in FUNCTIONS:
        return None
    name, inner = match.group(1), match.group(2)
    if name == "json":
        field, _, path = inner.partition(",")
        return name, field.strip(), (path.strip(),) if path.strip() else ()
    return name, inner.strip(), ()


def validate_function_path(path: str) -> None:
    """Reject a path whose segments call an unknown function or pass the wrong arguments.

    Plain field names pass untouched; whether they exist is the compiler's question.
    """
    for segment in split_path(path):
        match = _FUNCTION_RE.match(segment.strip())
        if not match:
            continue
        name = match.group(1)
        if name not in FUNCTIONS:
            raise InvalidQueryError(f'Invalid function specified "{name}"')
        parsed = parse_function(segment)
        assert parsed is not None
        _, field, args = parsed
        if not field or "," in field or (name == "json" and not args):
            raise InvalidQueryError(f'Invalid arguments for function "{name}"')


# --------------------------------------------------------------------------- normalisation


def normalize_filter(filter: Any) -> dict[str, Any] | None:
    """The canonical form of a filter object (see the module docstring).

    ``{}`` stays ``{}`` (it means "everything", as in permission rules); a filter whose
    every condition was skipped becomes ``None``.
    """
    if filter is None or filter is UNDEFINED:
        return None
    if not isinstance(filter, Mapping):
        raise InvalidQueryError('"filter" must be of type object')
    node = _node(filter, under_field=False, depth=0)
    if node is None:
        return None
    if _count_list_values(node) > MAX_LIST_VALUES:
        raise InvalidQueryError(
            f"Filter lists may hold at most {MAX_LIST_VALUES} values in all")
    return _hoist(node)


def _count_list_values(node: Any) -> int:
    """How many values the list operands of a normalised filter hold, nested ones too."""
    if isinstance(node, Mapping):
        return sum(len(v) if k in LIST_OPERATORS and isinstance(v, list)
                   else _count_list_values(v) for k, v in node.items())
    if isinstance(node, list):
        return sum(_count_list_values(v) for v in node)
    return 0


def _coerce(value: Any) -> Any:
    """Query-string spellings of booleans and null become the real values."""
    if isinstance(value, str):
        if value == "true":
            return True
        if value == "false":
            return False
        if value in ("null", "NULL"):
            return None
    return value


def _spell_key(raw: Any, value: Any, *, under_field: bool) -> str:
    key = str(raw)
    if key.startswith("_"):
        return key
    if key in ("and", "or") and isinstance(value, list):
        return "_" + key
    if key.startswith("item__") and isinstance(value, Mapping):
        return "item:" + key[len("item__") :]
    if under_field:
        candidate = "_" + key
        if candidate in KNOWN_OPERATORS and candidate not in LOGICAL_OPERATORS:
            if not isinstance(value, Mapping) or candidate in _OBJECT_VALUED:
                return candidate
    return key


def _node(d: Mapping[str, Any], *, under_field: bool, depth: int) -> dict[str, Any] | None:
    """Normalise one filter object; ``None`` when every condition in it was skipped.

    ``under_field`` says the keys may be operators of the enclosing field (rather than
    the root of a filter, a logical group member at the root, or a ``_some`` body).
    """
    if depth > MAX_FILTER_DEPTH:
        raise InvalidQueryError(f"Filter is nested deeper than {MAX_FILTER_DEPTH} levels")
    if not d:
        return {}
    out: dict[str, Any] = {}
    for raw_key, value in d.items():
        key = _spell_key(raw_key, value, under_field=under_field)
        if key in LOGICAL_OPERATORS:
            items = _logical(key, value, under_field=under_field, depth=depth)
            if items:
                out.setdefault(key, []).extend(items)
        elif key.startswith("_"):
            keep, new_value = _operator(key, value, depth=depth)
            if keep:
                out[key] = new_value
        elif isinstance(value, Mapping):
            validate_function_path(key)
            sub = _node(value, under_field=True, depth=depth + 1)
            if sub:
                out[key] = sub
        elif value is UNDEFINED:
            continue
        else:
            raise InvalidQueryError(f'Invalid filter for field "{key}"')
    return out or None


def _logical(key: str, value: Any, *, under_field: bool, depth: int) -> list[dict[str, Any]]:
    if value is UNDEFINED or value is None:
        return []
    if not isinstance(value, list | tuple):
        raise InvalidQueryError(f'"{key}" must be an array')
    items: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        if item is None or item is UNDEFINED:
            continue
        if not isinstance(item, Mapping):
            raise InvalidQueryError(f'"{key}[{i}]" must be of type object')
        sub = _node(item, under_field=under_field, depth=depth + 1)
        if sub is not None:
            items.append(sub)
    return items


def _operator(op: str, value: Any, *, depth: int) -> tuple[bool, Any]:
    """``(keep, value)`` for one operator entry."""
    if value is UNDEFINED:
        return False, None
    if op in BOOLEAN_OPERATORS:
        return True, _flag(op, value)
    if op in LIST_OPERATORS:
        return _list_value(op, value)
    if op in RELATIONAL_OPERATORS:
        if value is None:
            return False, None
        if not isinstance(value, Mapping):
            raise InvalidQueryError(f'"{op}" must be of type object')
        sub = _node(value, under_field=False, depth=depth + 1)
        return sub is not None, sub
    if op == "_json":
        return _json_value(value, depth=depth)
    if op in GEOMETRY_OPERATORS:
        if value is None:
            return False, None
        if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise InvalidQueryError(f'Invalid GeoJSON for "{op}"') from exc
        return True, value
    value = _coerce(value)
    if op not in KNOWN_OPERATORS:
        return True, value  # unknown: the compiler reports it against the field's type
    if value is None:
        return op in _NULLABLE, None
    if not isinstance(value, _SCALARS):
        raise InvalidQueryError(
            f'The filter value for "{op}" has to be a string, number, or boolean'
        )
    return True, value


def _flag(op: str, value: Any) -> bool:
    """``_null`` and friends: valueless or null means true; ``false`` inverts."""
    value = _coerce(value)
    if value is None or value == "" or value is True or value in ("1", 1):
        return True
    if value is False or value in ("0", 0):
        return False
    raise InvalidQueryError(f'"{op}" has to be a boolean')


def _list_value(op: str, value: Any) -> tuple[bool, Any]:
    if value is None:
        return False, None
    if isinstance(value, str):
        raw: list[Any] = value.split(",")
    elif isinstance(value, list | tuple):
        raw = list(value)
    elif isinstance(value, _SCALARS):
        raw = [value]
    else:
        raise InvalidQueryError(f'"{op}" has to be an array of values')
    if len(raw) > MAX_LIST_VALUES:
        raise InvalidQueryError(f'"{op}" may hold at most {MAX_LIST_VALUES} values')
    items = [_coerce(v) for v in raw if v is not UNDEFINED]
    for item in items:
        if item is not None and not isinstance(item, _SCALARS):
            raise InvalidQueryError(f'"{op}" has to be an array of values')
    if not items:
        raise InvalidQueryError(f'"{op}" has to be an array of values')
    if op in ("_between", "_nbetween") and len(items) != 2:
        raise InvalidQueryError(f'"{op}" has to be an array of two values')
    return True, items


def _json_value(value: Any, *, depth: int) -> tuple[bool, Any]:
    if value is None:
        return False, None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise InvalidQueryError('"_json" must be of type object') from exc
    if not isinstance(value, Mapping):
        raise InvalidQueryError('"_json" must be of type object')
    out: dict[str, Any] = {}
    for path, sub in value.items():
        if not isinstance(sub, Mapping):
            raise InvalidQueryError(f'Invalid filter for JSON path "{path}"')
        node = _node(sub, under_field=True, depth=depth + 1)
        if node:
            out[str(path)] = node
    if value and not out:
        return False, None
    return True, out


def _hoist(node: dict[str, Any]) -> dict[str, Any]:
    """Lift ``{field: {_or: [a, b]}}`` to ``{_or: [{field: a}, {field: b}]}`` (Directus does
    this at the top of a filter and inside top-level groups, so logic reads root-first)."""
    out: dict[str, Any] = {}
    lifted: list[tuple[str, list[dict[str, Any]]]] = []
    for key, value in node.items():
        if key in LOGICAL_OPERATORS:
            out[key] = [_hoist(item) for item in value]
        elif (
            not key.startswith("_")
            and isinstance(value, dict)
            and len(value) == 1
            and next(iter(value)) in LOGICAL_OPERATORS
        ):
            op, children = next(iter(value.items()))
            lifted.append((op, [_hoist({key: _hoist(child)}) for child in children]))
        else:
            out[key] = value
    for op, items in lifted:
        if op not in out:
            out[op] = items
        elif op == "_and":
            out["_and"].extend(items)
        else:
            out.setdefault("_and", []).append({op: items})
    return out


# --------------------------------------------------------------------------- inspection


def filter_fields(filter: Mapping[str, Any] | None) -> set[str]:
    """Dotted paths of the fields a filter compares (``author.name``, ``year(date)``).

    A relation that is only walked through is not listed on its own; ``_some``/``_none``
    bodies continue the relation's path; a ``_json`` condition names its JSON field.
    """
    out: set[str] = set()
    if filter:
        _collect_fields(filter, "", out)
    return out


def _collect_fields(node: Mapping[str, Any], prefix: str, out: set[str]) -> None:
    for key, value in node.items():
        if key in LOGICAL_OPERATORS:
            for item in value or ():
                if isinstance(item, Mapping):
                    _collect_fields(item, prefix, out)
        elif key in RELATIONAL_OPERATORS:
            if isinstance(value, Mapping):
                _collect_fields(value, prefix, out)
        elif key.startswith("_"):
            if prefix:
                out.add(prefix)
        elif isinstance(value, Mapping):
            _collect_fields(value, f"{prefix}.{key}" if prefix else key, out)


def validate_operator(type_: str, special: Iterable[str] | None, op: str) -> None:
    """Raise Directus's 400 when ``op`` cannot be used on a field of ``type_``/``special``."""
    if op not in operators_for(type_, tuple(special or ())):
        raise InvalidQueryError(f'"{type_}" field type does not contain the "{op}" filter operator')


# --------------------------------------------------------------------------- dynamic variables

_NOW_RE = re.compile(r"^\$NOW(?:\((.*)\))?$", re.DOTALL)
_ADJUST_RE = re.compile(r"^\s*([+-])?\s*(\d+)\s*([A-Za-z]+)\s*$")
_UNITS: dict[str, str] = {
    **dict.fromkeys(("y", "yr", "yrs", "year", "years"), "years"),
    **dict.fromkeys(("mo", "mon", "mons", "month", "months"), "months"),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), "weeks"),
    **dict.fromkeys(("d", "day", "days"), "days"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "hours"),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), "minutes"),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "seconds"),
    **dict.fromkeys(("ms", "millisecond", "milliseconds"), "milliseconds"),
}


def adjust_date(base: dt.datetime, adjustment: str) -> dt.datetime:
    """``base`` moved by ``"-1 year"``, ``"+2 hours"``, ``"3 days"``, ``"-30m"``...

    Calendar units (years, months) keep the day of month where possible. ``M`` alone is
    months and ``m`` minutes, as in the usual date libraries.
    """
    match = _ADJUST_RE.match(adjustment)
    if not match:
        raise InvalidQueryError(f'Invalid date adjustment "{adjustment.strip()}"')
    sign, amount, unit = match.groups()
    name = "months" if unit == "M" else _UNITS.get(unit.lower())
    if name is None:
        raise InvalidQueryError(f'Invalid date adjustment "{adjustment.strip()}"')
    n = int(amount) * (-1 if sign == "-" else 1)
    if name == "milliseconds":
        return base + dt.timedelta(milliseconds=n)
    return base + relativedelta(**{name: n})


def _ctx(context: Any, name: str) -> Any:
    """Read ``name`` from a dict context, or an object such as ``Accountability``."""
    if context is None:
        return None
    if isinstance(context, Mapping):
        return context.get(name)
    value = getattr(context, name, None)
    if value is None:
        extra = getattr(context, "extra", None)
        if isinstance(extra, Mapping):
            value = extra.get(name)
    return value


def _dig(data: Any, segments: list[str]) -> Any:
    """Follow a path through nested dicts; lists are mapped over (``teams.id`` -> ids)."""
    current = data
    for i, segment in enumerate(segments):
        if current is None:
            return None
        if isinstance(current, list | tuple):
            if segment.isdigit():
                index = int(segment)
                current = current[index] if index < len(current) else None
                continue
            rest = segments[i:]
            return [_dig(item, rest) for item in current]
        if isinstance(current, Mapping):
            current = current.get(segment)
        else:
            current = getattr(current, segment, None)
    return current


def _resolve_value(value: str, context: Any, now: dt.datetime) -> Any:
    if not value.startswith("$"):
        return value
    match = _NOW_RE.match(value)
    if match:
        adjustment = match.group(1)
        return adjust_date(now, adjustment) if adjustment and adjustment.strip() else now
    if value == "$CURRENT_USER":
        return _ctx(context, "user")
    if value == "$CURRENT_ROLE":
        return _ctx(context, "role")
    if value == "$CURRENT_ROLES":
        return list(_ctx(context, "roles") or [])
    if value == "$CURRENT_POLICIES":
        return list(_ctx(context, "policies") or [])
    for prefix, data_key, id_key in (
        ("$CURRENT_USER.", "user_data", "user"),
        ("$CURRENT_ROLE.", "role_data", "role"),
    ):
        if value.startswith(prefix):
            path = value[len(prefix) :]
            data = _ctx(context, data_key)
            if data is None and path == "id":
                return _ctx(context, id_key)
            return _dig(data, path.split("."))
    return value


def resolve_dynamic(filter: Any, context: Any = None, *, now: dt.datetime | None = None) -> Any:
    """A copy of ``filter`` with ``$NOW``, ``$NOW(<adjustment>)``, ``$CURRENT_USER``,
    ``$CURRENT_ROLE``, ``$CURRENT_ROLES``, ``$CURRENT_POLICIES`` and the deep forms
    ``$CURRENT_USER.<path>`` / ``$CURRENT_ROLE.<path>`` replaced by values.

    ``context`` is a dict (or object) with ``user``, ``role``, ``roles``, ``policies``,
    ``user_data`` and ``role_data``; the ``*_data`` dicts hold what :func:`dynamic_paths`
    said was needed. ``now`` defaults to the current UTC time (naive values count as UTC).
    """
    if now is None:
        now = dt.datetime.now(dt.UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    return _walk_values(filter, lambda s: _resolve_value(s, context, now))


def _walk_values(obj: Any, fn: Any) -> Any:
    if isinstance(obj, str):
        return fn(obj)
    if isinstance(obj, Mapping):
        return {k: _walk_values(v, fn) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_walk_values(v, fn) for v in obj]
    return obj


def _iter_strings(obj: Any) -> Iterable[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, Mapping):
        for v in obj.values():
            yield from _iter_strings(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            yield from _iter_strings(v)


def dynamic_paths(filter: Any) -> dict[str, set[str]]:
    """Which fields of the current user and role the filter's deep variables read.

    ``{"user": {"avatar.filesize"}, "role": {"name"}}``: the caller fetches these into
    ``user_data``/``role_data`` before :func:`resolve_dynamic`.
    """
    out: dict[str, set[str]] = {"user": set(), "role": set()}
    for value in _iter_strings(filter):
        if value.startswith("$CURRENT_USER.") and len(value) > len("$CURRENT_USER."):
            out["user"].add(value[len("$CURRENT_USER.") :])
        elif value.startswith("$CURRENT_ROLE.") and len(value) > len("$CURRENT_ROLE."):
            out["role"].add(value[len("$CURRENT_ROLE.") :])
    return out


def has_dynamic_variables(obj: Any) -> bool:
    """Whether any value is a dynamic variable (answers that must not be shared by cache)."""
    return any(
        s.startswith(("$NOW", "$CURRENT_USER", "$CURRENT_ROLE", "$CURRENT_POLICIES"))
        for s in _iter_strings(obj)
    )
