"""``aggregate`` and ``groupBy``: one GROUP BY statement, shaped as Directus answers.

``aggregate[count]=*`` gives ``{"count": n}``; per-field functions give
``{"avg": {"rating": 50.5}}``; group fields come first in each row. Counts are numbers on
every dialect (Directus on PostgreSQL sends strings; clients wrap them in ``Number()``).
The numbers are the same on every dialect: ``avg`` is computed over doubles (MySQL's AVG of
integers is a 4-digit DECIMAL), sums of integers are integers, and sums, minimums and
maximums of float and decimal fields are floats.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..errors import ForbiddenError, InvalidQueryError
from ..query import AGGREGATE_FUNCTIONS, Query
from ..query.filters import parse_function
from .context import require_field
from .reader import Reader, paginate
from .values import out_converter, out_int
from .where import decimal_data_type, function_expression

_NUMERIC_ONLY = {"sum", "sumDistinct", "avg", "avgDistinct"}


def _number(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, int | float):
        return value
    try:
        f = float(value)
    except (TypeError, ValueError):
        return value
    return int(f) if f.is_integer() and "." not in str(value) else f


def _groupable(col: Any, type_: str) -> Any:
    """JSON as its text: PostgreSQL's ``json`` has no equality, so can't be grouped or
    compared, and the text form reads back the same on every dialect."""
    return sa.cast(col, sa.Text) if type_ == "json" else col


def run_aggregate(reader: Reader, collection: str, query: Query) -> list[dict[str, Any]]:
    ctx = reader.ctx
    coll = ctx.collection(collection)
    access = ctx.read_access(coll)
    table = ctx.alias(coll)
    selects: list[Any] = []
    shapers: list[Any] = []

    def field_of(name: str) -> Any:
        f = require_field(access, coll, name)
        if f.is_alias:
            raise ForbiddenError.field(name, collection)
        return f

    group_keys: list[str] = []
    group_exprs: list[Any] = []
    group_orders: list[Any] = []  # how each group key sorts (text decimals: by their key)
    aliases: dict[str, str] = {}  # "year(published_at)" -> its row key "published_at_year"
    for g in query.group or []:
        fn = parse_function(g)
        if fn is not None:
            name, field_name, args = fn
            expr, ftype = function_expression(ctx, coll, table, name, field_of(field_name), args)
            key = f"{field_name}_{name}"  # Directus 11 keys year(published_at) so
            aliases[g] = key
            keyed = None
        else:
            f = field_of(g)
            expr, ftype, key = _groupable(table.c[g], f.type), f.type, g
            keyed = ctx.dialect.decimal_key(expr, decimal_data_type(f))
        label = f"g{len(group_exprs)}"
        group_exprs.append(expr)
        group_orders.append(expr if keyed is None else keyed)
        selects.append(expr.label(label))
        conv = out_int if ftype == "integer" else out_converter(ftype)
        shapers.append((label, lambda row, out, k=key, lb=label, c=conv: out.__setitem__(
            k, c(row[lb]) if c and row[lb] is not None else row[lb])))
        group_keys.append(key)

    for fn_name, fields in (query.aggregate or {}).items():
        if fn_name not in AGGREGATE_FUNCTIONS:
            raise InvalidQueryError(f'Unknown aggregate function "{fn_name}"')
        for fname in fields:
            label = f"a{len(selects)}"
            if fname == "*":
                if fn_name not in ("count", "countAll"):
                    raise InvalidQueryError(f'"{fn_name}" needs a field, not "*"')
                selects.append(sa.func.count().label(label))
                shapers.append((label, lambda row, out, fn=fn_name, lb=label: out.__setitem__(
                    fn, int(row[lb] or 0))))
                continue
            f = field_of(fname)
            col = _groupable(table.c[fname], f.type)
            if fn_name in _NUMERIC_ONLY or fn_name in ("min", "max"):
                # SQLite's text decimals: as numbers (what the databases' NUMERIC give)
                number = ctx.dialect.decimal_number(col, decimal_data_type(f))
                col = col if number is None else number
            if fn_name in _NUMERIC_ONLY and f.type not in ("integer", "bigInteger", "float",
                                                           "decimal"):
                raise InvalidQueryError(f'"{fn_name}" can\'t be used on "{f.type}" field '
                                        f'"{fname}"')
            expr = {
                "count": lambda c: sa.func.count(c),
                "countAll": lambda c: sa.func.count(),
                "countDistinct": lambda c: sa.func.count(sa.distinct(c)),
                "sum": lambda c: sa.func.sum(c),
                "sumDistinct": lambda c: sa.func.sum(sa.distinct(c)),
                # a double on every dialect (MySQL's AVG of integers is a 4-digit DECIMAL)
                "avg": lambda c: sa.func.avg(sa.cast(c, sa.Double())),
                "avgDistinct": lambda c: sa.func.avg(sa.distinct(sa.cast(c, sa.Double()))),
                "min": lambda c: sa.func.min(c),
                "max": lambda c: sa.func.max(c),
            }[fn_name](col)
            selects.append(expr.label(label))
            if fn_name in ("min", "max"):
                conv = out_converter(f.type)
                if f.type == "decimal":
                    conv = float  # SQLite's NUMERIC keeps 1.00 as the integer 1
                elif f.type == "bigInteger":
                    conv = _number
            elif fn_name in ("count", "countAll", "countDistinct"):
                conv = out_int
            elif fn_name in ("avg", "avgDistinct") or f.type in ("float", "decimal"):
                conv = float
            elif f.type in ("integer", "bigInteger"):
                conv = out_int  # sums of integers are integers (Decimal on MySQL/PostgreSQL)
            else:
                conv = _number
            shapers.append((label, lambda row, out, fn=fn_name, fld=fname, lb=label, c=conv:
                            out.setdefault(fn, {}).__setitem__(
                                fld, c(row[lb]) if c and row[lb] is not None else row[lb])))
    if not selects:
        raise InvalidQueryError("aggregate needs at least one function")
    stmt = sa.select(*selects).select_from(table).where(reader.where(coll, table, query))
    if group_exprs:
        stmt = stmt.group_by(*group_exprs)
        order = []
        for key in query.sort or []:
            desc = key.startswith("-")
            name = key.lstrip("-")
            name = aliases.get(name, name)
            if name in group_keys:
                expr = group_orders[group_keys.index(name)]
                order.append(expr.desc() if desc else expr.asc())
            else:
                raise ForbiddenError.field(name, collection)
        stmt = stmt.order_by(*(order or group_orders))
        stmt = paginate(stmt, *reader.limit_offset(query))
    rows = reader.conn.execute(stmt).mappings().all()
    out_rows = []
    for row in rows:
        out: dict[str, Any] = {}
        for _label, shaper in shapers:
            shaper(row, out)
        out_rows.append(out)
    return out_rows
