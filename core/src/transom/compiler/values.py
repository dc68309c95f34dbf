"""Values between the wire and the database, identical on every dialect.

Out (``from_db``): JSON parsed, booleans as booleans, dates ``YYYY-MM-DD``, times
``HH:MM:SS``, ``dateTime`` as ``YYYY-MM-DDTHH:MM:SS`` (no zone), ``timestamp`` as UTC
``YYYY-MM-DDTHH:MM:SS.sssZ``, uuids as strings, csv as arrays, decimals as strings (what
Directus gives on PostgreSQL and MySQL), concealed fields as ``**********``.

In (``to_db``): the reverse, with a clear ``FAILED_VALIDATION`` when a value cannot be a
value of the field's type (never a driver error and never a 500).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import math
import uuid
from collections.abc import Callable
from typing import Any

from dateutil import parser as date_parser

from ..schema.types import plugin_field_type

CONCEALED = "**********"
#: Context for decimals read back: enough digits for any column (no rounding, no error).
_WIDE = decimal.Context(prec=2100, rounding=decimal.ROUND_HALF_UP)
_UTC = dt.UTC
_log = logging.getLogger("transom.values")

#: Signed ranges of the integer types, as PostgreSQL and MySQL store them (SQLite would
#: take more, so it is checked here for every dialect alike).
INT_RANGES: dict[str, tuple[int, int]] = {
    "integer": (-(2**31), 2**31 - 1),
    "bigInteger": (-(2**63), 2**63 - 1),
}
#: Widest integer any column can hold: keys and filter values beyond it are never stored.
INT64 = INT_RANGES["bigInteger"]
#: Deepest nesting of a JSON value in a body (the JSON parser itself recurses).
MAX_JSON_DEPTH = 64


class ValueError_(ValueError):
    """A value that is not a value of the field's type; ``reason`` is shown to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _to_datetime(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:  # the C parser covers what databases return; dateutil handles the rest
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value / 1000, tz=_UTC)
    text = str(value).strip()
    if text.isdigit() and len(text) >= 11:
        return dt.datetime.fromtimestamp(int(text) / 1000, tz=_UTC)
    return date_parser.isoparse(text) if "T" in text or "-" in text[:5] else \
        date_parser.parse(text)


def _fmt_timestamp(value: Any) -> str | None:
    if isinstance(value, str) and len(value) in (19, 26) and value[10] in " T" \
            and value[4] == "-" and value[13] == ":":
        # 'YYYY-MM-DD HH:MM:SS[.ffffff]' as SQLite stores Transom's UTC values: no parsing
        return f"{value[:10]}T{value[11:19]}.{value[20:23] or '000'}Z"
    d = _to_datetime(value)
    if d is None:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=_UTC)  # stored naive: Transom always writes UTC
    if d.utcoffset():
        d = d.astimezone(_UTC)
    return d.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def _fmt_datetime(value: Any) -> str | None:
    if isinstance(value, str) and len(value) in (19, 26) and value[10] in " T" \
            and value[4] == "-" and value[13] == ":":
        return f"{value[:10]}T{value[11:19]}"
    d = _to_datetime(value)
    if d is None:
        return None
    if d.tzinfo is not None:
        d = d.astimezone(_UTC).replace(tzinfo=None)
    return d.isoformat(timespec="seconds")


def _fmt_date(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)[:10]


def _fmt_time(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.timedelta):  # PyMySQL returns TIME as timedelta
        total = int(value.total_seconds())
        return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    return str(value)[:8]


