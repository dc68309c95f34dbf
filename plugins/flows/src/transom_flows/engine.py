"""Running one flow: walk its operations from the first one, following ``resolve`` when a
step returns and ``reject`` when it raises, keeping the data chain, then write the run log.

The data chain holds ``$trigger`` (what started the run), ``$last`` (the previous step's
value; at first the trigger's), ``$accountability`` (who), ``$env`` (only the variables named
in ``FLOWS_ENV_ALLOW_LIST``) and one entry per operation key.

Run logs follow Directus: with the flow's ``accountability`` set to ``all`` or ``activity``
a ``directus_activity`` row (action ``run``, collection ``directus_flows``, item the flow);
with ``all`` also a ``directus_revisions`` row whose ``data`` holds ``steps`` (operation,
key, status, options, data of each) and the final data chain.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from transom.api import Accountability, Transom, TransomError

from .operations import OPERATIONS, OperationError, RunContext
from .store import Flow, FlowStore
from .templates import lookup, render

log = logging.getLogger("transom.flows")

TRIGGER, LAST, ACCOUNTABILITY, ENV = "$trigger", "$last", "$accountability", "$env"
#: steps one run may take at most (a resolve/reject cycle must end)
MAX_STEPS = 1000


@dataclass
class Run:
    """The outcome of one run."""

    flow: Flow
    data: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)
    status: str = "resolve"  # the status of the last step ("resolve" when there was none)
    error: BaseException | None = None

    @property
    def last(self) -> Any:
        return self.data.get(LAST)

    def result(self) -> Any:
        """What the flow gives back (webhook answer, filter payload, calling flow): its
        ``return`` option, ``$last`` by default, ``$all`` for the whole chain."""
        wanted = self.flow.options.get("return") or LAST
        if wanted == "$all":
            return self.data
        if wanted == LAST:
            return self.last
        return lookup(self.data, str(wanted))


def accountability_data(acc: Accountability | None) -> dict[str, Any] | None:
    if acc is None:
        return None
    return {"user": acc.user, "role": acc.role, "roles": list(acc.roles), "admin": acc.admin,
            "app": acc.app, "ip": acc.ip, "userAgent": acc.user_agent, "origin": acc.origin}


def error_data(exc: BaseException) -> Any:
    """A failed step's value in the chain: Directus's error shape."""
    if isinstance(exc, TransomError):
        return {"message": exc.message,
                "extensions": {"code": exc.code, **_jsonable(exc.extensions)}}
    return {"message": str(exc) or exc.__class__.__name__,
            "extensions": {"code": "INTERNAL_SERVER_ERROR"}}


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


class Engine:
    """Runs the flows of one app."""

    def __init__(self, cms: Transom, store: FlowStore) -> None:
        self.cms = cms
        self.store = store

    def env(self) -> dict[str, Any]:
        names = self.cms.config.get("FLOWS_ENV_ALLOW_LIST") or []
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        out: dict[str, Any] = {}
        for name in names:
            if not name:
                continue
            value = self.cms.config.get(name)
            out[name] = os.environ.get(name) if value is None else value
        return _jsonable(out)

    def run(self, flow: Flow, trigger: Any, accountability: Accountability | None,
            connection: Any = None, depth: int = 0) -> Run:
        """Run ``flow`` with ``$trigger`` = ``trigger``; errors of steps never escape (they
        are the run's ``error``), only the log writing may raise."""
        data: dict[str, Any] = {TRIGGER: trigger, LAST: trigger,
                                ACCOUNTABILITY: accountability_data(accountability),
                                ENV: self.env()}
        run = Run(flow, data)
        ctx = RunContext(self.cms, self, flow.id, accountability, connection, depth, data)
        op = flow.operations.get(flow.operation) if flow.operation else None
        while op is not None and len(run.steps) < MAX_STEPS:
            options = render(op.options, data)
            handler = OPERATIONS.get(op.type)
            try:
                if handler is None:
                    raise OperationError(f'Unknown operation type "{op.type}"')
                value = handler(ctx, options)
                status, run.error = "resolve", None
            except Exception as exc:  # noqa: BLE001 - a failed step takes the reject path
                if not isinstance(exc, TransomError):
                    log.warning("flow %s: operation %s failed", flow.id, op.key, exc_info=True)
                value, status, run.error = error_data(exc), "reject", exc
            value = _jsonable(value)
            data[op.key] = value
            data[LAST] = value
            run.status = status
            run.steps.append({"operation": op.id, "key": op.key, "status": status,
                              "options": _jsonable(options), "data": value})
            next_id = op.resolve if status == "resolve" else op.reject
            op = flow.operations.get(next_id) if next_id else None
        self.write_log(run, accountability, connection)
        return run

    def run_for_result(self, flow: Flow, trigger: Any, accountability: Accountability | None,
                       connection: Any = None, depth: int = 0) -> Any:
        """Run a flow called by another one; its result, or its error raised."""
        run = self.run(flow, trigger, accountability, connection, depth)
        if run.status == "reject" and run.error is not None:
            raise run.error
        return run.result()

    def run_safely(self, flow: Flow, trigger: Any, accountability: Accountability | None
                   ) -> Run | None:
        """For background triggers (actions, schedules): never raise, log instead."""
        try:
            return self.run(flow, trigger, accountability)
        except Exception:  # noqa: BLE001 - a background run must not kill its thread
            log.exception("flow %s failed", flow.id)
            return None

    # -- run logs -------------------------------------------------------------------------
    def write_log(self, run: Run, acc: Accountability | None, connection: Any) -> None:
        mode = run.flow.accountability
        if mode not in ("all", "activity"):
            return
        if connection is not None:
            # a filter flow: its transaction is the only writer SQLite allows right now
            self._insert_log(connection, run, acc, mode)
            return
        with self.cms.begin() as conn:
            self._insert_log(conn, run, acc, mode)

    def _insert_log(self, conn: Any, run: Run, acc: Accountability | None, mode: str) -> None:
        activity = sa.table("directus_activity", *(sa.column(c) for c in (
            "id", "action", "user", "timestamp", "ip", "user_agent", "collection", "item",
            "origin")))
        result = conn.execute(activity.insert().values(
            action="run", user=acc.user if acc else None,
            timestamp=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            ip=acc.ip if acc else None, user_agent=acc.user_agent if acc else None,
            collection="directus_flows", item=run.flow.id, origin=acc.origin if acc else None))
        ids = result.inserted_primary_key
        activity_id = ids[0] if ids else None
        if activity_id is None:
            activity_id = conn.execute(sa.select(sa.func.max(activity.c.id))).scalar_one()
        if mode != "all":
            return
        revisions = sa.table("directus_revisions", *(sa.column(c) for c in (
            "activity", "collection", "item", "data", "delta")))
        chain = dict(run.data)
        conn.execute(revisions.insert().values(
            activity=activity_id, collection="directus_flows", item=run.flow.id,
            data=json.dumps({"steps": run.steps, "data": chain}, default=str), delta=None))
