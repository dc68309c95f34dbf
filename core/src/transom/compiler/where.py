"""Filter objects to SQL: one compiler for queries, permissions, validation lookups.

Relational paths become correlated ``EXISTS`` subqueries (o2m/m2m ``_some``/``_none``) or
``IN`` subqueries (m2o), each carrying the related collection's own read permission, so a
filter can never reveal a row or a field the caller may not read. Every field is checked
against the schema (unknown or unreadable: 403) and every operator against the field's type
(400); every value is a bound parameter.
"""

from __future__ import annotations

import math
import re
from typing import Any

import sqlalchemy as sa

from ..errors import ForbiddenError, InvalidQueryError
from ..query.filters import DATE_FUNCTIONS, parse_function, resolve_dynamic, validate_operator
from ..schema.model import Collection, Field
from .context import CompileContext
from .values import ValueError_, to_filter_value

LOGICAL = ("_and", "_or")
QUANTIFIERS = ("_some", "_none")


def escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _is_operator_object(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(
        isinstance(k, str) and k.startswith("_") and k not in LOGICAL for k in value
    )


def _field_for(ctx: CompileContext, coll: Collection, name: str, path: str,
               trusted: bool = False) -> Field:
    """The field, or 403; permission rules (``trusted``) may use fields the caller can't read."""
    f = coll.fields.get(name)
    if f is None or (not trusted and not ctx.read_access(coll).field_allowed(name)):
        raise ForbiddenError.field(name, coll.collection, path)
    return f


def compile_filter(
    ctx: CompileContext, coll: Collection, table: sa.FromClause, flt: Any, path: str = "root",
    trusted: bool = False,
) -> sa.ColumnElement[bool]:
    """Compile a filter object against ``table`` (an alias of ``coll``'s table).

    ``trusted`` filters come from permission rules: they may name fields the caller cannot
    read; a caller's own filter may not (that would reveal hidden values).
    """
    if flt is None or flt == {}:
        return sa.true()
    if not isinstance(flt, dict):
        raise InvalidQueryError("Invalid filter object: each field needs an object of operators")
    parts: list[sa.ColumnElement[bool]] = []
    for key, value in flt.items():
        if key in LOGICAL:
            if not isinstance(value, list):
                raise InvalidQueryError(f'"{key}" needs an array of filters')
            subs = [compile_filter(ctx, coll, table, v, path, trusted) for v in value]
            if key == "_and":
                parts.append(sa.and_(sa.true(), *subs))
            else:
                # An empty object inside _or means "everything" (the permission merge case).
                parts.append(sa.or_(sa.false(), *subs) if subs else sa.false())
            continue
        parts.append(_compile_key(ctx, coll, table, key, value, path, trusted))
    return sa.and_(sa.true(), *parts) if len(parts) != 1 else parts[0]


def _compile_key(ctx: CompileContext, coll: Collection, table: sa.FromClause, key: str,
                 value: Any, path: str, trusted: bool) -> sa.ColumnElement[bool]:
    fn = parse_function(key)
    if fn is not None:
        name, field_name, args = fn
        f = _field_for(ctx, coll, field_name, path, trusted)
        expr, ftype = function_expression(ctx, coll, table, name, f, args)
        if name == "json":  # json(data, n) > 10 compares numbers, as _json does
            return json_value_condition(ctx, expr, value, key)
        return compile_operators(ctx, expr, ftype, (), value, key)
    if key.startswith("$FOLLOW("):
        return _follow(ctx, coll, table, key, value, path, trusted)
    field_name, _, scope = key.partition(":")
    f = _field_for(ctx, coll, field_name, path, trusted)
    rel = ctx.schema.relation(coll.collection, field_name)
    if rel is None or (rel.kind in ("m2o", "a2o") and _is_operator_object(value)):
        if f.is_alias:
            raise InvalidQueryError(f'Field "{field_name}" can\'t be filtered on directly')
        return compile_operators(ctx, table.c[field_name], f.type, f.special, value, field_name,
                                 decimal_data_type(f))
    sub_path = field_name if path == "root" else f"{path}.{field_name}"
    if rel.kind == "m2o":
        related = ctx.schema.get(rel.related or "")
        if related is None or related.table is None or related.primary_key is None:
            raise ForbiddenError.field(field_name, coll.collection, path)
        inner = _related_select(ctx, related, value, sub_path, trusted=trusted)
        return table.c[field_name].in_(inner)
    if rel.kind == "a2o":
        if not scope:
            raise InvalidQueryError(
                f'Filtering on "{field_name}" needs a collection scope, e.g. '
                f'"{field_name}:<collection>"')
        if scope not in rel.allowed:
            raise ForbiddenError.field(key, coll.collection, path)
        related = ctx.collection(scope)
        inner = _related_select(ctx, related, value, sub_path, cast_key=True, trusted=trusted)
        return sa.and_(table.c[rel.collection_field or "collection"] == scope,
                       table.c[field_name].in_(inner))
    # o2m, m2m, m2a: rows of the related (junction) collection point back at this one.
    related = ctx.collection(rel.related or "")
    if not trusted and not ctx.read_access(related).allowed:
        raise ForbiddenError.field(field_name, coll.collection, path)
    assert rel.foreign_field is not None
    return _pointing_back(ctx, coll, table, related, rel.foreign_field, value, sub_path,
                          trusted)


_FOLLOW = re.compile(r"^\$FOLLOW\(\s*([^,\s()]+)\s*,\s*([^,\s()]+)\s*\)$")


def _follow(ctx: CompileContext, coll: Collection, table: sa.FromClause, key: str, value: Any,
            path: str, trusted: bool) -> sa.ColumnElement[bool]:
    """``$FOLLOW(collection, field)``: the rows of ``collection`` whose m2o ``field`` points
    here, filtered like an o2m that has no alias field (``_some`` unless ``_none``)."""
    m = _FOLLOW.match(key)
    if m is None:
        raise InvalidQueryError(f'Invalid "$FOLLOW" key "{key}": use '
                                "$FOLLOW(<collection>, <field>)")
    target, fk = m.groups()
    related = ctx.schema.get(target)
    rel = ctx.schema.relation(target, fk) if related is not None else None
    if related is None or related.table is None or rel is None or rel.kind != "m2o" \
            or rel.related != coll.collection:
        raise InvalidQueryError(f'"{key}": "{target}.{fk}" is not a relation to '
                                f'"{coll.collection}"')
    if not trusted:
        access = ctx.read_access(related)
        if not access.allowed or not access.field_allowed(fk):
            raise ForbiddenError.field(key, coll.collection, path)
    sub_path = key if path == "root" else f"{path}.{key}"
    return _pointing_back(ctx, coll, table, related, fk, value, sub_path, trusted)


def _pointing_back(ctx: CompileContext, coll: Collection, table: sa.FromClause,
                   related: Collection, foreign_field: str, value: Any, sub_path: str,
                   trusted: bool) -> sa.ColumnElement[bool]:
    """Whether some (``_some``, the default) or no (``_none``) row of ``related`` whose
    ``foreign_field`` holds this row's key matches ``value``."""
    quant = "_some"
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in QUANTIFIERS:
        quant, value = next(iter(value.items()))
    r_table = ctx.alias(related)
    cond = compile_filter(ctx, related, r_table, value, sub_path, trusted)
    row_filter = None if trusted else ctx.read_access(related).row_filter()
    if row_filter is not None:
        cond = sa.and_(cond, rule_condition(ctx, related, r_table, row_filter, sub_path))
    if coll.primary_key is None:
        raise InvalidQueryError(f'Collection "{coll.collection}" has no primary key to '
                                "follow a relation from")
    exists = sa.exists(
        sa.select(sa.literal(1)).select_from(r_table).where(
            r_table.c[foreign_field] == table.c[coll.primary_key], cond)
    )
    return exists if quant == "_some" else ~exists


def _related_select(ctx: CompileContext, related: Collection, value: Any, path: str,
                    cast_key: bool = False, trusted: bool = False) -> sa.Select[Any]:
    """``SELECT pk FROM related WHERE <filter> AND <related read permission>``.

    A caller's filter also carries the related collection's read rules, so filtering can't
    reveal rows the caller may not read; a permission rule's own filter (``trusted``) doesn't.
    """
    access = ctx.read_access(related)
    if not trusted and not access.allowed:
        raise ForbiddenError.collection(related.collection)
    r_table = ctx.alias(related)
    cond = compile_filter(ctx, related, r_table, value, path, trusted)
    row_filter = None if trusted else access.row_filter()
    if row_filter is not None:
        cond = sa.and_(cond, rule_condition(ctx, related, r_table, row_filter, path))
    assert related.primary_key is not None
    key: Any = r_table.c[related.primary_key]
    if cast_key:
        key = ctx.dialect.key_as_text(key)
    return sa.select(key).where(cond)


def resolve(ctx: CompileContext, flt: dict[str, Any]) -> dict[str, Any]:
    """Replace dynamic variables ($CURRENT_USER, $CURRENT_USER.<path>, $NOW...) in a
    filter; the user's and role's rows are loaded only when a deep variable needs them."""
    return resolve_dynamic(flt, ctx.dynamic_context(flt), now=ctx.now)


def rule_condition(ctx: CompileContext, coll: Collection, table: sa.FromClause,
                   rule_filter: dict[str, Any], path: str = "root") -> sa.ColumnElement[bool]:
    """The SQL of a permission rule's row filter (dynamic variables resolved; trusted, as
    the rule may name fields the caller cannot read)."""
    return compile_filter(ctx, coll, table, resolve(ctx, rule_filter), path, trusted=True)


def function_expression(ctx: CompileContext, coll: Collection, table: sa.FromClause, name: str,
                        f: Field, args: Any) -> tuple[Any, str]:
    """The SQL of ``year(date)``, ``count(o2m)``, ``count(json)``; and its result type."""
    if name in DATE_FUNCTIONS:
        if f.type not in ("date", "dateTime", "timestamp", "time"):
            raise InvalidQueryError(f'Function "{name}" can\'t be used on a "{f.type}" field')
        if f.type == "date" and name in ("hour", "minute", "second"):
            raise InvalidQueryError(f'Function "{name}" can\'t be used on a "date" field')
        if f.type == "time" and name not in ("hour", "minute", "second"):
            raise InvalidQueryError(f'Function "{name}" can\'t be used on a "time" field')
        return ctx.dialect.date_part(name, table.c[f.field]), "integer"
    if name == "count":
        rel = ctx.schema.relation(coll.collection, f.field)
        if rel is not None and rel.kind in ("o2m", "m2m", "m2a"):
            related = ctx.collection(rel.related or "")
            r_table = ctx.alias(related)
            assert coll.primary_key is not None and rel.foreign_field is not None
            cond: Any = r_table.c[rel.foreign_field] == table.c[coll.primary_key]
            row_filter = ctx.read_access(related).row_filter()
            if row_filter is not None:
                cond = sa.and_(cond, rule_condition(ctx, related, r_table, row_filter))
            sub = sa.select(sa.func.count()).select_from(r_table).where(cond)
            return sub.scalar_subquery(), "integer"
        if f.type in ("json", "csv"):
            if f.type == "csv":
                col = table.c[f.field]
                n = sa.func.length(col) - sa.func.length(sa.func.replace(col, ",", "")) + 1
                return sa.case((sa.or_(col.is_(None), col == ""), 0), else_=n), "integer"
            return ctx.dialect.json_array_length(table.c[f.field]), "integer"
        raise InvalidQueryError(f'Function "count" can\'t be used on field "{f.field}"')
    if name == "json":
        if f.type != "json":
            raise InvalidQueryError(f'Function "json" can\'t be used on a "{f.type}" field')
        path = args[0] if args else ""
        return ctx.dialect.json_extract(table.c[f.field], _json_path(path)), "string"
    raise InvalidQueryError(f'Unknown function "{name}"')


def _json_path(path: str) -> list[str | int]:
    out: list[str | int] = []
    for part in path.replace("[", ".").replace("]", "").split("."):
        if part == "":
            continue
        out.append(int(part) if part.isdigit() else part)
    return out


_NUMERIC = frozenset({"integer", "bigInteger", "float", "decimal"})


def _coerce(ftype: str, value: Any, key: str) -> Any:
    try:
        return to_filter_value(ftype, value)
    except ValueError_ as exc:
        if ftype in _NUMERIC and not _numeric(value):
            raise InvalidQueryError("Invalid numeric value") from None  # Directus's words
        raise InvalidQueryError(f'Invalid value for filter on "{key}": {exc.reason}') from None


def _numeric(value: Any) -> bool:
    """Whether JavaScript's ``Number()`` would make a number of ``value``."""
    if isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):
        return False


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [v for v in value.split(",")]
    return [value]


