"""The plugin's per-app state: the flow store, the engine and the schedule timer."""

from __future__ import annotations

import threading
from typing import Any

from .engine import Engine
from .store import FlowStore
from .triggers import FlowScheduler

EXTENSION_KEY = "transom_flows"


class FlowsState:
    """Made once per app (``cms.state``): subscribing the store twice would load twice."""

    def __init__(self, cms: Any) -> None:
        self.store = FlowStore(cms)
        self.engine = Engine(cms, self.store)
        self.scheduler = FlowScheduler(self.engine)
        #: runs started by async webhooks and not finished yet (``join_background``)
        self._background: list[threading.Thread] = []
        self._lock = threading.Lock()

    def run_in_background(self, flow: Any, trigger: Any, accountability: Any) -> None:
        """An async webhook: answer now, run in a thread of its own."""
        thread = threading.Thread(target=self.engine.run_safely,
                                  args=(flow, trigger, accountability),
                                  name="transom-flow-async", daemon=True)
        with self._lock:
            self._background = [t for t in self._background if t.is_alive()]
            self._background.append(thread)
        thread.start()

    def join_background(self, timeout: float | None = None) -> None:
        """Wait for the background runs (shutdown, tests)."""
        with self._lock:
            threads = list(self._background)
        for thread in threads:
            thread.join(timeout)


def get_state(cms: Any) -> FlowsState:
    return cms.state(EXTENSION_KEY, lambda: FlowsState(cms))
