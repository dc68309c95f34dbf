"""The live server itself: ``transom start`` in a process group, driven over HTTP."""

from __future__ import annotations

import atexit
import concurrent.futures
import http.client
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from .live_support import (
    ADMIN,
    LIVE_ADMIN_EMAIL,
    LIVE_ADMIN_PASSWORD,
    LIVE_ADMIN_TOKEN,
    REQUEST_TIMEOUT,
    START_TIMEOUT,
    LiveServerError,
    backend_of,
    database_env,
    free_port,
    server_command,
    traceback_errors,
    traceback_excerpt,
)

_running: set[LiveServer] = set()
_running_lock = threading.Lock()


@atexit.register
def _stop_all() -> None:  # last resort: never leave a server behind
    with _running_lock:
        servers = list(_running)
    stop_all(servers, graceful=False)


_IDLE_WCHAN = ("poll", "select", "epoll", "ep_poll")


class LiveServer:
    """``transom start`` in its own process group, on 127.0.0.1 and a free port.

    :param db_url: the database (SQLAlchemy URL); it must exist (bootstrap fills it).
    :param workdir: the server's folder: working directory, ``server.log``, uploads.
    :param env: settings on top of the defaults (a ``None`` value removes a variable). The
        environment of this process is inherited, except its ``DB_*`` variables.
    """

    def __init__(self, db_url: sa.URL | str, workdir: str | os.PathLike[str], *,
                 workers: int = 2, threads: int | None = None,
                 env: Mapping[str, Any] | None = None, start_timeout: float = START_TIMEOUT,
                 request_timeout: float = REQUEST_TIMEOUT,
                 command: list[str] | None = None) -> None:
        self.db_url = make_url(db_url)
        self.backend = backend_of(self.db_url)
        self.workdir = Path(workdir)
        self.workers = workers
        self.threads = threads
        self.extra_env = dict(env or {})
        self.start_timeout = start_timeout
        self.request_timeout = request_timeout
        self.command = list(command) if command else server_command()
        self.log_path = self.workdir / "server.log"
        self.port = 0
        self.base_url = ""
        self.admin_token = str(self.extra_env.get("ADMIN_TOKEN") or LIVE_ADMIN_TOKEN)
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self._pools: dict[int, concurrent.futures.ThreadPoolExecutor] = {}
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # -- life cycle ---------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
        env.update({
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WORKERS": str(self.workers),
            "KEY": "transom-live-key",
            "SECRET": "transom-live-secret-0123456789-0123456789-abcdef",
            "ADMIN_EMAIL": LIVE_ADMIN_EMAIL,
            "ADMIN_PASSWORD": LIVE_ADMIN_PASSWORD,
            "ADMIN_TOKEN": LIVE_ADMIN_TOKEN,
            "PUBLIC_URL": self.base_url,
            "LOG_LEVEL": "warn",
            # no .env file from wherever the tests run
            "CONFIG_ENV_FILE": str(self.workdir / "no-such.env"),
            # cheap hashes: tests make users; production keeps argon2's defaults
            "HASH_TIME_COST": "1",
            "HASH_MEMORY_COST": "1024",
            "HASH_PARALLELISM": "1",
            # the instances on one database talk among themselves, and only among themselves
            "MESSENGER_NAMESPACE": f"live_{Path(str(self.db_url.database)).stem}",
        })
        if self.threads is not None:
            env["THREADS"] = str(self.threads)
        env.update(database_env(self.db_url))
        for key, value in self.extra_env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = str(value)
        return env

    def start(self) -> LiveServer:
        if self.proc is not None:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            self.port = free_port()
            self.base_url = f"http://127.0.0.1:{self.port}"
            offset = len(self.log_text())
            self._spawn()
            problem = self._wait_ready()
            if problem is None:
                return self
            text = self.log_text()[offset:]
            self.stop(graceful=False)  # it never served: nothing to shut down politely
            busy = "Address already in use" in text or "Connection in use" in text
            if not (busy and attempt < 2):  # another process took the port: try another
                raise LiveServerError(
                    f"`{' '.join(self.command)}` ({self.backend}, {self.workers} workers) "
                    f"{problem}\n--- last lines of {self.log_path}:\n{self.log_tail()}")
        raise AssertionError("unreachable")  # pragma: no cover

    def _spawn(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed by stop()
        self._log.write(f"--- {time.strftime('%H:%M:%S')} {' '.join(self.command)} on "
                        f"port {self.port}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            self.command, cwd=self.workdir, env=self.environment(), stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        with _running_lock:
            _running.add(self)

    def _wait_ready(self) -> str | None:
        """None once ``/server/ping`` answers and every worker waits for requests."""
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                how = (f"was killed by {signal.Signals(-code).name}" if code < 0
                       else f"exited with status {code}")
                return f"{how} before answering /server/ping"
            status, _ = self.call("GET", "/server/ping", token=None, timeout=1.0)
            if status == 200:
                break
            if time.monotonic() > deadline:
                return f"did not answer /server/ping within {self.start_timeout:.0f} s"
            time.sleep(0.05)
        # /server/ping answers as soon as one worker is up; a later worker would miss the
        # first changes (and hide stale caches): wait, on Linux, until all of them idle.
        self._wait_workers_idle(min(5.0, max(0.5, deadline - time.monotonic())))
        return None

    def worker_pids(self) -> list[int]:
        """The worker processes (children of the gunicorn master), where /proc exists."""
        if self.proc is None:
            return []
        master = self.proc.pid
        pids = []
        try:
            entries = os.listdir("/proc")
        except OSError:
            return []
        for entry in entries:
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2:].split()
            if len(fields) > 1 and fields[1] == str(master):
                pids.append(int(entry))
        return sorted(pids)

    @staticmethod
    def _idle(pid: int) -> bool | None:
        try:
            wchan = Path(f"/proc/{pid}/wchan").read_text().strip()
        except OSError:
            return None
        if wchan in ("", "0"):
            return False
        return any(w in wchan for w in _IDLE_WCHAN)

    def _wait_workers_idle(self, timeout: float) -> None:
        assert self.proc is not None
        if self._idle(self.proc.pid) is None:
            return  # no /proc here: the ping has to do
        deadline = time.monotonic() + timeout
        idle_rounds = 0
        while time.monotonic() < deadline and idle_rounds < 3:
            pids = self.worker_pids()
            if len(pids) >= self.workers and all(self._idle(p) for p in pids):
                idle_rounds += 1
            else:
                idle_rounds = 0
            time.sleep(0.02)

    def stop(self, graceful: bool = True) -> None:
        """SIGTERM to the process group, then SIGKILL if it lingers (idempotent).

        ``graceful=False`` sends SIGKILL at once: the fixtures' clean-up after a test, whose
        server and database are thrown away, need not wait for gunicorn's graceful shutdown
        (seconds per server). A test that stops a server itself keeps the graceful path.

        The master is waited for without being reaped, so that its process group cannot be
        reused while left-over workers are killed; it is reaped last."""
        proc, self.proc = self.proc, None
        if proc is not None:
            pgid = proc.pid
            _signal_group(pgid, signal.SIGTERM if graceful else signal.SIGKILL)
            if not _exited(proc, 10.0 if graceful else 5.0):
                _signal_group(pgid, signal.SIGKILL)
                _exited(proc, 5.0)
            if proc.returncode is None:  # a zombie still holds the group: safe to signal
                _signal_group(pgid, signal.SIGKILL)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover - unkillable
                pass
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
        if self._log is not None:
            self._log.close()
            self._log = None
        with _running_lock:
            _running.discard(self)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<LiveServer {self.backend} {self.base_url or '(not started)'} " \
               f"{self.workers} workers>"

    # -- log ------------------------------------------------------------------------------
    def log_text(self) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            return self.log_path.read_bytes().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, size: int = 3000) -> str:
        return self.log_text()[-size:]

    def traceback(self) -> str | None:
        """The first traceback in the server log, or None."""
        return traceback_excerpt(self.log_text())

    def traceback_summary(self) -> str | None:
        """None when the server log has no traceback, else how many and the distinct
        exceptions that end them (for assertion messages)."""
        errors = traceback_errors(self.log_text())
        if not errors:
            return None
        distinct = list(dict.fromkeys(errors))
        return f"{len(errors)} traceback(s) in {self.log_path}: " + " | ".join(distinct[:5])

    # -- HTTP -----------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return self.base_url + path

    def call(self, method: str, path: str, body: Any = None, token: Any = ADMIN,
             headers: Mapping[str, str] | None = None,
             timeout: float | None = None) -> tuple[int, Any]:
        """One request: ``(status, body)``, the body parsed as JSON when it is (else text,
        None when empty). ``token`` is a static token, ``None`` for anonymous, by default
        the admin's. A connection error or timeout gives status 0 and its description."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url(path), data=data, method=method.upper())
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token is ADMIN:
            token = self.admin_token
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with self._opener.open(req, timeout=timeout or self.request_timeout) as r:
                return r.status, _parse(r.read())
        except urllib.error.HTTPError as e:
            try:
                raw = e.read()
            except OSError:
                raw = b""
            return e.code, _parse(raw)
        except (OSError, http.client.HTTPException) as e:
            return 0, f"{e.__class__.__name__}: {e}"

    def ok(self, method: str, path: str, body: Any = None, token: Any = ADMIN,
           headers: Mapping[str, str] | None = None) -> Any:
        """:meth:`call` that must succeed (2xx): the ``data`` of the answer."""
        status, answer = self.call(method, path, body, token=token, headers=headers)
        assert 200 <= status < 300, f"{method} {path} {json.dumps(body)[:300]} -> {status} " \
                                    f"{str(answer)[:500]}"
        return answer.get("data") if isinstance(answer, dict) else answer

    def burst(self, method: str, path: str, n: int = 12, body: Any = None, token: Any = ADMIN,
              headers: Mapping[str, str] | None = None, concurrency: int | None = None,
              full: bool = False) -> list[Any]:
        """``n`` concurrent requests (``concurrency`` at a time, default 3 per worker, so
        they spread over every worker): their statuses in order, or ``(status, body)``
        pairs with ``full``. ``body`` may be a function of the request's index."""
        width = concurrency or max(2, 3 * self.workers)
        pool = self._pools.get(width)
        if pool is None:
            pool = self._pools[width] = concurrent.futures.ThreadPoolExecutor(
                width, thread_name_prefix="live-burst")

        def one(i: int) -> tuple[int, Any]:
            return self.call(method, path, body(i) if callable(body) else body, token=token,
                             headers=headers)

        futures = [pool.submit(one, i) for i in range(n)]
        results = [f.result() for f in futures]
        return results if full else [status for status, _ in results]


