"""Process-wide logging set-up: JSON lines or human-readable text on stdout.

Directus logs through pino: one JSON object per line when the output is collected by a
machine, a readable line when a person watches a terminal. ``LOG_STYLE`` picks ``raw``
(JSON), ``pretty`` or ``auto`` (pretty only when stdout is a terminal); ``LOG_LEVEL`` takes
Directus's level names. Everything under the ``transom`` logger goes through one handler,
installed once per process however many apps are created (tests create hundreds), and left
propagating so that pytest's ``caplog`` and an embedding application still see the records.

Lines written inside a request carry its request id, so the access-log line and any
warning logged while serving it can be joined.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
from collections.abc import Mapping
from typing import IO, Any

import orjson

#: Directus's level names mapped to the standard library's numbers.
TRACE = 5
LEVELS: dict[str, int] = {
    "fatal": logging.CRITICAL,
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
    "silent": logging.CRITICAL + 50,
}
logging.addLevelName(TRACE, "TRACE")

ROOT_LOGGER = "transom"
_HANDLER_MARK = "_transom_handler"
_lock = threading.Lock()

#: Attributes every ``LogRecord`` has; anything else came from ``extra=`` and is printed.
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__
) | {"message", "asctime", "taskName"}


def level_name(levelno: int) -> str:
    """Directus's name for a numeric level (pino's labels)."""
    if levelno >= logging.CRITICAL:
        return "fatal"
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    if levelno >= logging.INFO:
        return "info"
    if levelno >= logging.DEBUG:
        return "debug"
    return "trace"


def parse_level(value: Any) -> int:
    """A ``LOG_LEVEL`` value as a number; unknown names fall back to ``info``."""
    return LEVELS.get(str(value or "info").strip().lower(), logging.INFO)


def current_request_id() -> str | None:
    """The id of the request being served in this thread, if any."""
    try:  # lazy: the base layer does not load Flask (only a request thread has one)
        from flask import has_request_context, request
    except ImportError:  # pragma: no cover - Flask is a dependency
        return None
    if not has_request_context():
        return None
    return request.environ.get("transom.request_id")


def _iso(created: float) -> str:
    stamp = dt.datetime.fromtimestamp(created, dt.UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items()
            if k not in _STANDARD_ATTRS and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time level logger msg`` then the record's extras."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": _iso(record.created),
            "level": level_name(record.levelno),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = current_request_id()
        if rid is not None:
            data["request_id"] = rid
        data.update(_extras(record))
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(data, default=str).decode()


_COLORS = {"fatal": "\x1b[41m", "error": "\x1b[31m", "warn": "\x1b[33m", "info": "\x1b[32m",
           "debug": "\x1b[34m", "trace": "\x1b[90m"}
_RESET = "\x1b[0m"
#: Access-log fields the message already shows ("GET /items/a 200").
_IN_MESSAGE = frozenset({"method", "path", "status"})


class PrettyFormatter(logging.Formatter):
    """``[12:00:00.123] INFO (transom.access): GET /items/a 200 key=value`` for people."""

    def __init__(self, color: bool = False) -> None:
        super().__init__()
        self.color = color

    def format(self, record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        name = level_name(record.levelno)
        label = name.upper()
        if self.color:
            label = f"{_COLORS[name]}{label}{_RESET}"
        line = f"[{stamp}] {label} ({record.name}): {record.getMessage()}"
        fields = {k: v for k, v in _extras(record).items() if k not in _IN_MESSAGE}
        rid = current_request_id()
        if rid is not None:
            fields.setdefault("request_id", rid)
        duration = fields.pop("duration_ms", None)
        if duration is not None:
            line += f" {duration}ms"
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


_target = "stdout"


def set_log_stream(name: str) -> None:
    """Send the process's log lines to ``"stdout"`` (servers, the default) or ``"stderr"``.

    A command printing data on stdout (``transom plugins --json``) moves the logs out of
    its way.
    """
    global _target
    if name not in ("stdout", "stderr"):
        raise ValueError(f"log stream {name!r}: choose stdout or stderr")
    _target = name


def _process_stream() -> IO[str]:
    """The process's own stdout (or stderr), looked up on every line, never kept.

    ``sys.__stdout__`` rather than ``sys.stdout``: logs are a channel of their own, so a
    command that redirects ``sys.stdout`` to collect its output (click's test runner,
    ``contextlib.redirect_stdout``) does not collect log lines with it. pytest's ``capfd``
    still sees them, since it captures the file descriptor.
    """
    return getattr(sys, f"__{_target}__", None) or getattr(sys, _target)


class _StdHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to :func:`_process_stream` at the time of each call."""

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return _process_stream()

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        # StreamHandler.__init__ assigns sys.stderr; the lookup above wins instead.
        pass


def make_formatter(style: str) -> logging.Formatter:
    """The formatter for a ``LOG_STYLE``; ``auto`` asks whether the output is a terminal."""
    style = (style or "auto").lower()
    try:
        tty = bool(_process_stream().isatty())
    except (AttributeError, ValueError):
        tty = False
    if style == "raw" or (style == "auto" and not tty):
        return JsonFormatter()
    return PrettyFormatter(color=tty)


def configure_logging(config: Mapping[str, Any]) -> logging.Logger:
    """Set the ``transom`` logger's level and its one output handler (idempotent).

    Called by every ``create_app``; a second call updates the level and style of the
    handler the first one installed instead of adding another, so lines are never doubled.
    With several apps in one process, the last one configured sets level and style.
    """
    logger = logging.getLogger(ROOT_LOGGER)
    logger.setLevel(parse_level(config.get("LOG_LEVEL", "info")))
    with _lock:
        handler = next((h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)), None)
        if handler is None:
            handler = _StdHandler()
            setattr(handler, _HANDLER_MARK, True)
            logger.addHandler(handler)
        handler.setFormatter(make_formatter(str(config.get("LOG_STYLE", "auto"))))
    return logger
