"""Live servers for tests: the real ``transom start`` (gunicorn, several worker processes)
driven over HTTP, for bugs the in-process Flask test client cannot show (state cached in one
worker, several instances on one database).

Fixtures (registered by the ``transom.testing`` pytest plugin):

* ``live_server(backend=None, *, workers=2, threads=None, env=None, database=None)``: starts a
  server and returns its :class:`LiveServer`; call it several times for several servers. Each
  gets a fresh database (a SQLite file, or a throw-away PostgreSQL/MariaDB database) unless
  ``database`` names one to share (an URL, or another :class:`LiveServer`). ``backend``
  defaults to the test's ``backend`` fixture when it uses it, else ``sqlite``. Every server is
  stopped, and every database dropped, when the test ends, even when it fails;
* ``live_redis_url``: a Redis URL (``TRANSOM_TEST_REDIS_URL``, default
  ``redis://127.0.0.1:6379/0``); skipped when Redis is unreachable, a failure under ``CI=true``.

Tests that use ``live_server`` get the ``live`` marker: select them with ``-m live``, leave
them out with ``-m "not live"``.

Outside pytest, :class:`LiveServer` is a context manager::

    with fresh_database("sqlite", folder) as url, LiveServer(url, workdir=folder) as srv:
        status, body = srv.call("GET", "/collections")
        codes = srv.burst("GET", "/items/articles")      # 12 concurrent requests
"""

from __future__ import annotations

import atexit
import concurrent.futures
import http.client
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from .databases import fresh_database, in_ci, unavailable_reason

LIVE_ADMIN_TOKEN = "transom-live-admin-token"
LIVE_ADMIN_EMAIL = "admin@example.com"
LIVE_ADMIN_PASSWORD = "SuperSecret123"
#: seconds to wait for ``/server/ping`` after starting
START_TIMEOUT = 30.0
#: seconds for any one HTTP request
REQUEST_TIMEOUT = 10.0
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class _AdminToken:
    """The default ``token`` of :meth:`LiveServer.call`: the server's admin static token."""

    def __repr__(self) -> str:
        return "ADMIN"


ADMIN = _AdminToken()


class LiveServerError(RuntimeError):
    """The server did not start (the message ends with the tail of its log)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command() -> list[str]:
    """``transom start`` for this interpreter: ``sys.executable -m transom.cli start`` when
    the module runs as a script (it has a ``__main__`` guard), else the ``transom`` console
    script next to ``sys.executable``, else the entry point run by ``sys.executable``."""
    spec = importlib.util.find_spec("transom.cli")
    try:
        source = Path(spec.origin).read_text() if spec and spec.origin else ""
    except OSError:
        source = ""
    if re.search(r"^if __name__ == [\"']__main__[\"']:", source, re.MULTILINE):
        return [sys.executable, "-m", "transom.cli", "start"]
    script = Path(sys.executable).parent / ("transom.exe" if os.name == "nt" else "transom")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script), "start"]
    return [sys.executable, "-c", "import sys; sys.argv[0] = 'transom'; "
            "from transom.cli import main; main()", "start"]


def database_env(url: sa.URL | str) -> dict[str, str]:
    """The settings pointing a server at ``url``: ``DB_CLIENT=sqlite3`` + ``DB_FILENAME`` for
    SQLite (what users set), ``DB_URL`` otherwise."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        return {"DB_CLIENT": "sqlite3", "DB_FILENAME": str(url.database)}
    return {"DB_URL": url.render_as_string(hide_password=False)}


def backend_of(url: sa.URL | str) -> str:
    name = make_url(url).get_backend_name()
    return {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}.get(name, name)


def require_backend(backend: str) -> None:
    """Skip the test when ``backend``'s server is unreachable; fail under ``CI=true``."""
    reason = unavailable_reason(backend)
    if reason is not None:
        if in_ci():
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)


def redis_url() -> str:
    return os.environ.get("TRANSOM_TEST_REDIS_URL", DEFAULT_REDIS_URL)


@cache
def redis_unavailable_reason(url: str) -> str | None:
    """None when a Redis server answers ``PING`` at ``url``, else why not (no client needed)."""
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            if parts.password:
                user = urllib.parse.unquote(parts.username or "default")
                pw = urllib.parse.unquote(parts.password)
                s.sendall(_resp("AUTH", user, pw))
                s.recv(256)
            s.sendall(_resp("PING"))
            answer = s.recv(64)
    except OSError as exc:
        return f"redis unreachable at {host}:{port}: {exc.__class__.__name__}: {exc}"
    if not answer.startswith(b"+PONG"):
        return f"redis at {host}:{port} answered {answer[:60]!r} to PING"
    return None


def _resp(*words: str) -> bytes:
    out = [f"*{len(words)}\r\n".encode()]
    for w in words:
        raw = w.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


def require_redis(url: str | None = None) -> str:
    """``url`` (default :func:`redis_url`) when Redis answers; skip, or fail under CI."""
    url = url or redis_url()
    reason = redis_unavailable_reason(url)
    if reason is not None:
        if in_ci():
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return url


def wait_for(predicate: Callable[[], Any], timeout: float = 2.0,
             interval: float = 0.01) -> float | None:
    """Call ``predicate`` every ``interval`` s until it is truthy: the seconds that took, or
    None when it did not happen within ``timeout``."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        elapsed = time.monotonic() - start
        if elapsed >= timeout:
            return None
        time.sleep(max(0.0, min(interval, timeout - elapsed)))


def traceback_excerpt(text: str, size: int = 1200) -> str | None:
    """The first Python traceback in a log, or None."""
    text = _expand_log(text)
    at = text.find("Traceback (most recent call last)")
    return None if at < 0 else text[at:at + size]


def _expand_log(text: str) -> str:
    """The log with its JSON lines' ``exc`` fields spelled out (Transom logs JSON lines)."""
    out: list[str] = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict):
                out.append(str(record.get("msg", "")))
                for key in ("exc", "stack", "traceback"):
                    if isinstance(record.get(key), str):
                        out.extend(record[key].splitlines())
                continue
        out.append(line)
    return "\n".join(out)


