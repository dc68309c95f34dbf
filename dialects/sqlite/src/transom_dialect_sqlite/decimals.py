"""Exact decimals on SQLite: stored as canonical text, compared through a sort key.

A column whose declared type has NUMERIC affinity (``NUMERIC(25, 5)``) turns well-formed
numeric text into a REAL, which keeps 15 significant digits. The decimal columns Transom
creates are declared ``DECIMAL_TEXT(p, s)`` instead: the word ``TEXT`` gives them TEXT
affinity (SQLite's rule 2), so the canonical text written (``-12.50000``) is what is read
back, and introspection still reports a ``decimal`` with its precision and scale.

Text compares as text, so filters, sorting and keyset cursors go through
``transom_decimal_key()``, an SQL function registered on every connection whose result
orders byte-wise like the numbers do. Columns declared by hand with NUMERIC affinity keep
SQLite's own behaviour (and the 15-digit limit the writer enforces on them).
"""

from __future__ import annotations

import decimal
from typing import Any

import sqlalchemy as sa

#: ``data_type`` (introspected base of the declared type) of the exact text decimals.
TEXT_DECIMAL = "decimal_text"
#: The SQL function (registered per connection) behind :func:`decimal_key`.
KEY_FUNCTION = "transom_decimal_key"

_BIAS = 50_000  # exponent offset: 5 digits keep exponents of -49,999..49,999 in order


class DecimalText(sa.types.UserDefinedType[Any]):
    """``DECIMAL_TEXT(p, s)``: a decimal column with TEXT affinity (DDL only; values are
    bound as canonical text by :func:`canonical_text`, the sqlite3 adapter of Decimal)."""

    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        self.precision = int(precision)
        self.scale = int(scale)

    def get_col_spec(self, **_kw: Any) -> str:
        return f"DECIMAL_TEXT({self.precision}, {self.scale})"


def canonical_text(value: decimal.Decimal) -> str:
    """Plain positional notation (never ``1E-7``), zero without a sign: one spelling per
    value, so equal values are equal text and grouping works."""
    if value.is_zero():
        value = abs(value)
    return format(value, "f")


def decimal_key(value: Any) -> str | None:
    """A text that sorts byte-wise in the numeric order of ``value`` (stored text, a
    number, or anything else a row holds; non-numbers sort after every number).

    Zero is ``"1"``; a positive number ``"2"`` + biased exponent + its digits; a negative
    one ``"0"`` + the exponent and digits complemented + ``":"`` (which sorts after every
    digit, so -1.2 > -1.23 as ``"87:"`` > ``"876:"``).
    """
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    try:
        number = decimal.Decimal(str(value).strip())
    except (decimal.InvalidOperation, ValueError):
        return f"3{value}"
    if not number.is_finite():
        return f"3{value}"
    if number.is_zero():
        return "1"
    sign, digits, _exp = number.normalize().as_tuple()
    text = "".join(map(str, digits))
    exponent = min(max(number.adjusted() + _BIAS, 0), 2 * _BIAS - 1)
    if not sign:
        return f"2{exponent:05d}{text}"
    flipped = "".join(str(9 - int(ch)) for ch in text)
    return f"0{2 * _BIAS - 1 - exponent:05d}{flipped}:"


def register_functions(dbapi_connection: Any) -> None:
    """``transom_decimal_key(x)`` on one sqlite3 connection (deterministic, so SQLite may
    use it in indexes and factor it out of a query)."""
    dbapi_connection.create_function(KEY_FUNCTION, 1, decimal_key, deterministic=True)


def key_expression(expr: Any) -> Any:
    """``transom_decimal_key(expr)``, typed as text."""
    return sa.func.transom_decimal_key(expr, type_=sa.Text())