def _out_json(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        value = value.decode()
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


_TRUE_TEXT = frozenset({"1", "true", "t", "yes"})
_FALSE_TEXT = frozenset({"0", "false", "f", "no", ""})


def _out_bool(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE_TEXT or text in _FALSE_TEXT:
            return text in _TRUE_TEXT
        raise ValueError(f"{value!r} is not a boolean")  # served as stored (_tolerant)
    return bool(value)


def _out_csv(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return value
    text = str(value)
    return [v for v in text.split(",")] if text else []


def _out_decimal(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, decimal.Decimal):
        return str(value)
    return str(decimal.Decimal(str(value)))


def _out_bigint(value: Any) -> Any:
    if value is None:
        return None
    value = int(value)
    return value if abs(value) <= 2**53 - 1 else str(value)


def out_int(value: Any) -> Any:
    """Computed integers (date parts, counts): some databases answer numeric or Decimal."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _out_float(value: Any) -> Any:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _out_str(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return value


#: Converters per type. Integers and strings need none: every driver returns them as
#: ``int``/``str`` already, and skipping the call is most of the speed of a read.
OUT: dict[str, Callable[[Any], Any]] = {
    "json": _out_json,
    "boolean": _out_bool,
    "csv": _out_csv,
    "decimal": _out_decimal,
    "bigInteger": _out_bigint,
    "float": _out_float,
    "timestamp": _fmt_timestamp,
    "dateTime": _fmt_datetime,
    "date": _fmt_date,
    "time": _fmt_time,
    "uuid": _out_str,
    "binary": _out_str,
    "unknown": _out_str,
}


def out_converter(type_: str, concealed: bool = False,
                  scale: int | None = None) -> Callable[[Any], Any] | None:
    """The function that turns a stored value of ``type_`` into its JSON form (None: as is).

    ``scale`` fixes a decimal's digits, so SQLite (which stores NUMERIC as a float) gives
    ``"250.50"`` like PostgreSQL and MySQL do.
    """
    if concealed:
        return lambda v: None if v is None or v == "" else CONCEALED
    conv: Callable[[Any], Any] | None
    if type_ == "decimal" and scale is not None:
        quantum = decimal.Decimal(1).scaleb(-int(scale))

        def fixed(v: Any) -> Any:
            if v is None:
                return None
            # wide context: a (40, 10) value has more digits than the default 28
            return format(decimal.Decimal(str(v)).quantize(quantum, context=_WIDE), "f")

        conv = fixed
    else:
        conv = OUT.get(type_)
        if conv is None and type_ not in IN:  # a plugin's type (registry), looked up once
            ft = plugin_field_type(type_)
            conv = ft.from_db if ft is not None else None
    return _tolerant(conv, type_) if conv is not None else None


def _as_stored(value: Any) -> Any:
    """A stored value in a JSON-safe form, for when its type's converter cannot read it."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _tolerant(conv: Callable[[Any], Any], type_: str) -> Callable[[Any], Any]:
    """``conv`` that serves a value it cannot convert as stored, and logs it, so that one
    odd row (a legacy column, a value written behind Transom's back) never fails a read."""

    def convert(value: Any) -> Any:
        try:
            return conv(value)
        except Exception as exc:  # noqa: BLE001 - any converter failure: serve as stored
            _log.warning("stored %s value %r cannot be converted (%s); served as stored",
                         type_, value, exc)
            return _as_stored(value)

    return convert


# -- in ------------------------------------------------------------------------------------
def _parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError_("Value has to be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and len(value) <= 40:  # longer is beyond any column anyway
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ValueError_("Value has to be an integer")


def check_int(value: Any, lo: int, hi: int) -> int:
    """``value`` as an int within ``[lo, hi]``, or a :class:`ValueError_` naming the range."""
    number = _parse_int(value)
    if not lo <= number <= hi:
        raise ValueError_(f"Value has to be between {lo} and {hi}")
    return number


def _in_int(value: Any) -> Any:
    return check_int(value, *INT_RANGES["integer"])


def _in_bigint(value: Any) -> Any:
    return check_int(value, *INT64)


def _in_float(value: Any) -> Any:
    if isinstance(value, bool) or isinstance(value, str) and len(value) > 400:
        raise ValueError_("Value has to be a number")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError_("Value has to be a number") from None
    if not math.isfinite(number):
        raise ValueError_("Value has to be a finite number")
    return number


def _in_decimal(value: Any) -> Any:
    if isinstance(value, bool) or isinstance(value, str) and len(value) > 400:
        raise ValueError_("Value has to be a number")
    try:
        number = decimal.Decimal(str(value).strip())
    except decimal.InvalidOperation:
        raise ValueError_("Value has to be a number") from None
    if not number.is_finite():
        raise ValueError_("Value has to be a finite number")
    if abs(number.adjusted()) > 1000:  # no column holds it; keeps later arithmetic cheap
        raise ValueError_("Value is out of range")
    return number


def check_decimal(value: decimal.Decimal, precision: int | None,
                  scale: int | None) -> decimal.Decimal:
    """``value`` rounded to ``scale`` places, or a :class:`ValueError_` naming the range of
    a ``decimal(precision, scale)`` column (digits beyond the scale round, as the databases
    round them; digits before the point must fit)."""
    if precision is None:
        return value
    places = int(scale or 0)
    limit = decimal.Decimal(10) ** (int(precision) - places)
    quantum = decimal.Decimal(1).scaleb(-places)
    with decimal.localcontext() as ctx:
        ctx.prec = max(int(precision), 1) + 2 + abs(value.adjusted())
        rounded = value.quantize(quantum, rounding=decimal.ROUND_HALF_UP)
    if abs(rounded) >= limit:
        biggest = (limit - quantum).quantize(quantum)
        raise ValueError_(f"Value has to be between -{biggest} and {biggest}")
    return rounded


def check_text(value: str) -> str:
    """Reject a NUL character: PostgreSQL cannot store one in text, and a value that one
    database accepts and another refuses is refused everywhere."""
    if "\x00" in value:
        raise ValueError_("Value can't contain a NUL character")
    return value


def check_json(value: Any, depth: int = 0) -> Any:
    """Reject what JSON columns cannot hold: NUL characters (PostgreSQL), NaN and
    Infinity, and nesting deeper than :data:`MAX_JSON_DEPTH`."""
    if depth > MAX_JSON_DEPTH:
        raise ValueError_(f"Value is nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError_("Value has to be a finite number")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(str(key))
            check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json(item, depth + 1)
    return value


def _in_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise ValueError_("Value has to be a boolean")


def _in_datetime(value: Any) -> Any:
    """dateTime and timestamp are both stored as naive UTC (Transom always writes UTC)."""
    try:
        d = _to_datetime(value)
    except (ValueError, OverflowError):
        raise ValueError_("Value has to be a valid date") from None
    if d is not None and d.tzinfo is not None:
        d = d.astimezone(_UTC).replace(tzinfo=None)
    return d


def _in_date(value: Any) -> Any:
    try:
        d = _to_datetime(value)
    except (ValueError, OverflowError):
        raise ValueError_("Value has to be a valid date") from None
    return d.date() if d is not None else None


def _in_time(value: Any) -> Any:
    if isinstance(value, dt.time):
        return value
    try:
        return dt.time.fromisoformat(str(value))
    except ValueError:
        raise ValueError_("Value has to be a valid time") from None


def _in_json(value: Any) -> Any:
    return json.dumps(check_json(value), allow_nan=False)


def _in_csv(value: Any) -> Any:
    if isinstance(value, list):
        return check_text(",".join(str(v) for v in check_json(value)))
    return check_text(str(value))


def _in_uuid(value: Any) -> Any:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError_("Value has to be a valid UUID") from None


def _in_str(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(check_json(value), allow_nan=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError_("Value has to be a finite number")
    return check_text(str(value))


IN: dict[str, Callable[[Any], Any]] = {
    "integer": _in_int,
    "bigInteger": _in_bigint,
    "float": _in_float,
    "decimal": _in_decimal,
    "boolean": _in_bool,
    "timestamp": _in_datetime,
    "dateTime": _in_datetime,
    "date": _in_date,
    "time": _in_time,
    "json": _in_json,
    "csv": _in_csv,
    "uuid": _in_uuid,
    "string": _in_str,
    "text": _in_str,
    "hash": _in_str,
}


def to_db(type_: str, value: Any, *, precision: int | None = None,
          scale: int | None = None) -> Any:
    """Convert a JSON value for storage in a field of ``type_``; raises :class:`ValueError_`.

    ``precision``/``scale`` (a decimal column's) bound the value to what the column holds.
    """
    if value is None:
        return None
    if type_ == "decimal":
        return check_decimal(_in_decimal(value), precision, scale)
    conv = IN.get(type_)
    if conv is None:
        ft = plugin_field_type(type_)
        if ft is not None and ft.to_db is not None:
            try:
                return ft.to_db(value)
            except ValueError_:
                raise
            except (TypeError, ValueError) as exc:  # a plugin's message, as a 400
                raise ValueError_(str(exc) or f"Value is not a valid {type_}") from None
    return conv(value) if conv else value


def to_filter_value(type_: str, value: Any) -> Any:
    """A filter operand for comparison with a field of ``type_`` (JSON stays a string)."""
    if value is None:
        return None
    if type_ == "json":
        return check_text(value) if isinstance(value, str) else \
            json.dumps(check_json(value), allow_nan=False)
    if type_ == "csv":
        return check_text(str(value))
    return to_db(type_, value)