def traceback_errors(text: str) -> list[str]:
    """The exception line ending each Python traceback in a log (``KeyError: 'x'``)."""
    errors: list[str] = []
    lines = _expand_log(text).splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("Traceback (most recent call last)"):
            continue
        for after in lines[i + 1:]:
            if after and not after[0].isspace():
                errors.append(after.strip()[:300])
                break
    return errors


_running: set[LiveServer] = set()
_running_lock = threading.Lock()


@atexit.register
def _stop_all() -> None:  # last resort: never leave a server behind
    with _running_lock:
        servers = list(_running)
    stop_all(servers)


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
            self.stop()
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

    def stop(self) -> None:
        """SIGTERM to the process group, then SIGKILL if it lingers (idempotent).

        The master is waited for without being reaped, so that its process group cannot be
        reused while left-over workers are killed; it is reaped last."""
        proc, self.proc = self.proc, None
        if proc is not None:
            pgid = proc.pid
            _signal_group(pgid, signal.SIGTERM)
            if not _exited(proc, 10.0):
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


# -- pytest -----------------------------------------------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "live: drives a real `transom start` server over HTTP (select with -m live)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "live_server" in getattr(item, "fixturenames", ()) \
                and item.get_closest_marker("live") is None:
            item.add_marker(pytest.mark.live)


@pytest.fixture
def live_server(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LiveServer]]:
    """Factory of live servers, all stopped (and their databases dropped) after the test."""
    servers: list[LiveServer] = []
    with ExitStack() as stack:  # databases, dropped once every server has stopped

        def factory(backend: str | None = None, *, workers: int = 2,
                    threads: int | None = None, env: Mapping[str, Any] | None = None,
                    database: LiveServer | sa.URL | str | None = None,
                    start_timeout: float = START_TIMEOUT) -> LiveServer:
            workdir = tmp_path_factory.mktemp("live")
            if isinstance(database, LiveServer):
                url = database.db_url
            elif database is not None:
                url = make_url(database)
            else:
                if backend is None:
                    backend = (request.getfixturevalue("backend")
                               if "backend" in request.fixturenames else "sqlite")
                else:
                    require_backend(backend)
                url = stack.enter_context(fresh_database(backend, workdir))
            server = LiveServer(url, workdir, workers=workers, threads=threads, env=env,
                                start_timeout=start_timeout)
            servers.append(server)
            return server.start()

        try:
            yield factory
        finally:
            stop_all(servers)


def stop_all(servers: list[LiveServer]) -> None:
    """Stop several servers at once (each stop waits for its workers)."""
    threads = [threading.Thread(target=s.stop, name=f"stop-{s.port}") for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)


@pytest.fixture
def live_redis_url() -> str:
    """A reachable Redis (``TRANSOM_TEST_REDIS_URL``); skip, or fail under ``CI=true``."""
    return require_redis()


def unique_name(prefix: str = "live") -> str:
    """A collection/namespace name no other test uses."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def collection_body(name: str, *extra_fields: dict[str, Any]) -> dict[str, Any]:
    """``POST /collections`` for a table with an auto-increment ``id`` and a ``title``."""
    return {"collection": name, "schema": {}, "meta": {}, "fields": [
        {"field": "id", "type": "integer",
         "schema": {"is_primary_key": True, "has_auto_increment": True}},
        {"field": "title", "type": "string"},
        *extra_fields,
    ]}


def create_collection(server: LiveServer, name: str | None = None,
                      *extra_fields: dict[str, Any]) -> str:
    """Create a collection through the API (see :func:`collection_body`); its name."""
    name = name or unique_name()
    server.ok("POST", "/collections", collection_body(name, *extra_fields))
    return name


def create_user(server: LiveServer, permissions: list[dict[str, Any]] | None = None,
                app_access: bool = False) -> dict[str, Any]:
    """A non-admin policy (holding ``permissions``), a role, the access row linking them and
    an active user of that role with a static token, all made through the API:
    ``{policy, role, access, user, token, permissions}`` (the created rows)."""
    tag = uuid.uuid4().hex[:8]
    policy = server.ok("POST", "/policies", {"name": f"live-policy-{tag}", "icon": "badge",
                                             "app_access": app_access, "admin_access": False})
    role = server.ok("POST", "/roles", {"name": f"live-role-{tag}"})
    access = server.ok("POST", "/access", {"role": role["id"], "policy": policy["id"]})
    token = uuid.uuid4().hex
    user = server.ok("POST", "/users", {"email": f"live-{tag}@example.com",
                                        "password": "live-password-123", "role": role["id"],
                                        "token": token, "status": "active"})
    made = [server.ok("POST", "/permissions", {"policy": policy["id"], **p})
            for p in permissions or []]
    return {"policy": policy, "role": role, "access": access, "user": user, "token": token,
            "permissions": made}


def read_permission(policy_id: Any, collection: str) -> dict[str, Any]:
    """``POST /permissions`` body: read every field of every item of ``collection``."""
    return {"policy": policy_id, "collection": collection, "action": "read", "fields": ["*"],
            "permissions": {}}