def _parse(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw[:500].decode(errors="replace")


def _exited(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait up to ``timeout`` s for ``proc`` to exit, leaving it unreaped where possible."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.returncode is not None:
            return True
        if hasattr(os, "waitid"):
            try:
                if os.waitid(os.P_PID, proc.pid,
                             os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    return True
            except ChildProcessError:  # reaped elsewhere
                return True
        elif proc.poll() is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group: False when the group is gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a recycled id: not ours
        return False
    return True


class Checks:
    """Failed expectations collected over several steps, so one server start can check many
    things and a test reports every failing step at once."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def statuses(self, step: str, statuses: list[Any], expected: Any) -> bool:
        """All ``statuses`` equal ``expected``; else record ``step`` with the answers."""
        stale = [s for s in statuses if s != expected]
        if stale:
            self.failures.append(f"{step}: {len(stale)} of {len(statuses)} answers not "
                                 f"{expected}: {statuses}")
        return not stale

    def true(self, step: str, ok: Any, detail: Any = "") -> bool:
        if not ok:
            self.failures.append(f"{step}: {str(detail)[:600]}")
        return bool(ok)

    def verify(self) -> None:
        """Fail the test with every recorded failure."""
        if self.failures:
            pytest.fail(f"{len(self.failures)} step(s) failed:\n- "
                        + "\n- ".join(self.failures), pytrace=False)


def stop_all(servers: list[LiveServer], graceful: bool = True) -> None:
    """Stop several servers at once (each stop waits for its workers); ``graceful=False``
    kills them (see :meth:`LiveServer.stop`)."""
    threads = [threading.Thread(target=s.stop, args=(graceful,), name=f"stop-{s.port}")
               for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
