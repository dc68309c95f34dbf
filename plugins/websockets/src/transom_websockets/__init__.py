"""Real time for Transom: Directus 11's ``/websocket`` protocol on flask-sock.

With ``WEBSOCKETS_ENABLED=true``, ``WEBSOCKETS_REST_PATH`` (``/websocket``) accepts
WebSocket upgrades and speaks Directus's messages: ``auth`` (access token, refresh token,
email and password), ``subscribe`` / ``unsubscribe`` (an ``init`` event, then ``create``,
``update`` and ``delete`` events shaped by the subscriber's own permissions), ``items``
(create, read, update and delete through the items service) and ``ping`` / ``pong``.
Events travel between workers and instances on the messenger's ``realtime`` topic. See
README.md and docs/realtime.md.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from flask import Blueprint, Response, current_app, request

from transom.api import Listener, client_ip, current_cms, hookimpl, json_response

from . import auth, graphql_ws
from .client import Client
from .graphql_ws import GraphQLClient
from .hub import Hub
from .protocol import SocketError
from .settings import SETTINGS, SocketSettings

__all__ = ["EXTENSION_KEY", "Client", "Hub", "get_hub"]

EXTENSION_KEY = "transom_websockets"


def get_hub(cms: Any) -> Hub:
    """The app's hub, made on first use."""
    return cms.state(EXTENSION_KEY, lambda: Hub(cms, SocketSettings.from_config(cms.config)))


def _refuse(status: int, code: str, message: str) -> Response:
    return json_response({"errors": [{"message": message, "extensions": {"code": code}}]},
                         status)


def _upgrade_token() -> str | None:
    token = request.args.get("access_token")
    if token:
        return token
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _make_blueprint(settings: SocketSettings) -> Blueprint:
    from flask_sock import Sock  # lazy: simple-websocket and wsproto load only when enabled

    bp = Blueprint("transom_websockets", __name__)
    sock = Sock()

    @bp.before_request
    def _gate() -> Response | None:
        """Refuse an upgrade past the connection limit (403) or, in strict mode, without a
        valid token (401), before the handshake, as Directus does."""
        hub = get_hub(current_cms())
        if hub.count() >= settings.max_connections:
            return _refuse(403, "REQUESTS_EXCEEDED", "Too many WebSocket connections: at "
                           f"most {settings.max_connections}.")
        if settings.auth == "strict":
            token = _upgrade_token()
            if not token:
                return _refuse(401, "INVALID_CREDENTIALS", "An access token is required.")
            try:
                request.environ["transom.ws.identity"] = auth.resolve_token(
                    current_cms(), current_app._get_current_object(), token, client_ip(),
                    request.headers.get("User-Agent"))
            except SocketError as exc:
                return _refuse(401, exc.code if exc.code == "TOKEN_EXPIRED"
                               else "INVALID_CREDENTIALS", exc.message)
        return None

    def serve(ws: Any, kind: type[Client]) -> None:
        cms = current_cms()
        hub = get_hub(cms)
        ip, agent = client_ip(), request.headers.get("User-Agent")
        identity = request.environ.get("transom.ws.identity")
        if settings.auth == "public" and kind is Client:
            identity = auth.public(cms, ip, agent)
        client = kind(hub, ws, identity, ip, agent)
        if not hub.add(client):
            client.close(1013, "Too many connections")
            return
        try:
            client.run()
        finally:
            hub.remove(client)

    if settings.rest:
        @sock.route(settings.path, bp=bp)
        def websocket(ws: Any) -> None:
            serve(ws, Client)

    if settings.graphql:
        @sock.route(settings.graphql_path, bp=bp, endpoint="graphql_ws")
        def graphql_socket(ws: Any) -> None:
            serve(ws, GraphQLClient)

    return bp


def _close_on_signal(cms: Any) -> None:
    """In a gunicorn worker: on SIGTERM/SIGINT close every socket with 1001 first (the
    worker would otherwise wait its graceful timeout for the socket threads)."""
    if "gunicorn.arbiter" not in sys.modules \
            or threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        previous = signal.getsignal(sig)

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            hub = cms.state(EXTENSION_KEY)
            if hub is not None:
                threading.Thread(target=hub.close, daemon=True).start()
            if callable(previous):
                previous(signum, frame)

        signal.signal(sig, handler)


# -- hooks ----------------------------------------------------------------------------------
@hookimpl
def register_settings() -> Any:
    return list(SETTINGS)


@hookimpl
def register_blueprints(cms: Any) -> Any:
    settings = SocketSettings.from_config(cms.config)
    if not (settings.enabled and (settings.rest or settings.graphql)):
        return None
    return _make_blueprint(settings)


@hookimpl
def register_listeners(cms: Any) -> Any:
    if not cms.config.get("WEBSOCKETS_ENABLED"):
        return None

    def listener(meta: dict[str, Any], context: Any) -> None:
        get_hub(cms).on_item_event(meta, context)

    return [Listener(f"items.{action}", listener) for action in ("create", "update", "delete")]


@hookimpl
def init_app(cms: Any, app: Any) -> None:
    if cms.config.get("WEBSOCKETS_ENABLED"):
        hub = get_hub(cms)
        hub.app = app
        settings = hub.settings
        app.config.setdefault("SOCK_SERVER_OPTIONS",
                              {"max_message_size": settings.max_message_size,
                               "ping_interval": None,
                               "subprotocols": [graphql_ws.PROTOCOL]})
        _close_on_signal(cms)


@hookimpl
def shutdown(cms: Any) -> None:
    hub = cms.state(EXTENSION_KEY)
    if hub is not None:
        hub.close()