def decimal_data_type(f: Field) -> str | None:
    """The catalogue type of a decimal column (the dialect may compare it through a key),
    None for any other field."""
    return (f.schema or {}).get("data_type") if f.type == "decimal" else None


def compile_operators(ctx: CompileContext, col: Any, ftype: str, special: tuple[str, ...],
                      ops: Any, key: str, data_type: str | None = None
                      ) -> sa.ColumnElement[bool]:
    """Apply an object of operators (``{"_gt": 1, "_lt": 5}``) to one expression.

    ``data_type`` (a decimal column's) lets the dialect compare through an exact key."""
    if not isinstance(ops, dict):
        raise InvalidQueryError(f'Invalid filter for field "{key}": expected an object of '
                                "operators")
    parts: list[sa.ColumnElement[bool]] = []
    for op, value in ops.items():
        if op in LOGICAL:
            subs = [compile_operators(ctx, col, ftype, special, v, key, data_type) for v in
                    (value if isinstance(value, list) else [value])]
            parts.append(sa.and_(sa.true(), *subs) if op == "_and" else sa.or_(sa.false(), *subs))
            continue
        if op == "_regex":
            raise InvalidQueryError('"_regex" is only allowed in validation rules')
        validate_operator(ftype, special, op)
        parts.append(_operator(ctx, col, ftype, op, value, key, data_type))
    return sa.and_(sa.true(), *parts) if len(parts) != 1 else parts[0]


