"""The built-in operations: each takes its options (templates already filled) and the run's
context, and returns the value stored under its key in the data chain. Raising sends the
run down the operation's ``reject`` path with the error as its value.

Item operations go through :class:`ItemsService`, as the flow's ``permissions`` option says:
``$trigger`` (the accountability that triggered the flow; the default), ``$full`` (the
system, no checks), ``$public`` (the public policies) or a role id.
"""

from __future__ import annotations

import html
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from transom.api import (
    Accountability,
    EmailMessage,
    InvalidPayloadError,
    ItemsService,
    Transom,
    TransomError,
)

from . import jwt_op, net
from .sandbox import Limits, ScriptError, run_script
from .templates import FilterSyntaxError, matches

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("transom.flows")

#: a role id that is never a user's: the accountability of a role without a user
_NO_USER = "00000000-0000-0000-0000-000000000000"


class OperationError(TransomError):
    """A step that failed for a reason of its own (a condition not met, a bad answer)."""

    code = "INVALID_PAYLOAD"
    status = 400


@dataclass
class RunContext:
    """What an operation may use: the kernel, the caller, the open transaction if any."""

    cms: Transom
    engine: Engine
    flow_id: str
    accountability: Accountability | None
    connection: Any = None
    depth: int = 0
    data: dict[str, Any] = field(default_factory=dict)

    def as_caller(self, permissions: Any) -> Accountability | None:
        """The accountability item operations run as (see the module docstring)."""
        if permissions in (None, "", "$trigger"):
            return self.accountability
        if permissions == "$full":
            return None
        if permissions == "$public":
            return self.cms.access.public()
        return self.cms.access.for_user(_NO_USER, str(permissions), user=None)

    def items(self, collection: Any, options: dict[str, Any]) -> ItemsService:
        if not isinstance(collection, str) or not collection:
            raise InvalidPayloadError('"collection" is required')
        return ItemsService(self.cms, collection, self.as_caller(options.get("permissions")),
                            self.connection, emit_events=bool(options.get("emitEvents")))


Handler = Callable[[RunContext, dict[str, Any]], Any]


def _keys(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str) and value.startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            return [value]
        return parsed if isinstance(parsed, list) else [parsed]
    return [value]


def _json_value(value: Any, name: str) -> Any:
    """Options typed as JSON may arrive as text (a template inside a string)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise InvalidPayloadError(f'"{name}" is not valid JSON') from exc
    return value


def _query(options: dict[str, Any]) -> dict[str, Any]:
    query = _json_value(options.get("query"), "query") or {}
    if not isinstance(query, dict):
        raise InvalidPayloadError('"query" must be an object')
    return query


# -- the operations ---------------------------------------------------------------------------
def op_condition(ctx: RunContext, options: dict[str, Any]) -> Any:
    flt = _json_value(options.get("filter"), "filter")
    try:
        ok = matches(flt, ctx.data)
    except FilterSyntaxError as exc:
        raise InvalidPayloadError(str(exc)) from exc
    if not ok:
        raise OperationError("The condition is not met", filter=flt)
    return None


def op_item_create(ctx: RunContext, options: dict[str, Any]) -> Any:
    payload = _json_value(options.get("payload"), "payload")
    items = payload if isinstance(payload, list) else [payload or {}]
    return ctx.items(options.get("collection"), options).create_many(items)


def op_item_read(ctx: RunContext, options: dict[str, Any]) -> Any:
    service = ctx.items(options.get("collection"), options)
    keys, query = _keys(options.get("key")), _query(options)
    if not keys:
        return service.read_by_query(query)
    if len(keys) == 1:
        return service.read_one(keys[0], query)
    return service.read_many(keys, query)


def op_item_update(ctx: RunContext, options: dict[str, Any]) -> Any:
    service = ctx.items(options.get("collection"), options)
    payload = _json_value(options.get("payload"), "payload") or {}
    if not isinstance(payload, dict):
        raise InvalidPayloadError('"payload" must be an object')
    keys = _keys(options.get("key"))
    if not keys:
        return service.update_by_query(_query(options), payload)
    if len(keys) == 1:
        return service.update_one(keys[0], payload)
    return service.update_many(keys, payload)


def op_item_delete(ctx: RunContext, options: dict[str, Any]) -> Any:
    service = ctx.items(options.get("collection"), options)
    keys = _keys(options.get("key"))
    if not keys:
        return service.delete_by_query(_query(options))
    if len(keys) == 1:
        return service.delete_one(keys[0])
    return service.delete_many(keys)


def op_request(ctx: RunContext, options: dict[str, Any]) -> Any:
    """Directus's "Webhook / Request URL": refuses denied addresses (see net.py)."""
    url = options.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidPayloadError('"url" must be an http(s) URL')
    method = str(options.get("method") or "GET").upper()
    if method not in HTTP_METHODS:
        raise InvalidPayloadError(f'"method" must be one of [{", ".join(HTTP_METHODS)}]')
    headers: dict[str, str] = {}
    for item in options.get("headers") or []:
        if isinstance(item, dict) and item.get("header"):
            headers[str(item["header"])] = str(item.get("value") or "")
    body = options.get("body")
    raw: bytes | None = None
    if body is not None and body != "":
        if isinstance(body, (dict, list)):
            raw = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        else:
            raw = str(body).encode()
    timeout = float(ctx.cms.config.get("FLOWS_REQUEST_TIMEOUT") or 10.0)
    try:
        answer = net.send(net.Guard.from_config(ctx.cms.config), method, url, headers, raw,
                          timeout)
    except net.RequestFailed as exc:
        raise OperationError(f"Request failed: {exc}") from exc
    result = {"status": answer.status, "statusText": answer.reason,
              "headers": answer.headers, "data": answer.data}
    if answer.status >= 400:
        raise OperationError(f"Request failed with status {answer.status}",
                             response=result)
    return result


