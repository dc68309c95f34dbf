"""The front of the request pipeline: named steps, ordered by what they declare.

Plugins return :class:`RequestStep` objects from the ``register_request_steps`` hook. After
every ``init_app`` has run, :func:`install_request_steps` orders them (a topological sort of
their ``requires`` / ``runs_after`` / ``runs_before`` declarations, ties broken by plugin
registration order) and installs them once, at the front of the app's ``before_request``
functions: only the messenger's ``transom_messenger_sync`` runs before them, and every
``before_request`` function a plugin adds itself (and every blueprint's) runs after them.
Authentication is lazy (the first ``get_accountability()``, inside a view), so the steps
also run before it.

A step's ``before`` is called with no argument and may return a response, which ends the
request there (Flask's rule); its ``after`` gets the response and returns it. The ``after``
functions run after every other ``after_request`` function, in reverse step order, so the
first step (the request id) is the last to see the response.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask, request

from ..errors import StartupError

if TYPE_CHECKING:
    from ..kernel import Transom

#: The steps core registers, in the order they run (see docs/writing-plugins.md).
STEP_REQUEST_ID = "request_id"
STEP_CORS_PREFLIGHT = "cors_preflight"
STEP_RATE_LIMIT = "rate_limit"

_INSTALLED = "transom_request_steps"


@dataclass(frozen=True)
class RequestStep:
    """One named step of the front of the request pipeline.

    :param name: unique among all steps; what the other steps name.
    :param before: called before the route (and before authentication); may return a
        response to answer the request right away.
    :param after: called with the response (``after_request``); returns it.
    :param requires: steps that must be installed and run before this one; a missing one is
        a start-up error.
    :param runs_after: steps this one runs after when they are installed.
    :param runs_before: steps this one runs before when they are installed.
    """

    name: str
    before: Callable[[], Any] | None = None
    after: Callable[[Any], Any] | None = None
    requires: tuple[str, ...] = ()
    runs_after: tuple[str, ...] = ()
    runs_before: tuple[str, ...] = ()


def order_steps(steps: Iterable[RequestStep]) -> list[RequestStep]:
    """The steps in an order that honours every declaration (stable: among steps free to
    go, the earliest given goes first).

    :raises StartupError: on two steps with one name, a missing required step, or a cycle
        (naming the steps caught in it).
    """
    given = list(steps)
    by_name: dict[str, RequestStep] = {}
    for step in given:
        if not isinstance(step, RequestStep):
            raise StartupError(f"register_request_steps returned {step!r}, not a RequestStep")
        if step.name in by_name:
            raise StartupError(f"Two request steps are named {step.name!r}.")
        by_name[step.name] = step
    position = {step.name: i for i, step in enumerate(given)}
    preds: dict[str, set[str]] = {name: set() for name in by_name}
    for step in given:
        for name in step.requires:
            if name not in by_name:
                raise StartupError(f"Request step {step.name!r} requires the step {name!r}, "
                                   "which no plugin registers.")
        for name in (*step.requires, *step.runs_after):
            if name in by_name and name != step.name:
                preds[step.name].add(name)
        for name in step.runs_before:
            if name in by_name and name != step.name:
                preds[name].add(step.name)
    waiting = {name: len(p) for name, p in preds.items()}
    succs: dict[str, list[str]] = {name: [] for name in by_name}
    for name, p in preds.items():
        for pred in p:
            succs[pred].append(name)
    ready = [(position[n], n) for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    out: list[RequestStep] = []
    while ready:
        _, name = heapq.heappop(ready)
        out.append(by_name[name])
        for nxt in succs[name]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                heapq.heappush(ready, (position[nxt], nxt))
    if len(out) < len(given):
        stuck = sorted(n for n, count in waiting.items() if count > 0)
        raise StartupError("The request steps " + ", ".join(map(repr, stuck))
                           + " depend on each other in a cycle; fix their requires, "
                           "runs_after or runs_before.")
    return out


def _front(cms: Transom, step: RequestStep, fn: Callable[[], Any]) -> Callable[[], Any]:
    def front_step() -> Any:
        # the kernel is bound to the request first, so that an error a step raises (a 429)
        # still reaches the handle_exception hooks
        request.environ.setdefault("transom.cms", cms)
        return fn()

    front_step.__name__ = f"step_{step.name}"
    front_step.__qualname__ = front_step.__name__
    return front_step


def install_request_steps(app: Flask, cms: Transom) -> list[RequestStep]:
    """Collect ``register_request_steps``, order the steps and install them (once)."""
    if app.extensions.get(_INSTALLED) is not None:
        raise StartupError("The request steps of this app are already installed.")
    results = cms.hook.register_request_steps(cms=cms)
    given: list[RequestStep] = []
    for result in reversed(results):  # pluggy answers last-registered first
        if result is None:
            continue
        given.extend(r for r in (result if isinstance(result, list | tuple) else [result])
                     if r is not None)
    steps = order_steps(given)
    befores = [_front(cms, s, s.before) for s in steps if s.before is not None]
    app.before_request_funcs.setdefault(None, [])[0:0] = befores
    # Flask runs app-level after_request functions last-added first: put them at the head,
    # in step order, so they run last, the first step's last of all.
    app.after_request_funcs.setdefault(None, [])[0:0] = [
        s.after for s in steps if s.after is not None]
    app.extensions[_INSTALLED] = steps
    return steps
