"""Flows and operations (Directus-compatible automation) for Transom.

``directus_flows`` and ``directus_operations`` (stored and served by the kernel) come alive:
event flows (filter and action, on ``items.create|update|delete``), webhook and manual flows
(``/flows/trigger/:id``), schedule flows (cron, once per deployment) and flows called by
other flows, running the built-in operations over the data chain. See docs/flows.md.
"""

from __future__ import annotations

from typing import Any

from transom.api import Filter, Listener, Setting, hookimpl, scheduler_enabled

from .engine import Engine, Run
from .routes import bp
from .state import EXTENSION_KEY, FlowsState, get_state
from .store import Flow, FlowStore, Operation
from .triggers import SCOPES, on_action, on_filter
from .validation import check_flow, check_operation

__all__ = ["EXTENSION_KEY", "Engine", "Flow", "FlowStore", "FlowsState", "Operation", "Run",
           "get_state"]

SETTINGS = (
    Setting("FLOWS_ENV_ALLOW_LIST", [], "csv",
            "Environment variables flows may read as $env (none by default)."),
    Setting("FLOWS_EXEC_ALLOWED", False, "bool",
            "Allow script (exec) operations, run in the sandbox described in docs/flows.md."),
    Setting("FLOWS_EXEC_TIMEOUT", 10.0, "float",
            "Seconds (wall clock, and CPU) a script operation may run before it is killed."),
    Setting("FLOWS_EXEC_MAX_MEMORY", 64, "int",
            "Megabytes of memory a script operation may allocate."),
    Setting("FLOWS_EXEC_ALLOWED_MODULES", [], "csv",
            "Modules script operations may import (none by default)."),
    Setting("FLOWS_REQUEST_TIMEOUT", 10.0, "float",
            "Seconds a request operation waits for its answer."),
    Setting("FLOWS_REQUEST_IP_ALLOW_LIST", [], "csv",
            "Addresses or networks request operations may reach although IMPORT_IP_DENY_LIST "
            "denies them (e.g. 127.0.0.1)."),
    Setting("FLOWS_SLEEP_MAX_MS", 60_000, "int", "Longest sleep operation, in milliseconds."),
    Setting("FLOWS_MAX_DEPTH", 10, "int", "How deep flows may trigger one another."),
)


@hookimpl
def register_settings() -> Any:
    return list(SETTINGS)


@hookimpl
def register_filters(cms: Any) -> Any:
    def flow_filter(payload: Any, meta: dict[str, Any], context: Any) -> Any:
        return on_filter(get_state(cms).engine, payload, meta, context)

    return [
        *(Filter(scope, flow_filter) for scope in SCOPES),
        Filter("flows.create", check_flow), Filter("flows.update", check_flow),
        Filter("operations.create", check_operation),
        Filter("operations.update", check_operation),
    ]


@hookimpl
def register_listeners(cms: Any) -> Any:
    def flow_listener(meta: dict[str, Any], context: Any) -> None:
        on_action(get_state(cms).engine, meta, context)

    return [Listener(scope, flow_listener) for scope in SCOPES]


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp


@hookimpl
def init_app(cms: Any, app: Any) -> None:
    get_state(cms)


@hookimpl
def startup(cms: Any) -> None:
    if scheduler_enabled(cms.config):
        get_state(cms).scheduler.start()


@hookimpl
def shutdown(cms: Any) -> None:
    state = cms.state(EXTENSION_KEY)
    if state is not None:
        state.scheduler.stop()
        state.join_background(10.0)
