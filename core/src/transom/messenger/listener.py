"""What remote transports share: a listener thread that reconnects with a growing pause
and asks for a resync after each reconnect (messages sent in the gap are lost)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from .bus import Message

log = logging.getLogger("transom.messenger")


class ListeningTransport:
    """Subclasses open a session (``open``), wait for messages on it (``listen``, which
    returns when ``self.stopping`` is set and raises when the session breaks) and close
    it (``close_session``)."""

    name = "listening"

    def __init__(self, resync: Callable[[str], None]) -> None:
        self._resync = resync
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self._thread: threading.Thread | None = None

    def open(self) -> Any:
        raise NotImplementedError

    def listen(self, session: Any, deliver: Callable[[Message], None]) -> None:
        raise NotImplementedError

    def close_session(self, session: Any) -> None:
        raise NotImplementedError

    def start(self, deliver: Callable[[Message], None]) -> None:
        self._thread = threading.Thread(target=self._loop, args=(deliver,),
                                        name=f"transom-messenger-{self.name}", daemon=True)
        self._thread.start()

    def _loop(self, deliver: Callable[[Message], None]) -> None:
        pause, first = 0.1, True
        while not self.stopping.is_set():
            session = None
            try:
                session = self.open()
                if not first:
                    self._resync(f"the {self.name} listener reconnected")
                first, pause = False, 0.1
                self.ready.set()
                self.listen(session, deliver)
            except Exception as exc:  # noqa: BLE001 - keep listening through outages
                self.ready.clear()
                if self.stopping.is_set():
                    break
                log.warning("messenger: %s listener lost (%s); retrying in %.1fs",
                            self.name, exc, pause)
                self.stopping.wait(pause)
                pause = min(pause * 2, 5.0)
            finally:
                if session is not None:
                    try:
                        self.close_session(session)
                    except Exception:  # noqa: BLE001 - it is gone either way
                        pass

    def close(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(3.0)
