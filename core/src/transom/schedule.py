"""Cron jobs (``register_schedules``) and the server lifecycle events.

This module is the default plugin ``core_schedule``. On ``startup`` it collects every
plugin's :class:`~transom.events.Schedule`, checks the cron expressions (a bad one stops the
start, naming the job), starts one background scheduler thread for the app, and emits the
``server.start`` action; on ``shutdown`` it emits ``server.stop`` and stops the thread.

Semantics, written down once here:

* ``cron`` has 5 fields (minute first) or 6 (seconds first, as in Directus); it is read in the
  server's local time zone;
* jobs run one after the other on the scheduler thread, so a slow job delays the next one;
  give long work to a thread of its own;
* a fire time missed while a job was running is not caught up: the job runs once and is
  planned again from now;
* a job's errors are logged and never stop the scheduler;
* the thread runs when ``SCHEDULER`` is true, or when it is unset and ``TESTING`` is off; each
  process (each gunicorn worker) runs its own scheduler, so with several workers either set
  ``SCHEDULER=false`` on all but one or make the job idempotent.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import hookimpl
from .config import Setting
from .errors import StartupError
from .events import EventContext, Schedule
from .plugins import flatten

if TYPE_CHECKING:
    from .kernel import Transom

log = logging.getLogger("transom.schedule")

EXTENSION_KEY = "scheduler"


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
    from croniter import croniter

    return croniter(croniter_expression(cron), after).get_next(dt.datetime)


@dataclass
class Job:
    """A schedule with its next fire time."""

    schedule: Schedule
    name: str
    next_at: dt.datetime


class Scheduler:
    """The jobs of one app and the thread that runs them."""

    def __init__(self, cms: Transom, schedules: list[Schedule],
                 now: dt.datetime | None = None) -> None:
        self.cms = cms
        start = now or _now()
        self.jobs: list[Job] = []
        problems: list[str] = []
        for i, sched in enumerate(schedules):
            name = sched.name or getattr(sched.handler, "__qualname__", f"schedule-{i}")
            try:
                self.jobs.append(Job(sched, name, next_time(sched.cron, start)))
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

    def run_pending(self, now: dt.datetime | None = None) -> list[str]:
        """Run the jobs due at ``now`` and plan their next time; return their names."""
        now = now or _now()
        ran: list[str] = []
        for job in self.jobs:
            if self._stop.is_set():
                break
            if job.next_at <= now:
                self.run_job(job, job.next_at)
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
    return [Setting("SCHEDULER", None, "bool",
                    "Run register_schedules jobs in this process (default: on, off in tests).")]


@hookimpl(trylast=True)
def startup(cms: Transom) -> None:
    """Last of the start-up hooks: build the scheduler, then announce ``server.start``."""
    schedules = [s for s in flatten(cms.hook.register_schedules(cms=cms))
                 if isinstance(s, Schedule)]
    scheduler = Scheduler(cms, schedules)
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
