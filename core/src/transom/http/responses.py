"""JSON in and out: orjson serialisation once per response, Directus's headers."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

import orjson
from flask import Response, request

from ..errors import InvalidPayloadError

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.timedelta):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(data: Any) -> bytes:
    return orjson.dumps(data, default=_default, option=_OPTIONS)


def json_response(
    data: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
    mimetype: str = "application/json",
) -> Response:
    resp = Response(dumps(data), status=status, mimetype=mimetype)
    resp.headers["Cache-Control"] = "no-cache"
    if headers:
        resp.headers.update(headers)
    return resp


def no_content() -> Response:
    """Directus answers 204 with an empty body when there is no payload to send."""
    return Response(status=204)


def request_json(default: Any = None) -> Any:
    """The request body as JSON; malformed JSON is a 400 ``INVALID_PAYLOAD``."""
    data = request.get_data(cache=True)
    if not data or not data.strip():
        return default
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidPayloadError(f"Invalid JSON body: {exc.msg}") from exc