#: SQLite keeps datetimes as text in more than one spelling (``12:00:00``, ``12:00:00.000000``,
#: ``12:00:00Z``...): comparisons normalise both sides to UTC milliseconds first.
_SQLITE_INSTANT = "%Y-%m-%d %H:%M:%f"
_COMPARISONS = frozenset({"_eq", "_neq", "_lt", "_lte", "_gt", "_gte", "_in", "_nin",
                          "_between", "_nbetween"})


def _instant(col: Any) -> Any:
    """``col`` (or a bound value of its type) as SQLite's normalised UTC instant text."""
    return sa.func.strftime(_SQLITE_INSTANT, col)


def _operator(ctx: CompileContext, col: Any, ftype: str, op: str, value: Any,
              key: str, data_type: str | None = None) -> sa.ColumnElement[bool]:
    d = ctx.dialect
    if d.name == "sqlite" and ftype in ("timestamp", "dateTime") and op in _COMPARISONS \
            and value is not None:
        return _instant_operator(col, ftype, op, value, key)
    if data_type is not None and op in _COMPARISONS and value is not None \
            and d.decimal_key(col, data_type) is not None:
        return _keyed_operator(col, ftype, op, value, key,
                               lambda e: d.decimal_key(e, data_type),
                               lambda v: sa.literal(str(v), sa.Text()))
    if op in ("_null", "_nnull"):
        truthy = value is None or value is True or str(value).lower() not in ("false", "0")
        is_null = (op == "_null") == truthy
        return col.is_(None) if is_null else col.is_not(None)
    if op in ("_empty", "_nempty"):
        empty = sa.or_(col.is_(None), sa.cast(col, sa.Text) == "") if ftype != "json" else \
            col.is_(None)
        return empty if op == "_empty" else ~empty
    if op in ("_eq", "_neq"):
        if value is None:
            return col.is_(None) if op == "_eq" else col.is_not(None)
        v = _coerce(ftype, value, key)
        return col == v if op == "_eq" else col != v
    if isinstance(value, str) and "\x00" in value:
        raise InvalidQueryError(f'Invalid value for filter on "{key}": '
                                "Value can't contain a NUL character")
    if op == "_json":
        return _json_condition(ctx, col, value, key)
    if op in ("_ieq", "_nieq"):
        expr = sa.func.lower(col) == str(value).lower()
        return expr if op == "_ieq" else ~expr
    if op in ("_lt", "_lte", "_gt", "_gte"):
        v = _coerce(ftype, value, key)
        return {"_lt": col < v, "_lte": col <= v, "_gt": col > v, "_gte": col >= v}[op]
    if op in ("_in", "_nin"):
        values = [_coerce(ftype, v, key) for v in _as_list(value) if v is not None]
        if not values:
            return sa.false() if op == "_in" else sa.true()
        return col.in_(values) if op == "_in" else col.not_in(values)
    if op in ("_between", "_nbetween"):
        values = _as_list(value)
        if len(values) != 2:
            raise InvalidQueryError(f'"{op}" needs exactly two values')
        lo, hi = (_coerce(ftype, v, key) for v in values)
        expr = col.between(lo, hi)
        return expr if op == "_between" else ~expr
    text = escape_like(str(value))
    negate = op.startswith("_n") and op not in ("_null",)
    base = op[2:] if negate else op[1:]
    insensitive = base.startswith("i")
    base = base[1:] if insensitive else base
    pattern = {"contains": f"%{text}%", "starts_with": f"{text}%",
               "ends_with": f"%{text}"}.get(base)
    if pattern is None:
        raise InvalidQueryError(f'"{op}" is not supported in query filters')
    target = col if ftype in ("string", "text", "uuid", "hash") else sa.cast(col, sa.Text)
    expr = d.ilike(target, pattern) if insensitive else d.like(target, pattern)
    return ~expr if negate else expr


