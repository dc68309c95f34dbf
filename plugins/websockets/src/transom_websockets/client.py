"""One connection: its caller, its subscriptions and the loop that reads its messages."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from transom.api import Accountability, ItemsService, TransomError, parse_query_dict

from . import auth
from .hub import Hub, dumps_query, token_expired_message
from .protocol import Reply, SocketError, encode, error, error_of, reply, uid_of

log = logging.getLogger("transom.websockets")

ACTIONS = ("create", "update", "delete")


@dataclass(eq=False)
class Subscription:
    client: Client
    collection: str
    uid: Any
    query: dict[str, Any]
    event: str | None = None
    item: Any = None
    query_key: str = field(default="")

    def deliver(self, action: str, data: Any) -> None:
        """Send one event (``data``: the items as this subscriber may see them, or the
        keys of a delete)."""
        self.client.send(reply("subscription", self.uid, event=action, data=data))


class Client:
    """The state of one socket; its loop runs on the thread that accepted it."""

    def __init__(self, hub: Hub, ws: Any, identity: auth.Identity | None, ip: str | None,
                 user_agent: str | None) -> None:
        self.hub = hub
        self.cms = hub.cms
        self.settings = hub.settings
        self.ws = ws
        self.identity = identity
        self.ip = ip
        self.user_agent = user_agent
        self.epoch = hub.access_epoch
        self.subscriptions: dict[Any, Subscription] = {}
        self._send_lock = threading.Lock()
        self._sub_lock = threading.Lock()
        self.last_seen = time.monotonic()
        self.pinged_at: float | None = None
        #: when an auth message must have arrived (handshake, or after expiry), else None
        self.auth_deadline: float | None = None
        self._window = (0.0, 0)  # rate limit: (start of the second, messages in it)
        self.closed = False

    # -- sending --------------------------------------------------------------------------
    def send_text(self, text: str) -> None:
        # lazy (loaded by then: the socket is one): the plugin is imported when disabled too
        from simple_websocket import ConnectionClosed

        if self.closed:
            return
        try:
            with self._send_lock:
                self.ws.send(text)
        except (ConnectionClosed, OSError):
            self.closed = True

    def send(self, message: Reply) -> None:
        self.send_text(encode(message))

    def close(self, code: int = 1000, reason: str = "") -> None:
        # ``closed`` is set only once the close frame is out: set before, the serving loop
        # could end first and the route's own close (1000) would win the race
        with self._send_lock:
            if self.closed:
                return
            try:
                self.ws.close(reason=code, message=reason)
            except Exception:  # noqa: BLE001 - the peer may be gone already
                pass
            self.closed = True

    # -- who ------------------------------------------------------------------------------
    def current_accountability(self) -> Accountability | None:
        """The caller now: resolved again once after an access change (a revoked policy or
        a suspended user stops here); None while waiting for an auth message."""
        identity = self.identity
        if identity is None:
            return None
        if self.epoch != self.hub.access_epoch:
            self.epoch = self.hub.access_epoch
            try:
                if identity.access_token:
                    fresh = auth.resolve_token(self.cms, self.hub.app,
                                               identity.access_token, self.ip,
                                               self.user_agent)
                    identity.accountability = fresh.accountability
                else:
                    identity.accountability = auth.public(self.cms, self.ip,
                                                          self.user_agent).accountability
            except SocketError as exc:
                self.identity = None
                self.send(error("auth", exc.code, exc.message))
                self.close(1008, "Authentication lost")
                return None
        return identity.accountability

    def check_expiry(self, now: float) -> None:
        """Ask for a new auth when the token expired; close when none came in time."""
        identity = self.identity
        if identity is not None and identity.expires_at is not None \
                and identity.expires_at <= now:
            self.identity = None
            self.auth_deadline = time.monotonic() + self.settings.auth_timeout
            self.send(token_expired_message())
        elif self.auth_deadline is not None and time.monotonic() > self.auth_deadline:
            self.send(error("auth", "AUTH_TIMEOUT", "Authentication timed out."))
            self.close(1008, "Authentication timed out")

    def subscriptions_for(self, collection: str) -> list[Subscription]:
        with self._sub_lock:
            return [s for s in self.subscriptions.values() if s.collection == collection]

    # -- the loop -------------------------------------------------------------------------
    def run(self) -> None:
        if self.identity is None:
            self.auth_deadline = time.monotonic() + self.settings.auth_timeout
        while not self.closed:
            raw = self.ws.receive(timeout=1.0)
            if raw is None:
                if not self.ws.connected:
                    break
                continue
            self.last_seen = time.monotonic()
            self.handle(raw)

    def _rate_limited(self) -> bool:
        limit = self.settings.rate_limit
        if limit <= 0:
            return False
        now = time.monotonic()
        start, count = self._window
        if now - start >= 1.0:
            self._window = (now, 1)
            return False
        self._window = (start, count + 1)
        return count + 1 > limit

    def handle(self, raw: str | bytes) -> None:
        try:
            message = orjson.loads(raw)
        except ValueError:
            self.send(error("unknown", "INVALID_PAYLOAD", "Unable to parse the message as "
                            "JSON."))
            return
        kind = message.get("type") if isinstance(message, dict) else None
        uid = uid_of(message)
        if not isinstance(kind, str):
            self.send(error("unknown", "INVALID_PAYLOAD", 'The message needs a "type".', uid))
            return
        if self._rate_limited():
            self.send(error(kind, "REQUESTS_EXCEEDED", "Too many messages: at most "
                            f"{self.settings.rate_limit} per second.", uid))
            return
        if kind == "auth":
            self.on_auth(message, uid)
            return
        if kind == "pong":
            return
        if kind == "ping":
            self.send(reply("pong", uid))
            return
        if self.identity is None:
            if self._was_authenticated:  # the token expired: waiting for a new auth
                self.send(error(kind, "TOKEN_EXPIRED", "Token expired.", uid))
                return
            self.send(error(kind, "AUTH_FAILED", "Authentication required: the first "
                            "message must be an auth message.", uid))
            self.close(1008, "Authentication required")
            return
        try:
            if kind == "subscribe":
                self.on_subscribe(message, uid)
            elif kind == "unsubscribe":
                self.on_unsubscribe(message, uid)
            elif kind == "items":
                self.on_items(message, uid)
            else:
                raise SocketError("INVALID_PAYLOAD", f'Unknown message type "{kind}".')
        except (SocketError, TransomError) as exc:
            self.send(error_of(kind, exc, uid))
        except Exception as exc:  # noqa: BLE001 - a bug must not end the socket
            log.exception("websockets: %s failed", kind)
            self.send(error_of(kind, exc, uid))

    _was_authenticated = False

    # -- auth -----------------------------------------------------------------------------
    def on_auth(self, message: dict[str, Any], uid: Any) -> None:
        try:
            identity = auth.authenticate(self.cms, self.hub.app, message, self.ip,
                                         self.user_agent)
        except SocketError as exc:
            code = "AUTH_FAILED" if exc.code == "INVALID_PAYLOAD" else exc.code
            self.send(error("auth", code, exc.message, uid))
            if self.identity is None and self.settings.auth != "public" \
                    and not self._was_authenticated:
                self.close(1008, "Authentication failed")
            return
        self.identity = identity
        self.epoch = self.hub.access_epoch
        self.auth_deadline = None
        self._was_authenticated = True
        extra = {"refresh_token": identity.refresh_token} if identity.refresh_token else {}
        self.send(reply("auth", uid, status="ok", **extra))

    # -- subscriptions --------------------------------------------------------------------
    def on_subscribe(self, message: dict[str, Any], uid: Any) -> None:
        collection = message.get("collection")
        if not isinstance(collection, str) or not collection:
            raise SocketError("INVALID_PAYLOAD", '"collection" is required.')
        event = message.get("event")
        if event is not None and event not in ACTIONS:
            raise SocketError("INVALID_PAYLOAD", '"event" must be create, update or delete.')
        query = message.get("query") or {}
        if not isinstance(query, dict):
            raise SocketError("INVALID_PAYLOAD", '"query" must be an object.')
        item = message.get("item")
        if item is not None and not isinstance(item, (str, int)):
            raise SocketError("INVALID_PAYLOAD", '"item" must be a string or a number.')
        parse_query_dict(query)  # a bad query is refused now, not at the first event
        with self._sub_lock:
            if uid not in self.subscriptions \
                    and len(self.subscriptions) >= self.settings.max_subscriptions:
                raise SocketError("LIMIT_EXCEEDED", "Too many subscriptions on this "
                                  f"connection: at most {self.settings.max_subscriptions}.")
        acc = self.current_accountability()
        service = ItemsService(self.cms, collection, acc)
        if collection not in self.cms.schema.collections:
            raise SocketError("FORBIDDEN", "You don't have permission to access this.")
        data = service.read_one(item, query) if item is not None \
            else service.read_by_query(query)
        sub = Subscription(self, collection, uid, query, event, item, dumps_query(query))
        with self._sub_lock:
            self.subscriptions[uid] = sub
        self.send(reply("subscription", uid, event="init", data=data))

    def on_unsubscribe(self, message: dict[str, Any], uid: Any) -> None:
        with self._sub_lock:
            if uid is None:
                self.subscriptions.clear()
            else:
                self.subscriptions.pop(uid, None)
        self.send(reply("subscription", uid, event="unsubscribe"))

    # -- items ----------------------------------------------------------------------------
    def on_items(self, message: dict[str, Any], uid: Any) -> None:
        collection = message.get("collection")
        action = message.get("action")
        if not isinstance(collection, str) or not collection:
            raise SocketError("INVALID_PAYLOAD", '"collection" is required.')
        if action not in ("create", "read", "update", "delete"):
            raise SocketError("INVALID_PAYLOAD",
                              '"action" must be create, read, update or delete.')
        query = message.get("query") or {}
        if not isinstance(query, dict):
            raise SocketError("INVALID_PAYLOAD", '"query" must be an object.')
        if collection not in self.cms.schema.collections:
            raise SocketError("FORBIDDEN", "You don't have permission to access this.")
        service = ItemsService(self.cms, collection, self.current_accountability())
        result = _run_items(service, str(action), message, query)
        self.send(reply("items", uid, data=result))


def _keys(message: dict[str, Any]) -> list[Any] | None:
    ids = message.get("ids")
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(isinstance(i, (str, int)) for i in ids):
        raise SocketError("INVALID_PAYLOAD", '"ids" must be a list of keys.')
    return ids


def _run_items(service: ItemsService, action: str, message: dict[str, Any],
               query: dict[str, Any]) -> Any:
    """One ``items`` action through the same service as REST; the result as REST gives."""
    key = message.get("id")
    if key is not None and not isinstance(key, (str, int)):
        raise SocketError("INVALID_PAYLOAD", '"id" must be a string or a number.')
    ids = _keys(message)
    data = message.get("data")
    if action == "read":
        if key is not None:
            return service.read_one(key, query)
        if ids is not None:
            return service.read_many(ids, query)
        return service.read_by_query(query)
    if action == "create":
        if isinstance(data, list):
            return service.read_many(service.create_many(data), query)
        if isinstance(data, dict):
            return service.read_one(service.create_one(data), query)
        raise SocketError("INVALID_PAYLOAD", '"data" must be an object or a list.')
    if action == "update":
        if isinstance(data, list) and key is None and ids is None:
            return service.read_many(service.update_batch(data), query)
        if not isinstance(data, dict):
            raise SocketError("INVALID_PAYLOAD", '"data" must be an object.')
        if key is not None:
            return service.read_one(service.update_one(key, data), query)
        if ids is not None:
            return service.read_many(service.update_many(ids, data), query)
        if query:
            return service.read_many(service.update_by_query(query, data), query)
        raise SocketError("INVALID_PAYLOAD", 'An update needs "id", "ids" or "query".')
    if key is not None:
        return service.delete_one(key)
    if ids is not None:
        return service.delete_many(ids)
    if query:
        return service.delete_by_query(query)
    raise SocketError("INVALID_PAYLOAD", 'A delete needs "id", "ids" or "query".')
