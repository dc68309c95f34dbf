"""Live-test helpers: a small blocking client (the ``websockets`` library's sync client)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


class Socket:
    """One connection to a live server's ``/websocket``."""

    def __init__(self, base_url: str, path: str = "/websocket", query: str = "") -> None:
        url = base_url.replace("http://", "ws://") + path + (f"?{query}" if query else "")
        # entered as the context manager it is; closed by close()
        self.ws = connect(url, open_timeout=10, close_timeout=2, max_size=None).__enter__()
        self.pending: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any] | str) -> None:
        self.ws.send(message if isinstance(message, str) else json.dumps(message))

    def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next message (pings included), or AssertionError after ``timeout``."""
        if self.pending:
            return self.pending.pop(0)
        try:
            return json.loads(self.ws.recv(timeout=timeout))
        except TimeoutError:
            raise AssertionError(f"no message within {timeout} s") from None

    def expect(self, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """The next message whose keys equal ``match`` (others, pings first, are kept)."""
        for i, message in enumerate(self.pending):
            if all(message.get(k) == v for k, v in match.items()):
                return self.pending.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no message matching {match} within {timeout} s "
                                     f"(kept: {self.pending[-5:]})")
            try:
                message = json.loads(self.ws.recv(timeout=left))
            except TimeoutError:
                continue
            if all(message.get(k) == v for k, v in match.items()):
                return message
            self.pending.append(message)

    def nothing(self, seconds: float, **match: Any) -> list[dict[str, Any]]:
        """Messages matching ``match`` received within ``seconds`` (expected: none)."""
        got = [m for m in self.pending if all(m.get(k) == v for k, v in match.items())]
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = json.loads(self.ws.recv(timeout=left))
            except TimeoutError:
                break
            if all(message.get(k) == v for k, v in match.items()):
                got.append(message)
            else:
                self.pending.append(message)
        return got

    def auth(self, **credentials: Any) -> dict[str, Any]:
        self.send({"type": "auth", **credentials})
        return self.expect(type="auth")

    def closed_code(self, timeout: float = 5.0) -> int | None:
        """Wait until the server closes the socket; its close code."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd is not None else None
        except TimeoutError:
            pass
        raise AssertionError(f"the server did not close the socket within {timeout} s")

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def sockets() -> Iterator[Callable[..., Socket]]:
    """``sockets(server, query="")``: a connected :class:`Socket`, closed after the test."""
    opened: list[Socket] = []

    def open_one(server: Any, query: str = "", path: str = "/websocket") -> Socket:
        sock = Socket(server.base_url, path, query)
        opened.append(sock)
        return sock

    yield open_one
    for sock in opened:
        try:
            sock.close()
        except Exception:  # noqa: BLE001 - already closed by the server
            pass