def _instant_operator(col: Any, ftype: str, op: str, value: Any,
                      key: str) -> sa.ColumnElement[bool]:
    """A comparison of SQLite datetimes as instants, whatever text form a row was stored in."""
    return _keyed_operator(col, ftype, op, value, key, _instant,
                           lambda v: sa.literal(v, col.type))


def _keyed_operator(col: Any, ftype: str, op: str, value: Any, key: str,
                    wrap: Any, literal: Any) -> sa.ColumnElement[bool]:
    """A comparison of ``wrap(col)`` with ``wrap(literal(operand))`` on both sides: SQLite
    datetimes as instants, text decimals as their exact sort keys."""
    def bound(v: Any) -> Any:
        return wrap(literal(_coerce(ftype, v, key)))

    left = wrap(col)
    if op in ("_in", "_nin"):
        values = [bound(v) for v in _as_list(value) if v is not None]
        if not values:
            return sa.false() if op == "_in" else sa.true()
        return left.in_(values) if op == "_in" else left.not_in(values)
    if op in ("_between", "_nbetween"):
        values = _as_list(value)
        if len(values) != 2:
            raise InvalidQueryError(f'"{op}" needs exactly two values')
        expr = left.between(bound(values[0]), bound(values[1]))
        return expr if op == "_between" else ~expr
    right = bound(value)
    return {"_eq": left == right, "_neq": left != right, "_lt": left < right,
            "_lte": left <= right, "_gt": left > right, "_gte": left >= right}[op]


