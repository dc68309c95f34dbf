"""Live servers for tests: the real ``transom start`` (gunicorn, several worker processes)
driven over HTTP, for bugs the in-process Flask test client cannot show (state cached in one
worker, several instances on one database).

Fixtures (registered by the ``transom.testing`` pytest plugin; this module holds them and
re-exports the rest: :mod:`.live_process` is the server, :mod:`.live_support` the helpers):

* ``live_server(backend=None, *, workers=2, threads=None, env=None, database=None)``: starts a
  server and returns its :class:`LiveServer`; call it several times for several servers. Each
  gets a fresh database (a SQLite file, or a throw-away PostgreSQL/MariaDB database) unless
  ``database`` names one to share (an URL, or another :class:`LiveServer`). ``backend``
  defaults to the test's ``backend`` fixture when it uses it, else ``sqlite``. Every server is
  stopped, and every database dropped, when the test ends, even when it fails;
* ``module_live_server``: the same factory for a whole module, its servers shared by the
  module's tests (for tests that leave a server as they found it);
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

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from .databases import fresh_database
from .live_process import Checks, LiveServer, stop_all
from .live_support import (
    ADMIN,
    DEFAULT_REDIS_URL,
    LIVE_ADMIN_EMAIL,
    LIVE_ADMIN_PASSWORD,
    LIVE_ADMIN_TOKEN,
    REQUEST_TIMEOUT,
    START_TIMEOUT,
    LiveServerError,
    backend_of,
    collection_body,
    create_collection,
    create_user,
    database_env,
    free_port,
    read_permission,
    redis_unavailable_reason,
    redis_url,
    require_backend,
    require_redis,
    server_command,
    traceback_errors,
    traceback_excerpt,
    unique_name,
    wait_for,
)

__all__ = [
    "ADMIN",
    "DEFAULT_REDIS_URL",
    "LIVE_ADMIN_EMAIL",
    "LIVE_ADMIN_PASSWORD",
    "LIVE_ADMIN_TOKEN",
    "REQUEST_TIMEOUT",
    "START_TIMEOUT",
    "Checks",
    "LiveServer",
    "LiveServerError",
    "backend_of",
    "collection_body",
    "create_collection",
    "create_user",
    "database_env",
    "free_port",
    "live_redis_url",
    "live_server",
    "module_live_server",
    "read_permission",
    "redis_unavailable_reason",
    "redis_url",
    "require_backend",
    "require_redis",
    "server_command",
    "stop_all",
    "traceback_errors",
    "traceback_excerpt",
    "unique_name",
    "wait_for",
]


# -- pytest -----------------------------------------------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "live: drives a real `transom start` server over HTTP (select with -m live)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        if ("live_server" in names or "module_live_server" in names) \
                and item.get_closest_marker("live") is None:
            item.add_marker(pytest.mark.live)


@contextmanager
def _server_factory(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                    per_test: bool) -> Iterator[Callable[..., LiveServer]]:
    """The factory behind :func:`live_server` and :func:`module_live_server`: every server
    it starts is killed, and every database it made dropped, when the block ends."""
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
                               if per_test and "backend" in request.fixturenames
                               else "sqlite")
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
            # throw-away servers: killed, not shut down gracefully (seconds saved per server)
            stop_all(servers, graceful=False)


@pytest.fixture
def live_server(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LiveServer]]:
    """Factory of live servers, all stopped (and their databases dropped) after the test."""
    with _server_factory(request, tmp_path_factory, per_test=True) as factory:
        yield factory


@pytest.fixture(scope="module")
def module_live_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                       ) -> Iterator[Callable[..., LiveServer]]:
    """:func:`live_server` for a whole module: the servers it starts are shared by the
    module's tests and stopped after its last one. For tests that leave the server as they
    found it (each start costs seconds); ``backend`` defaults to ``sqlite``. Under xdist,
    each worker that runs some of the module's tests starts its own. (``--dist loadgroup``
    would keep a module on one worker, but with pytest 9 and xdist 3.8 it groups nothing.)"""
    with _server_factory(request, tmp_path_factory, per_test=False) as factory:
        yield factory


@pytest.fixture
def live_redis_url() -> str:
    """A reachable Redis (``TRANSOM_TEST_REDIS_URL``); skip, or fail under ``CI=true``."""
    return require_redis()
