"""GraphQL subscriptions at ``/graphql`` over the ``graphql-transport-ws`` subprotocol.

Directus's shape: ``subscription { <collection>_mutated(event: create|update|delete) { key
event data { ...fields } } }``; each change of one item sends ``next`` with
``{data: {<collection>_mutated: {key, event, data}}}`` (``data`` is null on delete). The
selection of ``data`` becomes the ``fields`` of an items-service read made as the
subscriber, so permissions shape it exactly as for ``/websocket``; events come from the
same hub. Fragments and arguments inside ``data`` are refused rather than ignored.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:  # graphql-core (~0.15 s to import) loads with the first subscription
    from graphql import SelectionSetNode

from transom.api import ItemsService, TransomError

from . import auth
from .client import Client, Subscription
from .protocol import SocketError

PROTOCOL = "graphql-transport-ws"


class BadDocument(Exception):
    """A subscription document this server cannot run (answered with an ``error``)."""


def _selection(node: SelectionSetNode | None, prefix: str = "") -> tuple[list[str], list[Any]]:
    """Directus ``fields`` for a ``data { ... }`` selection, and how to project a row onto
    it: ``[(alias, field, sub_projection | None)]``."""
    from graphql import FieldNode

    if node is None:
        raise BadDocument("data needs a selection of fields")
    fields: list[str] = []
    shape: list[Any] = []
    for sel in node.selections:
        if not isinstance(sel, FieldNode):
            raise BadDocument("fragments are not supported in subscriptions")
        if sel.arguments:
            raise BadDocument(f"arguments on {sel.name.value} are not supported in "
                              "subscriptions")
        name = sel.name.value
        alias = sel.alias.value if sel.alias else name
        if name == "__typename":
            shape.append((alias, name, None))
            continue
        if sel.selection_set is not None:
            sub_fields, sub_shape = _selection(sel.selection_set, f"{prefix}{name}.")
            fields += sub_fields
            shape.append((alias, name, sub_shape))
        else:
            fields.append(prefix + name)
            shape.append((alias, name, None))
    return fields, shape


def _project(row: Any, shape: list[Any], typename: str) -> Any:
    if row is None:
        return None
    if isinstance(row, list):
        return [_project(r, shape, typename) for r in row]
    if not isinstance(row, dict):
        return row  # a relation the caller may not expand comes back as its key
    out: dict[str, Any] = {}
    for alias, name, sub in shape:
        if name == "__typename":
            out[alias] = typename
        elif sub is None:
            out[alias] = row.get(name)
        else:
            out[alias] = _project(row.get(name), sub, name)
    return out


def compile_subscription(document: str, variables: dict[str, Any] | None,
                         collections: Any) -> dict[str, Any]:
    """Parse one ``<collection>_mutated`` subscription: collection, event filter,
    fields and the shapes of the root field and of ``data``."""
    from graphql import (
        FieldNode,
        GraphQLError,
        OperationDefinitionNode,
        OperationType,
        VariableNode,
        parse,
        value_from_ast_untyped,
    )

    try:
        doc = parse(document)
    except GraphQLError as exc:
        raise BadDocument(exc.message) from exc
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    if len(ops) != 1 or len(doc.definitions) != 1:
        raise BadDocument("send exactly one subscription operation")
    op = ops[0]
    if op.operation != OperationType.SUBSCRIPTION:
        raise BadDocument("queries and mutations go to POST /graphql")
    roots = [s for s in op.selection_set.selections if isinstance(s, FieldNode)]
    if len(roots) != 1 or len(op.selection_set.selections) != 1:
        raise BadDocument("subscribe to exactly one <collection>_mutated field")
    root = roots[0]
    name = root.name.value
    collection = name[:-len("_mutated")] if name.endswith("_mutated") else None
    if not collection or collection not in collections:
        raise BadDocument(f'Cannot query field "{name}" on type "Subscription".')
    event = None
    for arg in root.arguments:
        if arg.name.value != "event":
            raise BadDocument(f'Unknown argument "{arg.name.value}" on field "{name}".')
        value = arg.value
        if isinstance(value, VariableNode):
            event = (variables or {}).get(value.name.value)
        else:
            event = getattr(value, "value", None) or value_from_ast_untyped(value)
    if event is not None and event not in ("create", "update", "delete"):
        raise BadDocument("event must be create, update or delete")
    fields: list[str] = []
    outer: list[Any] = []
    for sel in (root.selection_set.selections if root.selection_set else []):
        if not isinstance(sel, FieldNode) or sel.name.value not in ("key", "event", "data",
                                                                    "__typename"):
            raise BadDocument(f"{name} has the fields key, event and data")
        alias = sel.alias.value if sel.alias else sel.name.value
        if sel.name.value == "data":
            fields, inner = _selection(sel.selection_set)
            outer.append((alias, "data", inner))
        else:
            outer.append((alias, sel.name.value, None))
    if not outer:
        raise BadDocument(f"{name} needs a selection")
    return {"collection": collection, "event": event, "fields": fields or ["*"],
            "outer": outer, "root": root.alias.value if root.alias else name}


class GraphQLSubscription(Subscription):
    """A ``<collection>_mutated`` subscription: one ``next`` per changed item."""

    plan: dict[str, Any]

    def deliver(self, action: str, data: Any) -> None:
        plan = self.plan
        pk = self.client.cms.schema.collections[self.collection].primary_key
        rows = [(k, None) for k in data] if action == "delete" \
            else [(row.get(pk), row) for row in data]
        for key, row in rows:
            value: dict[str, Any] = {}
            for alias, name, inner in plan["outer"]:
                if name == "key":
                    value[alias] = str(key) if key is not None else None
                elif name == "event":
                    value[alias] = action
                elif name == "__typename":
                    value[alias] = f"{self.collection}_mutated"
                else:
                    value[alias] = _project(row, inner, self.collection)
            self.client.send({"id": self.uid, "type": "next",
                              "payload": {"data": {plan["root"]: value}}})


class GraphQLClient(Client):
    """One ``graphql-transport-ws`` connection."""

    def run(self) -> None:
        self.auth_deadline = time.monotonic() + self.settings.auth_timeout
        self._acked = False
        while not self.closed:
            raw = self.ws.receive(timeout=1.0)
            if raw is None:
                if not self.ws.connected:
                    break
                if not self._acked and self.auth_deadline is not None \
                        and time.monotonic() > self.auth_deadline:
                    self.close(4408, "Connection initialisation timeout")
                continue
            self.last_seen = time.monotonic()
            self.handle(raw)

    def check_expiry(self, now: float) -> None:
        """graphql-transport-ws has no re-auth message: an expired token ends the socket
        (4403), and the client reconnects with a fresh one."""
        identity = self.identity
        if identity is not None and identity.expires_at is not None \
                and identity.expires_at <= now:
            self.identity = None
            self.close(4403, "Token expired")

    def handle(self, raw: str | bytes) -> None:
        try:
            message = orjson.loads(raw)
        except ValueError:
            self.close(4400, "Invalid message")
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "ping":
            self.send({"type": "pong"})
        elif kind == "pong":
            return
        elif kind == "connection_init":
            self.on_init(message.get("payload") or {})
        elif not self._acked:
            self.close(4401, "Unauthorized")
        elif kind == "subscribe":
            self.on_graphql_subscribe(message)
        elif kind == "complete":
            with self._sub_lock:
                self.subscriptions.pop(message.get("id"), None)
        else:
            self.close(4400, f"Unknown message type {kind!r}")

    def on_init(self, payload: Any) -> None:
        if self._acked:
            self.close(4429, "Too many initialisation requests")
            return
        token = payload.get("access_token") if isinstance(payload, dict) else None
        try:
            if isinstance(token, str) and token:
                self.identity = auth.resolve_token(self.cms, self.hub.app, token, self.ip,
                                                   self.user_agent)
            elif self.identity is None and self.settings.auth == "strict":
                raise SocketError("AUTH_FAILED", "An access token is required.")
            elif self.identity is None:
                self.identity = auth.public(self.cms, self.ip, self.user_agent)
        except SocketError:
            self.close(4403, "Forbidden")
            return
        self._acked = True
        self._was_authenticated = True
        self.auth_deadline = None
        self.send({"type": "connection_ack"})

    def on_graphql_subscribe(self, message: dict[str, Any]) -> None:
        sid = message.get("id")
        payload = message.get("payload") or {}
        if not isinstance(sid, str) or not isinstance(payload, dict) \
                or not isinstance(payload.get("query"), str):
            self.close(4400, "Invalid subscribe message")
            return
        with self._sub_lock:
            if sid in self.subscriptions:
                self.close(4409, f"Subscriber for {sid} already exists")
                return
            too_many = len(self.subscriptions) >= self.settings.max_subscriptions
        try:
            if too_many:
                raise BadDocument("Too many subscriptions on this connection: at most "
                                  f"{self.settings.max_subscriptions}.")
            variables = payload.get("variables")
            plan = compile_subscription(payload["query"],
                                        variables if isinstance(variables, dict) else None,
                                        self.cms.schema.collections)
            query = {"fields": plan["fields"]}
            # refuse now what the caller may not read (a forbidden field, collection)
            service = ItemsService(self.cms, plan["collection"],
                                   self.current_accountability())
            service.read_by_query({**query, "limit": 0})
        except BadDocument as exc:
            self.send({"id": sid, "type": "error", "payload": [{"message": str(exc)}]})
            return
        except TransomError as exc:
            self.send({"id": sid, "type": "error", "payload": [
                {"message": exc.message, "extensions": {"code": exc.code}}]})
            return
        sub = GraphQLSubscription(self, plan["collection"], sid, query, plan["event"])
        sub.plan = plan
        sub.query_key = "gql:" + orjson.dumps(plan["fields"]).decode()
        with self._sub_lock:
            self.subscriptions[sid] = sub