#: operators whose text operands ("10" from a query string) compare as numbers if numeric
_ORDERED = frozenset({"_gt", "_gte", "_lt", "_lte", "_between", "_nbetween"})
_PG_NUMBER = r"^\s*-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?\s*$"


def _is_number(value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return bool(values) and all(isinstance(v, int | float) and not isinstance(v, bool)
                                for v in values)


def _json_number(ctx: CompileContext, text: Any) -> Any:
    """A JSON value's text as a number (PostgreSQL refuses to cast non-numbers: those are
    NULL there; SQLite and MySQL convert text with ``+ 0``)."""
    if ctx.dialect.name == "postgresql":
        return sa.case((text.regexp_match(_PG_NUMBER), sa.cast(text, sa.Float)))
    return sa.type_coerce(text, sa.Float) + 0


def _json_condition(ctx: CompileContext, col: Any, value: Any,
                    key: str) -> sa.ColumnElement[bool]:
    """Directus 11's ``_json``: ``{"a.b[0]": {"_eq": 1}}`` tests values inside a JSON
    field; a number operand compares numerically, anything else as text."""
    if not isinstance(value, dict) or not value:
        raise InvalidQueryError('"_json" must be of type object')
    parts: list[sa.ColumnElement[bool]] = []
    for path, ops in value.items():
        steps = _json_path(str(path))
        if not steps:
            raise InvalidQueryError(f'Invalid JSON path "{path}" in filter on "{key}"')
        parts.append(json_value_condition(ctx, ctx.dialect.json_extract(col, steps), ops,
                                          f"{key}.{path}"))
    return sa.and_(sa.true(), *parts) if len(parts) != 1 else parts[0]


def json_value_condition(ctx: CompileContext, text: Any, ops: Any,
                         key: str) -> sa.ColumnElement[bool]:
    """Operators on a value extracted from JSON (as text): numerically for a number
    operand (or a numeric one of ``_gt``/``_between``...), else as text."""
    if not isinstance(ops, dict):
        raise InvalidQueryError(f'Invalid filter for "{key}": expected an object of operators')
    parts: list[sa.ColumnElement[bool]] = []
    for op, operand in ops.items():
        if _is_number(operand) or (op in _ORDERED and _as_list(operand)
                                   and all(_numeric(v) for v in _as_list(operand))):
            parts.append(compile_operators(ctx, _json_number(ctx, text), "float", (),
                                           {op: operand}, key))
        else:
            parts.append(compile_operators(ctx, text, "string", (), {op: operand}, key))
    return sa.and_(sa.true(), *parts) if len(parts) != 1 else parts[0]
