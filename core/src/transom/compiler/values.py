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
import uuid
from collections.abc import Callable
from typing import Any

from dateutil import parser as date_parser

from ..schema.types import plugin_field_type

CONCEALED = "**********"
_UTC = dt.UTC


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


def _out_bool(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return value.lower() in ("1", "true", "t", "yes")
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
    if type_ == "decimal" and scale is not None:
        quantum = decimal.Decimal(1).scaleb(-int(scale))

        def fixed(v: Any) -> Any:
            if v is None:
                return None
            return str(decimal.Decimal(str(v)).quantize(quantum))

        return fixed
    conv = OUT.get(type_)
    if conv is None and type_ not in IN:  # a plugin's type (registry), looked up once
        ft = plugin_field_type(type_)
        conv = ft.from_db if ft is not None else None
    return conv


# -- in ------------------------------------------------------------------------------------
def _in_int(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError_("Value has to be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ValueError_("Value has to be an integer")


def _in_float(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError_("Value has to be a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError_("Value has to be a number") from None


def _in_decimal(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError_("Value has to be a number")
    try:
        return decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        raise ValueError_("Value has to be a number") from None


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
    return json.dumps(value)


def _in_csv(value: Any) -> Any:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _in_uuid(value: Any) -> Any:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError_("Value has to be a valid UUID") from None


def _in_str(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


IN: dict[str, Callable[[Any], Any]] = {
    "integer": _in_int,
    "bigInteger": _in_int,
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


def to_db(type_: str, value: Any) -> Any:
    """Convert a JSON value for storage in a field of ``type_``; raises :class:`ValueError_`."""
    if value is None:
        return None
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
        return value if isinstance(value, str) else json.dumps(value)
    if type_ == "csv":
        return str(value)
    return to_db(type_, value)
