"""Webhooks for Transom: call a URL when an event matches.

A webhook (``/webhooks``, admins only) names a URL, a method, the events it wants
(``items.create``, ``articles.items.update``, ``users.*``, or Directus 10's ``create``,
``update``, ``delete``), optionally the collections and an item filter (``{"status":
{"_eq": "published"}}``), and extra headers. After a change commits, a listener queues one job
per matching webhook; a background worker sends them, retries failures with exponential
backoff and logs every attempt in ``transom_webhook_deliveries``. Nothing of this ever runs in,
slows down or fails the request. See README.md.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from transom.api import Listener, Migration, Setting, hookimpl

from .delivery import Deliverer, Job, make_body
from .store import TABLES, Webhook, WebhookStore, create_tables, drop_tables

__all__ = ["EXTENSION_KEY", "Deliverer", "Webhook", "WebhookStore", "WebhooksState",
           "get_state"]

EXTENSION_KEY = "transom_webhooks"

SETTINGS = (
    Setting("WEBHOOKS_MAX_ATTEMPTS", 5, "int", "Attempts per delivery, the first included."),
    Setting("WEBHOOKS_RETRY_BACKOFF", 2.0, "float",
            "Seconds before the first retry; doubled for each further one."),
    Setting("WEBHOOKS_TIMEOUT", 10.0, "float", "Seconds to wait for a webhook's answer."),
    Setting("WEBHOOKS_QUEUE_SIZE", 1000, "int",
            "Deliveries waiting at most; more are dropped (and logged)."),
    Setting("WEBHOOKS_CACHE_TTL", 5.0, "float",
            "Seconds the list of active webhooks is cached per process."),
    Setting("WEBHOOKS_LISTEN", "*.create,*.update,*.delete,auth.login", "csv",
            "Event patterns the plugin listens to ('*' for every event, reads included)."),
)


class WebhooksState:
    """The store and the worker of one app (``cms.state("transom_webhooks")``)."""

    def __init__(self, cms: Any) -> None:
        cfg = cms.config
        self.store = WebhookStore(cms, float(cfg.get("WEBHOOKS_CACHE_TTL", 5.0)))
        self.deliverer = Deliverer(
            cms, self.store, int(cfg.get("WEBHOOKS_MAX_ATTEMPTS", 5)),
            float(cfg.get("WEBHOOKS_RETRY_BACKOFF", 2.0)),
            float(cfg.get("WEBHOOKS_TIMEOUT", 10.0)), int(cfg.get("WEBHOOKS_QUEUE_SIZE", 1000)))

    def on_event(self, meta: dict[str, Any], context: Any) -> None:
        """The listener: match against the cached webhooks and queue; never blocks."""
        hooks = self.store.active()
        if not hooks:
            return
        event = str(meta.get("event", ""))
        collection = meta.get("collection")
        keys = meta.get("keys")
        if keys is None and "key" in meta:
            keys = [meta["key"]]
        for hook in hooks:
            if hook.matches(event, collection):
                self.deliverer.submit(Job(hook, event, collection, list(keys or []),
                                          make_body(hook, event, meta, context)))


def get_state(cms: Any) -> WebhooksState:
    """The app's state, made on first use (``init_app``, or an event before it)."""
    # cms.state is thread-safe: two listener threads do not make two workers
    return cms.state(EXTENSION_KEY, lambda: WebhooksState(cms))


# -- hooks ----------------------------------------------------------------------------------
@hookimpl
def register_settings() -> Any:
    return list(SETTINGS)


@hookimpl
def register_migrations(cms: Any) -> Any:
    return [Migration("20250601T-webhooks-1", "transom-webhooks-create-tables", create_tables,
                      drop_tables)]


@hookimpl
def extend_schema(cms: Any, schema: Any) -> Any:
    """Keep the plugin's own tables out of the content schema (no /items, no GraphQL)."""
    for name in TABLES:
        schema.tables.pop(name, None)
    return None


@hookimpl
def register_listeners(cms: Any) -> Any:
    patterns = list(cms.config.get("WEBHOOKS_LISTEN") or ["*.create", "*.update", "*.delete"])

    def listener(meta: dict[str, Any], context: Any) -> None:
        get_state(cms).on_event(meta, context)

    return [Listener(p, listener) for p in dict.fromkeys(patterns)]


@hookimpl
def init_app(cms: Any, app: Any) -> None:
    get_state(cms)


@hookimpl
def shutdown(cms: Any) -> None:
    state = cms.state(EXTENSION_KEY)
    if state is not None:
        state.deliverer.stop()


# -- routes ---------------------------------------------------------------------------------
bp = Blueprint("transom_webhooks", __name__)


def _admin_store() -> WebhookStore:
    from transom.api import ForbiddenError, current_cms, get_accountability

    if not get_accountability().admin:
        raise ForbiddenError()
    return get_state(current_cms()).store


def _json(data: Any) -> Response:
    from transom.api import json_response

    return json_response({"data": data})


def _body() -> Any:
    from transom.api import request_json

    return request_json({})


@bp.get("/webhooks")
def list_webhooks() -> Response:
    return _json([h.to_api() for h in _admin_store().list()])


@bp.post("/webhooks")
def create_webhook() -> Response:
    return _json(_admin_store().create(_body()).to_api())


@bp.get("/webhooks/<key>")
def read_webhook(key: str) -> Response:
    return _json(_admin_store().get(key).to_api())


@bp.patch("/webhooks/<key>")
def update_webhook(key: str) -> Response:
    return _json(_admin_store().update(key, _body()).to_api())


@bp.delete("/webhooks/<key>")
def delete_webhook(key: str) -> Response:
    from transom.api import no_content

    _admin_store().delete(key)
    return no_content()


@bp.get("/webhooks/<key>/deliveries")
def webhook_deliveries(key: str) -> Response:
    return _json(_admin_store().deliveries(key))


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp
