"""The shapes of Directus 11's WebSocket messages, written down once.

Every reply is a JSON object with a ``type``; errors carry ``status: "error"`` and
``error: {code, message}``; a ``uid`` sent by the client comes back on every reply to it.
"""

from __future__ import annotations

from typing import Any

from transom.api import TransomError, dumps

#: A message the server answers with (the ``type`` of the message it answers, or its own).
Reply = dict[str, Any]


class SocketError(Exception):
    """An error answered over the socket (not an HTTP error): a code and a message."""

    def __init__(self, code: str, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        #: the connection ends after this error (auth failures, timeouts)
        self.close = close


def reply(kind: str, uid: Any = None, **fields: Any) -> Reply:
    """``{type, ...fields, uid?}``: a uid is echoed only when the client sent one."""
    out: Reply = {"type": kind, **fields}
    if uid is not None:
        out["uid"] = uid
    return out


def error(kind: str, code: str, message: str, uid: Any = None) -> Reply:
    """``{type, status: "error", error: {code, message}, uid?}`` as Directus sends it."""
    return reply(kind, uid, status="error", error={"code": code, "message": message})


def error_of(kind: str, exc: BaseException, uid: Any = None) -> Reply:
    """The socket error for any exception: Directus codes for ours, a generic one else."""
    if isinstance(exc, SocketError):
        return error(kind, exc.code, exc.message, uid)
    if isinstance(exc, TransomError):
        return error(kind, exc.code, exc.message, uid)
    return error(kind, "INTERNAL_SERVER_ERROR", "An unexpected error occurred.", uid)


def encode(message: Reply) -> str:
    """JSON text of a reply (dates, UUIDs and decimals as the REST API writes them)."""
    raw = dumps(message)
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def uid_of(message: Any) -> Any:
    """The client's ``uid`` (a string or a number), else None."""
    if isinstance(message, dict):
        uid = message.get("uid")
        if isinstance(uid, (str, int, float)) and not isinstance(uid, bool):
            return uid
    return None
