"""Save-time checks of flows and operations (filters on ``flows.*`` / ``operations.*``): a
flow that could never run is a 400 when it is written, not a silent failure later."""

from __future__ import annotations

from typing import Any

from croniter import croniter

from transom.api import InvalidPayloadError, ItemsService, croniter_expression

from .operations import OPERATIONS
from .store import TRIGGERS, _options

STATUSES = ("active", "inactive")
ACCOUNTABILITY = ("all", "activity", None)
EVENT_TYPES = ("filter", "action")
METHODS = ("GET", "POST")
ITERATION = ("serial", "batch", "parallel")


def valid_cron(cron: Any) -> bool:
    if not isinstance(cron, str):
        return False
    try:
        return bool(croniter.is_valid(croniter_expression(cron)))
    except ValueError:
        return False


def _existing(context: Any, collection: str, meta: dict[str, Any]) -> dict[str, Any]:
    keys = meta.get("keys") or []
    if len(keys) != 1:
        return {}
    rows = ItemsService(context.cms, collection, None, context.connection, emit_events=False
                        ).read_many(keys, {"fields": ["*"]})
    return rows[0] if rows else {}


def check_flow(payload: Any, meta: dict[str, Any], context: Any) -> Any:
    """Filter on ``flows.create`` / ``flows.update``."""
    if not isinstance(payload, dict):
        return payload
    merged = {**_existing(context, "directus_flows", meta), **payload}
    if "status" in payload and payload["status"] not in STATUSES:
        raise InvalidPayloadError('"status" must be one of [active, inactive]')
    if "trigger" in payload and payload["trigger"] not in (*TRIGGERS, None):
        raise InvalidPayloadError(
            '"trigger" must be one of [event, webhook, schedule, operation, manual]')
    if "accountability" in payload and payload["accountability"] not in ACCOUNTABILITY:
        raise InvalidPayloadError('"accountability" must be one of [all, activity, null]')
    raw = payload.get("options")
    if raw is not None and not isinstance(raw, dict):
        raise InvalidPayloadError('"options" must be an object')
    options = _options(merged.get("options"))
    trigger = merged.get("trigger")
    if trigger == "schedule" and not valid_cron(options.get("cron")):
        raise InvalidPayloadError('"options.cron" must be a valid cron expression')
    if trigger == "event":
        if options.get("type", "action") not in EVENT_TYPES:
            raise InvalidPayloadError('"options.type" must be one of [filter, action]')
        scope = options.get("scope") or []
        if not isinstance(scope, list) or not all(isinstance(s, str) for s in scope):
            raise InvalidPayloadError('"options.scope" must be a list of event names')
        colls = options.get("collections") or []
        if not isinstance(colls, list) or not all(isinstance(c, str) for c in colls):
            raise InvalidPayloadError('"options.collections" must be a list of collections')
    if trigger == "webhook" and str(options.get("method") or "GET").upper() not in METHODS:
        raise InvalidPayloadError('"options.method" must be one of [GET, POST]')
    if trigger == "manual":
        colls = options.get("collections") or []
        if not isinstance(colls, list):
            raise InvalidPayloadError('"options.collections" must be a list of collections')
    return payload


def check_operation(payload: Any, meta: dict[str, Any], context: Any) -> Any:
    """Filter on ``operations.create`` / ``operations.update``."""
    if not isinstance(payload, dict):
        return payload
    merged = {**_existing(context, "directus_operations", meta), **payload}
    if "type" in payload and payload["type"] not in OPERATIONS:
        raise InvalidPayloadError(
            f'"type" must be one of [{", ".join(sorted(OPERATIONS))}]')
    if "key" in payload and (not isinstance(payload["key"], str) or not payload["key"]
                             or payload["key"].startswith("$")):
        raise InvalidPayloadError('"key" must be a name that does not start with "$"')
    raw = payload.get("options")
    if raw is not None and not isinstance(raw, dict):
        raise InvalidPayloadError('"options" must be an object')
    options = _options(merged.get("options"))
    if merged.get("type") == "trigger" and \
            options.get("iterationMode", "serial") not in ITERATION:
        raise InvalidPayloadError('"options.iterationMode" must be one of '
                                  '[serial, batch, parallel]')
    for link in ("resolve", "reject"):
        target = payload.get(link)
        if target is None:
            continue
        if str(target) == str((meta.get("keys") or [None])[0]):
            raise InvalidPayloadError(f'"{link}" cannot point at the operation itself')
        rows = ItemsService(context.cms, "directus_operations", None, context.connection,
                            emit_events=False).read_by_query(
            {"fields": ["id", "flow"], "filter": {"id": {"_eq": str(target)}}})
        if not rows or (merged.get("flow") is not None
                        and str(rows[0]["flow"]) != str(merged.get("flow"))):
            raise InvalidPayloadError(f'"{link}" must be an operation of the same flow')
    return payload
