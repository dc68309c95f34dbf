"""Cron jobs (``register_schedules``) and the server lifecycle events.

This module is the default plugin ``core_schedule``. On ``startup`` it collects every
plugin's :class:`~transom.events.Schedule`, checks the cron expressions (a bad one stops the
start, naming the job), starts one background scheduler thread for the app, and emits the
``server.start`` action; on ``shutdown`` it emits ``server.stop`` and stops the thread.

Semantics, written down once here:

* ``cron`` has 5 fields (minute first) or 6 (seconds first, as in Directus); it is read in the
  server's local time zone (give every instance the same ``TZ``);
* each tick of each job runs once per deployment, whatever the number of workers and
  instances sharing the database: every worker keeps its own timer, and when a tick is due it
  claims it (:func:`transom.locks.claim`, keyed by the job's name and the tick's scheduled time
  in UTC, which every machine computes alike); only the worker that wins the claim runs the
  job. The claims live in ``SYNCHRONIZATION_STORE`` (the database by default, or Redis), so a
  dead worker or instance loses nothing: the others claim the next tick;
* jobs run one after the other on the scheduler thread, so a slow job delays the next one of
  that worker; give long work to a thread of its own. With several workers, a job slower than
  its interval may start its next tick on another worker while it still runs: hold a
  :func:`transom.locks.lease` in the job if two runs must never overlap;
* a fire time missed while a job was running is not caught up: the job runs once and is
  planned again from now;
* a job's errors are logged and never stop the scheduler; so is a claim that cannot be made
  (store unreachable): that tick is skipped by that worker;
* the thread runs when ``SCHEDULER`` is true, or when it is unset and ``TESTING`` is off;
  ``SCHEDULER=false`` keeps a process out of the scheduling (it neither claims nor runs).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from croniter import croniter

from . import hookimpl, locks
from .config import CORE_SETTINGS, Setting
from .errors import StartupError
from .events import EventContext, Schedule
from .plugins import flatten

if TYPE_CHECKING:
    from .kernel import Transom

log = logging.getLogger("transom.schedule")

EXTENSION_KEY = "scheduler"

#: Seconds a tick's claim is remembered: longer than any worker can lag behind the others
#: (its earlier jobs of the same round may run long), so a late worker never runs it again.
CLAIM_TTL_S = 86_400.0

#: ``claim(job_name, tick_key, ttl_s) -> bool``: True when this worker runs the tick.
Claim = Callable[[str, str, float], bool]


def _now() -> dt.datetime:
    return dt.datetime.now().astimezone()


def croniter_expression(cron: str) -> str:
    """Directus's 6-field form has seconds first; croniter wants them last."""
    fields = cron.split()
    if len(fields) == 6:
        fields = [*fields[1:], fields[0]]
    elif len(fields) != 5:
        raise ValueError(f"a cron expression has 5 or 6 fields, not {len(fields)}")
    return " ".join(fields)


def next_time(cron: str, after: dt.datetime) -> dt.datetime:
    """The first fire time of ``cron`` strictly after ``after``."""
    return croniter(croniter_expression(cron), after).get_next(dt.datetime)


def tick_key(at: dt.datetime) -> str:
    """The claim key of a fire time: its UTC ISO form (``2030-01-01T03:00:00Z``), the same
    on every machine that computes that fire time from the same cron expression."""
    if at.tzinfo is None:
        at = at.astimezone()
    return at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Job:
    """A schedule with its next fire time."""

    schedule: Schedule
    name: str
    next_at: dt.datetime
    #: the name its ticks are claimed under: ``name``, plus ``#2``, ``#3``... for the second,
    #: third... job of that name (every worker lists the jobs in the same order)
    claim_name: str = ""


