"""Validation rules (filter objects applied to a payload in memory), as Directus checks
permission ``validation`` and field ``meta.validation``: one FAILED_VALIDATION per field."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ..errors import FailedValidationError

_MISSING = object()


def _num(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


def _cmp(a: Any, b: Any) -> tuple[Any, Any]:
    na, nb = _num(a), _num(b)
    if isinstance(na, int | float) and isinstance(nb, int | float):
        return na, nb
    if isinstance(a, dt.date | dt.datetime):
        a = a.isoformat()
    if isinstance(b, dt.date | dt.datetime):
        b = b.isoformat()
    return str(a), str(b)


def check_operator(op: str, value: Any, arg: Any) -> bool:
    """Whether ``value`` satisfies ``{op: arg}`` (``_MISSING`` means not submitted)."""
    if op == "_submitted":
        return (value is not _MISSING) == bool(arg)
    if value is _MISSING:
        value = None
    if op == "_eq":
        return value == arg or (value is not None and arg is not None and str(value) == str(arg))
    if op == "_neq":
        return not check_operator("_eq", value, arg)
    if op == "_null":
        return (value is None) == bool(arg)
    if op == "_nnull":
        return (value is not None) == bool(arg)
    if op == "_empty":
        return value in (None, "", [], {})
    if op == "_nempty":
        return value not in (None, "", [], {})
    if op in ("_in", "_nin"):
        items = arg if isinstance(arg, list) else str(arg).split(",")
        found = any(check_operator("_eq", value, i) for i in items)
        return found if op == "_in" else not found
    if value is None:
        return False
    if op in ("_lt", "_lte", "_gt", "_gte"):
        a, b = _cmp(value, arg)
        try:
            return {"_lt": a < b, "_lte": a <= b, "_gt": a > b, "_gte": a >= b}[op]
        except TypeError:
            return False
    if op in ("_between", "_nbetween"):
        lo, hi = arg if isinstance(arg, list) else str(arg).split(",")
        inside = check_operator("_gte", value, lo) and check_operator("_lte", value, hi)
        return inside if op == "_between" else not inside
    if op == "_regex":
        pattern = str(arg)
        m = re.fullmatch(r"/(.*)/([a-z]*)", pattern)
        flags = 0
        if m:
            pattern, fl = m.group(1), m.group(2)
            flags = re.IGNORECASE if "i" in fl else 0
        return re.search(pattern, str(value), flags) is not None
    text, needle = str(value), str(arg)
    neg = op.startswith("_n")
    base = op[2:] if neg else op[1:]
    if base.startswith("i"):
        text, needle, base = text.lower(), needle.lower(), base[1:]
    result = {"contains": needle in text, "starts_with": text.startswith(needle),
              "ends_with": text.endswith(needle), "eq": text == needle}.get(base)
    if result is None:
        return True  # operators that don't apply in memory don't block the write
    return not result if neg else result


def matches(rule: Any, data: dict[str, Any]) -> bool:
    """Evaluate a filter object against a flat item (used by subscriptions too)."""
    return not _failures(rule, data, "")


def _failures(rule: Any, data: dict[str, Any], prefix: str) -> list[tuple[str, str, Any]]:
    out: list[tuple[str, str, Any]] = []
    if not isinstance(rule, dict):
        return out
    for key, cond in rule.items():
        if key == "_and":
            for sub in cond or []:
                out.extend(_failures(sub, data, prefix))
        elif key == "_or":
            subs = [_failures(sub, data, prefix) for sub in cond or []]
            if subs and all(subs):
                out.extend(subs[0])
        elif isinstance(cond, dict):
            value = data.get(key, _MISSING) if isinstance(data, dict) else _MISSING
            for op, arg in cond.items():
                if not op.startswith("_"):
                    if isinstance(value, dict):
                        out.extend(_failures({op: arg}, value, f"{prefix}{key}."))
                    continue
                if op in ("_and", "_or"):
                    out.extend(_failures({op: [{key: c} for c in arg]}, data, prefix))
                    continue
                if value is _MISSING and op not in ("_submitted",):
                    continue  # only what is submitted is validated
                if not check_operator(op, value, arg):
                    out.append((f"{prefix}{key}", op, arg))
    return out


def validate_payload(rule: dict[str, Any], data: dict[str, Any], accountability: Any = None,
                     message: str | None = None) -> list[FailedValidationError]:
    errors: list[FailedValidationError] = []
    seen: set[str] = set()
    for field, op, arg in _failures(rule, data, ""):
        if field in seen:
            continue
        seen.add(field)
        text = message or f'Validation failed for field "{field}".'
        ext: dict[str, Any] = {}
        if op in ("_in", "_nin"):
            ext["valid" if op == "_in" else "invalid"] = arg
        elif op in ("_contains", "_ncontains", "_starts_with", "_ends_with"):
            ext["substring"] = arg
        errors.append(FailedValidationError(field, op.lstrip("_"), text, **ext))
    return errors