HTTP_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS")


def op_log(ctx: RunContext, options: dict[str, Any]) -> Any:
    message = options.get("message")
    text = message if isinstance(message, str) else json.dumps(message, default=str)
    log.info("flow %s: %s", ctx.flow_id, text)
    return None


def op_mail(ctx: RunContext, options: dict[str, Any]) -> Any:
    to = options.get("to")
    recipients = [str(t) for t in (to if isinstance(to, list) else [to]) if t]
    if not recipients:
        raise InvalidPayloadError('"to" is required')
    body = options.get("body")
    body = "" if body is None else str(body)
    html_body = body if options.get("type") == "wysiwyg" else \
        "<p>" + html.escape(body).replace("\n", "<br>") + "</p>"
    message = EmailMessage(to=recipients, subject=str(options.get("subject") or ""),
                           text=body, html=html_body)
    sent = ctx.cms.hook.send_email(cms=ctx.cms, message=message)
    if not sent:
        raise OperationError("No mail transport accepted the message")
    return None


def op_notification(ctx: RunContext, options: dict[str, Any]) -> Any:
    recipients = _keys(options.get("recipient"))
    if not recipients:
        raise InvalidPayloadError('"recipient" is required')
    subject = options.get("subject")
    if not subject:
        raise InvalidPayloadError('"subject" is required')
    sender = ctx.accountability.user if ctx.accountability else None
    rows = [{"recipient": r, "sender": sender, "subject": str(subject),
             "message": options.get("message"), "collection": options.get("collection"),
             "item": None if options.get("item") is None else str(options.get("item"))}
            for r in recipients]
    service = ItemsService(ctx.cms, "directus_notifications",
                           ctx.as_caller(options.get("permissions")), ctx.connection)
    return service.create_many(rows)


def op_transform(ctx: RunContext, options: dict[str, Any]) -> Any:
    return _json_value(options.get("json"), "json")


def op_sleep(ctx: RunContext, options: dict[str, Any]) -> Any:
    try:
        ms = float(options.get("milliseconds") or 0)
    except (TypeError, ValueError) as exc:
        raise InvalidPayloadError('"milliseconds" must be a number') from exc
    limit = float(ctx.cms.config.get("FLOWS_SLEEP_MAX_MS") or 60_000)
    time.sleep(max(0.0, min(ms, limit)) / 1000.0)
    return None


def op_throw_error(ctx: RunContext, options: dict[str, Any]) -> Any:
    err = OperationError(str(options.get("message") or "An error was thrown by a flow"))
    err.code = str(options.get("code") or "FLOW_ERROR")
    try:
        err.status = int(options.get("status") or 400)
    except (TypeError, ValueError):
        err.status = 400
    raise err


def op_trigger(ctx: RunContext, options: dict[str, Any]) -> Any:
    target = ctx.engine.store.get(str(options.get("flow") or ""))
    if target is None or target.trigger != "operation":
        raise InvalidPayloadError('"flow" must be an active flow with an "operation" trigger')
    max_depth = int(ctx.cms.config.get("FLOWS_MAX_DEPTH") or 10)
    if ctx.depth + 1 > max_depth:
        raise OperationError(f"Flows may call each other {max_depth} deep at most")
    payload = _json_value(options.get("payload"), "payload")

    def run(one: Any) -> Any:
        return ctx.engine.run_for_result(target, one, ctx.accountability, ctx.connection,
                                         ctx.depth + 1)

    if not isinstance(payload, list):
        return run(payload)
    mode = options.get("iterationMode") or "serial"
    if mode == "serial" or ctx.connection is not None or len(payload) < 2:
        # inside a transaction the steps must share one connection: one at a time
        return [run(p) for p in payload]
    size = len(payload) if mode == "parallel" else max(1, int(options.get("batchSize") or 10))
    results: list[Any] = []
    with ThreadPoolExecutor(max_workers=min(size, 8), thread_name_prefix="transom-flow") as pool:
        for start in range(0, len(payload), size):
            results.extend(pool.map(run, payload[start:start + size]))
    return results


def op_exec(ctx: RunContext, options: dict[str, Any]) -> Any:
    """Run Script: ``main(data)`` from ``code`` in the sandbox (see sandbox.py)."""
    config = ctx.cms.config
    if not config.get("FLOWS_EXEC_ALLOWED"):
        raise OperationError("Script operations are disabled (FLOWS_EXEC_ALLOWED is false)")
    code = options.get("code")
    if not isinstance(code, str) or not code.strip():
        raise InvalidPayloadError('"code" is required')
    limits = Limits(timeout=float(config.get("FLOWS_EXEC_TIMEOUT") or 10.0),
                    max_memory=int(config.get("FLOWS_EXEC_MAX_MEMORY") or 64) * 1024 * 1024,
                    modules=tuple(config.get("FLOWS_EXEC_ALLOWED_MODULES") or ()))
    try:
        return run_script(code, ctx.data, limits)
    except ScriptError as exc:
        raise OperationError(str(exc)) from exc


OPERATIONS: dict[str, Handler] = {
    "condition": op_condition,
    "item-create": op_item_create,
    "item-read": op_item_read,
    "item-update": op_item_update,
    "item-delete": op_item_delete,
    "request": op_request,
    "log": op_log,
    "mail": op_mail,
    "notification": op_notification,
    "transform": op_transform,
    "sleep": op_sleep,
    "throw-error": op_throw_error,
    "trigger": op_trigger,
    "exec": op_exec,
    "json-web-token": lambda ctx, options: jwt_op.run(options),
}