class Scheduler:
    """The jobs of one app and the thread that runs them."""

    def __init__(self, cms: Transom, schedules: list[Schedule],
                 now: dt.datetime | None = None, claim: Claim | None = None) -> None:
        self.cms = cms
        #: decides which worker runs a due tick; by default :func:`transom.locks.claim`
        self.claim: Claim = claim or (lambda name, key, ttl: locks.claim(cms, name, key, ttl))
        start = now or _now()
        self.jobs: list[Job] = []
        problems: list[str] = []
        seen: dict[str, int] = {}
        for i, sched in enumerate(schedules):
            name = sched.name or getattr(sched.handler, "__qualname__", f"schedule-{i}")
            seen[name] = seen.get(name, 0) + 1
            claim_name = name if seen[name] == 1 else f"{name}#{seen[name]}"
            try:
                self.jobs.append(Job(sched, name, next_time(sched.cron, start), claim_name))
            except (ValueError, KeyError) as exc:
                problems.append(f"schedule {name!r} has a bad cron expression "
                                f"{sched.cron!r}: {exc}")
        if problems:
            raise StartupError("\n".join(problems))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- running ------------------------------------------------------------------------
    def run_job(self, job: Job, at: dt.datetime) -> bool:
        """Run one job now; True when it finished without an error."""
        context = EventContext(None, None, self.cms.schema, self.cms,
                               {"schedule": job.name, "time": at})
        try:
            job.schedule.handler(context)
        except Exception:  # noqa: BLE001 - a job must never stop the scheduler
            log.exception("scheduled job %s failed", job.name)
            return False
        return True

    def claim_tick(self, job: Job, at: dt.datetime) -> bool:
        """True when this worker won the tick ``at`` of ``job`` for the whole deployment."""
        key = tick_key(at)
        try:
            return bool(self.claim(job.claim_name or job.name, key, CLAIM_TTL_S))
        except Exception:  # noqa: BLE001 - an unreachable store skips the tick, logged
            log.exception("could not claim scheduled job %s at %s; skipped here", job.name,
                          key)
            return False

    def run_pending(self, now: dt.datetime | None = None) -> list[str]:
        """Claim and run the jobs due at ``now`` and plan their next time; return the names
        of the jobs this worker ran (a tick another worker or instance won is skipped)."""
        now = now or _now()
        ran: list[str] = []
        for job in self.jobs:
            if self._stop.is_set():
                break
            if job.next_at <= now:
                at = job.next_at
                if self.claim_tick(job, at):
                    self.run_job(job, at)
                    ran.append(job.name)
                job.next_at = next_time(job.schedule.cron, max(now, _now()))
        return ran

    def seconds_to_next(self, now: dt.datetime | None = None) -> float | None:
        if not self.jobs:
            return None
        now = now or _now()
        return max(0.0, min((j.next_at - now).total_seconds() for j in self.jobs))

    def _loop(self) -> None:
        while not self._stop.is_set():
            wait = self.seconds_to_next()
            if wait is None:
                return
            # wake at least once a minute so a clock change is noticed
            if self._stop.wait(min(wait, 60.0)):
                return
            self.run_pending()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running or not self.jobs:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="transom-scheduler",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def scheduler_enabled(config: Any) -> bool:
    explicit = config.get("SCHEDULER")
    if explicit is not None:
        return bool(explicit)
    return not config.get("TESTING")


# -- the default plugin ---------------------------------------------------------------------
@hookimpl
def register_settings() -> Any:
    # SYNCHRONIZATION_STORE/_NAMESPACE, unless the core declares them itself (REDIS* it does)
    return [Setting("SCHEDULER", None, "bool",
                    "Run register_schedules jobs in this process (default: on, off in tests)."),
            *locks.settings({s.name for s in CORE_SETTINGS})]


@hookimpl
def register_migrations(cms: Transom) -> Any:
    """The tables of :mod:`transom.locks` (claims of scheduled ticks, leases)."""
    return [locks.MIGRATION]


@hookimpl
def extend_schema(cms: Transom, schema: Any) -> Any:
    """Keep the claim and lease tables out of the content schema (no /items, no GraphQL)."""
    for name in locks.TABLES:
        schema.tables.pop(name, None)
    return None


@hookimpl(trylast=True)
def startup(cms: Transom) -> None:
    """Last of the start-up hooks: build the scheduler, then announce ``server.start``."""
    schedules = [s for s in flatten(cms.hook.register_schedules(cms=cms))
                 if isinstance(s, Schedule)]
    scheduler = Scheduler(cms, schedules)
    locks.get_store(cms)  # a bad SYNCHRONIZATION_STORE stops the start, not the first tick
    cms.extensions[EXTENSION_KEY] = scheduler
    if scheduler_enabled(cms.config):
        scheduler.start()
    cms.emit_action("server.start", {"schedules": [j.name for j in scheduler.jobs]})


@hookimpl(tryfirst=True)
def shutdown(cms: Transom) -> None:
    """First of the shut-down hooks: announce ``server.stop``, then stop the jobs."""
    cms.emit_action("server.stop", {})
    scheduler = cms.extensions.get(EXTENSION_KEY)
    if scheduler is not None:
        scheduler.stop()
    locks.close(cms)
