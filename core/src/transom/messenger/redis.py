"""Redis pub/sub transport: reaches every instance that shares the Redis server.

One connection publishes; a listener thread per process subscribes to
``<namespace>:messenger`` (reconnecting and resyncing as :class:`ListeningTransport` does).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from .bus import Message
from .listener import ListeningTransport

log = logging.getLogger("transom.messenger")


class RedisTransport(ListeningTransport):
    name = "redis"

    def __init__(self, url: str, namespace: str, resync: Callable[[str], None]) -> None:
        import redis  # lazy: the optional redis client, needed only when this transport is used

        super().__init__(resync)
        self._redis = redis
        self.url = url
        self.channel = f"{namespace}:messenger"
        self.client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)

    def send(self, message: Message) -> None:
        try:
            self.client.publish(self.channel, message.encode())
        except self._redis.RedisError as exc:
            log.warning("messenger: Redis publish failed (%s); other instances will see "
                        "the change when they resync", exc)

    def open(self) -> Any:
        client = self._redis.Redis.from_url(self.url, socket_connect_timeout=2.0,
                                            socket_timeout=None)
        pubsub = client.pubsub()
        pubsub.subscribe(self.channel)
        # ready only once the server has the subscription: a message published before
        # that would be missed
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            item = pubsub.get_message(timeout=0.5)
            if item is not None and item.get("type") == "subscribe":
                return pubsub
        raise TimeoutError("Redis did not confirm the subscription")

    def listen(self, session: Any, deliver: Callable[[Message], None]) -> None:
        while not self.stopping.is_set():
            item = session.get_message(timeout=1.0)
            if item is None or item.get("type") != "message":
                continue
            message = Message.decode(item["data"])
            if message is not None:
                deliver(message)

    def close_session(self, session: Any) -> None:
        session.close()

    def close(self) -> None:
        super().close()
        try:
            self.client.close()
        except Exception:  # noqa: BLE001
            pass
