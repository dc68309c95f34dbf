"""What live-server tests share besides the server: constants, Redis and readiness checks,
traceback parsing, and API helpers that set up collections and users."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from .databases import in_ci, unavailable_reason

if TYPE_CHECKING:
    from .live_process import LiveServer

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


def terminate(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """Stop a server process politely (SIGTERM), then for sure (SIGKILL) after ``timeout``."""
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


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
