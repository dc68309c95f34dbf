"""Keep Python's cyclic garbage collector cheap over a long test session.

A full collection walks every tracked object of the process, and one starts each time the
objects that survived the younger generations grow by a quarter. A pytest process holds
everything it imported and collected (about a million objects for this suite), and any
object graph a test leaves alive (a closed app still referenced from a module: some
40,000 objects each) stays and is walked again by every later full collection. Measured
here: a full collection costs about 1.3 s of CPU for 1.8 million objects, and the xdist
workers of a whole run, with closed apps left alive, reached 3 GB and spent 10 to 60 s in
single fixture set-ups (the "random slow set-ups" of a full run).

So the objects alive after collection, and after every :data:`FREEZE_EVERY` tests, are
moved to the permanent generation (:func:`gc.freeze`) once the garbage has been collected:
later collections walk only what the tests since made. Garbage is never frozen (a full
collection runs first), and objects that die by reference counting are freed as before;
only a reference cycle that was alive at a freeze and dies later stays in memory.
``TRANSOM_TEST_GC_FREEZE=0`` turns this off.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest

#: tests run between two freezes: each freeze costs one collection of what those tests left
FREEZE_EVERY = 25

_since_freeze = 0


def enabled() -> bool:
    return os.environ.get("TRANSOM_TEST_GC_FREEZE", "1").lower() not in ("0", "false", "no")


def collect_and_freeze() -> None:
    """Free the garbage, then exclude every surviving object from later collections."""
    gc.collect()
    gc.freeze()


def pytest_collection_finish(session: pytest.Session) -> None:
    if enabled():
        collect_and_freeze()  # the imports and the collected items stay to the end


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After every :data:`FREEZE_EVERY` tests (set-up, call and tear-down done), freeze."""
    global _since_freeze
    yield
    if not enabled():
        return
    _since_freeze += 1
    if _since_freeze >= FREEZE_EVERY:
        _since_freeze = 0
        collect_and_freeze()
