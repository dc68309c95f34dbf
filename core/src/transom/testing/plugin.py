"""The ``transom.testing`` pytest plugin, for Transom itself and for plugin authors.

Fixtures:

* ``backend``: parametrised over ``sqlite``, ``postgres``, ``mysql``; a backend whose server
  cannot be reached is skipped, but fails under ``CI=true``;
* ``db_url``: a fresh, empty database on that backend;
* ``make_app(config=None, plugins=None, load_entrypoints=True, bootstrap=True)``: builds a
  Transom app on ``db_url`` (system tables and an admin whose static token is
  :data:`ADMIN_TOKEN`), closed after the test;
* ``app``, ``client``: the default app and its Flask test client;
* ``admin_headers``: ``Authorization`` for the admin token.

Restrict a test to some backends with ``@pytest.mark.backends("sqlite")``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from .databases import BACKENDS, fresh_database, in_ci, reset_database, unavailable_reason

pytest_plugins = [
    "transom.testing.live",  # live_server, live_redis_url, the `live` marker
    "transom.testing.gc_guard",  # cheap garbage collections over a long session
]

ADMIN_TOKEN = "transom-test-admin-token"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "SuperSecret123"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backends(*names): run only on these backends")
    _allow_bytecode_cache()


def _allow_bytecode_cache() -> None:
    """Let this run write ``__pycache__`` even where ``PYTHONDONTWRITEBYTECODE`` is set.

    Machines that set it (CI images often do) make each of the suite's hundreds of server
    processes and xdist workers compile Flask, SQLAlchemy, the plugins and pytest's rewritten
    test modules from source again: about 2.5 s of CPU per process, measured. The caches are
    ignored by git. ``TRANSOM_TEST_NO_BYTECODE=1`` keeps the environment's choice.
    """
    if os.environ.get("TRANSOM_TEST_NO_BYTECODE", "").lower() in ("1", "true", "yes"):
        return
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # inherited by servers and workers
    sys.dont_write_bytecode = False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0]
        if "backend" in (names.split(",") if isinstance(names, str) else names):
            return  # the test parametrises its own backends
    marker = metafunc.definition.get_closest_marker("backends")
    names = list(marker.args) if marker else list(BACKENDS)
    metafunc.parametrize("backend", names, indirect=True, ids=names)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    name = getattr(request, "param", "sqlite")
    reason = unavailable_reason(name)
    if reason is not None:
        if in_ci():
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return name


@pytest.fixture(scope="session")
def _shared_databases() -> Iterator[dict[str, Any]]:
    """One server database per backend for the whole session, emptied before each test."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        urls: dict[str, Any] = {}

        def get(backend: str) -> sa.URL:
            if backend not in urls:
                urls[backend] = stack.enter_context(fresh_database(backend))
            return urls[backend]

        yield {"get": get}


@pytest.fixture
def db_url(backend: str, tmp_path: Any, _shared_databases: dict[str, Any]) -> Iterator[sa.URL]:
    """An empty database on ``backend``: a new SQLite file, or the session's server
    database emptied (user tables dropped, system tables truncated)."""
    if backend == "sqlite":
        with fresh_database(backend, tmp_path) as url:
            yield url
        return
    url = _shared_databases["get"](backend)
    reset_database(url, backend)
    yield url


@pytest.fixture
def fresh_db_url(backend: str, tmp_path: Any) -> Iterator[sa.URL]:
    """A brand-new database with nothing in it (not even system tables)."""
    with fresh_database(backend, tmp_path) as url:
        yield url


def base_config(url: sa.URL) -> dict[str, Any]:
    return {
        "DB_URL": url.render_as_string(hide_password=False),
        "SECRET": "test-secret-0123456789-0123456789-abcdef",
        "KEY": "test-key",
        "ADMIN_EMAIL": ADMIN_EMAIL,
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "TESTING": "true",
        "LOG_LEVEL": "warn",
        "ACCESS_CACHE_TTL": "0",
        # every targeted schema refresh is checked against a full re-read
        "SCHEMA_CHECK_TARGETED": "true",
        "EXTENSIONS_PATH": "",
        # cheap hashes: tests hash many passwords; production keeps argon2's defaults
        "HASH_TIME_COST": "1",
        "HASH_MEMORY_COST": "1024",
        "HASH_PARALLELISM": "1",
    }


@pytest.fixture
def make_app(db_url: sa.URL, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    apps: list[Any] = []
    # files (uploads, exports) of the test's apps go to its own folder, never the checkout
    storage = {"STORAGE_LOCAL_ROOT": str(tmp_path / "uploads")}

    def factory(config: dict[str, Any] | None = None, plugins: list[Any] | None = None,
                load_entrypoints: bool = True, bootstrap: bool = True) -> Any:
        from ..app import create_app
        from ..system.bootstrap import bootstrap as run_bootstrap

        app = create_app({**base_config(db_url), **storage, **(config or {})}, plugins=plugins,
                         load_entrypoints=load_entrypoints, env_file=None)
        apps.append(app)
        if bootstrap:
            run_bootstrap(app.extensions["transom"])
        return app

    yield factory
    for app in apps:
        app.extensions["transom"].close()


@pytest.fixture
def app(make_app: Callable[..., Any]) -> Any:
    return make_app()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@contextmanager
def count_statements(engine: sa.Engine) -> Iterator[list[str]]:
    """Collect the SQL statements ``engine`` runs inside the block (N+1 tests)."""
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
