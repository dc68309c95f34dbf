"""The plugin's settings, Directus's names where Directus has them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transom.api import Setting, StartupError

SETTINGS = (
    Setting("WEBSOCKETS_ENABLED", False, "bool", "Serve WebSockets (Directus's realtime)."),
    Setting("WEBSOCKETS_REST_ENABLED", True, "bool", "Serve the REST-style socket."),
    Setting("WEBSOCKETS_REST_PATH", "/websocket", "str", "Path of the REST-style socket."),
    Setting("WEBSOCKETS_REST_AUTH", "handshake", "str",
            "public, handshake (first message is auth) or strict (token at upgrade)."),
    Setting("WEBSOCKETS_REST_AUTH_TIMEOUT", 10.0, "float",
            "Seconds to wait for an auth message (handshake, and after a token expired)."),
    Setting("WEBSOCKETS_GRAPHQL_ENABLED", True, "bool",
            "Serve GraphQL subscriptions (graphql-transport-ws)."),
    Setting("WEBSOCKETS_GRAPHQL_PATH", "/graphql", "str", "Path of the GraphQL socket."),
    Setting("WEBSOCKETS_HEARTBEAT_ENABLED", True, "bool", "Ping idle clients."),
    Setting("WEBSOCKETS_HEARTBEAT_PERIOD", 30.0, "float",
            "Seconds between pings; a client silent for a whole period is closed."),
    Setting("WEBSOCKETS_MAX_CONNECTIONS", 1000, "int",
            "Open sockets per worker at most; more are refused with 403 at upgrade."),
    Setting("WEBSOCKETS_MAX_SUBSCRIPTIONS", 100, "int", "Subscriptions per connection at most."),
    Setting("WEBSOCKETS_MAX_MESSAGE_SIZE", 1048576, "int",
            "Bytes per incoming message at most (larger ones close the socket with 1009)."),
    Setting("WEBSOCKETS_RATE_LIMIT", 50, "int",
            "Messages per second per connection at most (0: no limit)."),
    Setting("WEBSOCKETS_POLL_INTERVAL", 0.02, "float",
            "Seconds between checks of the same-machine bus for events of other workers."),
)


@dataclass(frozen=True)
class SocketSettings:
    """The settings, read once per app."""

    enabled: bool
    rest: bool
    path: str
    graphql: bool
    graphql_path: str
    auth: str
    auth_timeout: float
    heartbeat: float | None
    max_connections: int
    max_subscriptions: int
    max_message_size: int
    rate_limit: int
    poll_interval: float

    @classmethod
    def from_config(cls, config: Any) -> SocketSettings:
        auth = str(config.get("WEBSOCKETS_REST_AUTH") or "handshake").strip().lower()
        if auth not in ("public", "handshake", "strict"):
            raise StartupError("WEBSOCKETS_REST_AUTH must be public, handshake or strict, "
                               f"not {auth!r}.")
        period = float(config.get("WEBSOCKETS_HEARTBEAT_PERIOD") or 30)
        return cls(
            enabled=bool(config.get("WEBSOCKETS_ENABLED")),
            rest=bool(config.get("WEBSOCKETS_REST_ENABLED", True)),
            path=str(config.get("WEBSOCKETS_REST_PATH") or "/websocket"),
            graphql=bool(config.get("WEBSOCKETS_GRAPHQL_ENABLED", True)),
            graphql_path=str(config.get("WEBSOCKETS_GRAPHQL_PATH") or "/graphql"),
            auth=auth,
            auth_timeout=float(config.get("WEBSOCKETS_REST_AUTH_TIMEOUT") or 10),
            heartbeat=period if config.get("WEBSOCKETS_HEARTBEAT_ENABLED", True) else None,
            max_connections=int(config.get("WEBSOCKETS_MAX_CONNECTIONS") or 1000),
            max_subscriptions=int(config.get("WEBSOCKETS_MAX_SUBSCRIPTIONS") or 100),
            max_message_size=int(config.get("WEBSOCKETS_MAX_MESSAGE_SIZE") or 1048576),
            rate_limit=int(config.get("WEBSOCKETS_RATE_LIMIT") or 0),
            poll_interval=float(config.get("WEBSOCKETS_POLL_INTERVAL") or 0.02),
        )
