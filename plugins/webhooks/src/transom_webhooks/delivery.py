"""The background worker that calls webhook URLs.

The event listener only puts a job on a bounded queue (``put_nowait``: a full queue drops the
job with a log line and a ``dropped`` delivery row; the request is never made to wait). One
worker thread per app takes jobs in order, checks the webhook's item filter, sends the
request with ``urllib.request``, and logs every attempt. A failed attempt (network error,
timeout, 5xx, 408 or 429) is tried again after ``backoff * 2 ** (attempt - 1)`` seconds, up to
``max_attempts`` attempts; other 4xx answers are final. Retries wait on a heap, so a failing
endpoint does not hold up other deliveries.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from .store import Webhook, WebhookStore

log = logging.getLogger("transom.webhooks")

USER_AGENT = "Transom-Webhooks/0.1"
RETRY_STATUSES = frozenset({408, 429})


@dataclass
class Job:
    """One event to deliver to one webhook."""

    webhook: Webhook
    event: str
    collection: str | None
    keys: list[Any]
    body: dict[str, Any]
    attempt: int = 0
    due: float = 0.0
    seq: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None
    error: str | None
    duration_ms: int
    retryable: bool


def send(job: Job, timeout: float) -> Outcome:
    """One HTTP attempt; never raises."""
    hook = job.webhook
    headers = {"User-Agent": USER_AGENT, **hook.headers}
    data = None
    if hook.method != "GET":
        data = json.dumps(job.body, default=str).encode()
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(hook.url, data=data, method=hook.method, headers=headers)
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
            resp.read(65536)
            status = resp.status
    except urllib.error.HTTPError as exc:
        exc.close()
        ms = int((time.perf_counter() - start) * 1000)
        retry = exc.code >= 500 or exc.code in RETRY_STATUSES
        return Outcome(False, exc.code, f"HTTP {exc.code}", ms, retry)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        ms = int((time.perf_counter() - start) * 1000)
        reason = getattr(exc, "reason", exc)
        return Outcome(False, None, f"{type(exc).__name__}: {reason}", ms, True)
    ms = int((time.perf_counter() - start) * 1000)
    return Outcome(200 <= status < 300, status, None if status < 300 else f"HTTP {status}", ms,
                   status >= 500)


class Deliverer:
    """The bounded queue, the retry heap and the worker thread of one app."""

    def __init__(self, cms: Any, store: WebhookStore, max_attempts: int = 5,
                 backoff: float = 2.0, timeout: float = 10.0, queue_size: int = 1000) -> None:
        self.cms = cms
        self.store = store
        self.max_attempts = max(1, max_attempts)
        self.backoff = max(0.0, backoff)
        self.timeout = timeout
        self.queue: queue.Queue[Job | None] = queue.Queue(maxsize=max(1, queue_size))
        self._retries: list[tuple[float, int, Job]] = []
        self._seq = itertools.count()
        self._outstanding = 0
        self._idle = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    # -- producer side (the event listener) ---------------------------------------------
    def submit(self, job: Job) -> bool:
        """Queue a job without waiting; False (and a ``dropped`` log row) when full.

        The worker thread starts with the first job, so an app without webhooks has none.
        """
        if self._closed:
            return False
        if not self.running:
            self.start()
        with self._idle:
            self._outstanding += 1
        try:
            self.queue.put_nowait(job)
        except queue.Full:
            self._done()
            log.warning("webhooks: queue full, dropped %s for %s", job.event, job.webhook.name)
            self.store.log_delivery(job.webhook, job.event, job.collection, 0, "dropped",
                                    error="queue full")
            return False
        return True

    # -- worker side --------------------------------------------------------------------
    def start(self) -> None:
        with self._start_lock:
            if self._closed or self.running:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="transom-webhooks",
                                            daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker for good; jobs still queued or waiting for a retry are dropped
        (logged)."""
        with self._start_lock:
            self._closed = True
        self._stop.set()
        if self._thread is not None:
            try:
                self.queue.put_nowait(None)  # wake the worker at once
            except queue.Full:
                pass
            self._thread.join(timeout)
            self._thread = None
        left = sum(1 for job in list(self.queue.queue) if job is not None) + len(self._retries)
        if left:
            log.warning("webhooks: stopped with %d deliveries not sent", left)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every submitted job is finished (for tests and graceful stops)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._outstanding:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def _done(self) -> None:
        with self._idle:
            self._outstanding -= 1
            if not self._outstanding:
                self._idle.notify_all()

    def _loop(self) -> None:
        while not self._stop.is_set():
            wait = 1.0
            if self._retries:
                wait = max(0.0, min(wait, self._retries[0][0] - time.monotonic()))
            try:
                job = self.queue.get(timeout=wait) if wait > 0 else self.queue.get_nowait()
            except queue.Empty:
                job = None
            if job is not None:
                self._process(job)
            while self._retries and self._retries[0][0] <= time.monotonic():
                if self._stop.is_set():
                    return
                _, _, retry = heapq.heappop(self._retries)
                self._process(retry)

    def _process(self, job: Job) -> None:
        finished = True
        try:
            if job.attempt == 0 and job.webhook.filter and not self._filter_matches(job):
                return
            job.attempt += 1
            outcome = send(job, self.timeout)
            if outcome.ok:
                status = "success"
            elif outcome.retryable and job.attempt < self.max_attempts:
                status = "retry"
                delay = self.backoff * (2 ** (job.attempt - 1))
                heapq.heappush(self._retries, (time.monotonic() + delay, next(self._seq), job))
                finished = False
            else:
                status = "failed"
            level = logging.INFO if outcome.ok else logging.WARNING
            log.log(level, "webhook %s %s %s -> %s (attempt %d, %s)", job.webhook.name,
                    job.webhook.method, job.webhook.url, outcome.status or outcome.error,
                    job.attempt, status)
            self.store.log_delivery(job.webhook, job.event, job.collection, job.attempt, status,
                                    outcome.status, outcome.error, outcome.duration_ms)
        except Exception:  # noqa: BLE001 - the worker must survive anything
            log.exception("webhooks: delivery of %s failed", job.webhook.name)
        finally:
            if finished:
                self._done()

    def _filter_matches(self, job: Job) -> bool:
        """Does any item of the event match the webhook's filter (read as the system)?

        Deletes cannot be checked (the item is gone), so a filtered webhook skips them.
        """
        from transom.api import ItemsService

        if not job.collection or not job.keys or job.event.endswith(".delete"):
            return False
        svc = ItemsService(self.cms, job.collection, None, emit_events=False)
        coll = svc.coll()
        flt = {"_and": [job.webhook.filter, {coll.primary_key: {"_in": job.keys}}]}
        return bool(svc.keys_by_query({"filter": flt, "limit": -1}))


def make_body(hook: Webhook, event: str, meta: dict[str, Any], context: Any) -> dict[str, Any]:
    """What the webhook receives: Directus 10's webhook body plus the scoped event name."""
    from .store import generic_event

    acc = getattr(context, "accountability", None)
    body: dict[str, Any] = {
        "event": generic_event(event),
        "scope": event,
        "collection": meta.get("collection"),
        "payload": meta.get("payload"),
        "accountability": {"user": acc.user, "role": acc.role} if acc is not None else None,
        "webhook": {"id": hook.id, "name": hook.name},
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
    }
    if "key" in meta:
        body["key"] = meta["key"]
    if "keys" in meta:
        body["keys"] = meta["keys"]
    return body
