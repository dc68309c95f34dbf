"""Throw-away databases for tests, on every backend this machine can reach.

``TRANSOM_TEST_PG_URL`` and ``TRANSOM_TEST_MYSQL_URL`` point at a server where the test user
may create databases (defaults: the local PostgreSQL and MariaDB). A backend that cannot be
reached is skipped, except under ``CI=true``, where an unreachable server is a failure.
Each call of :func:`fresh_database` makes a new, empty database and drops it afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

BACKENDS = ("sqlite", "postgres", "mysql")

DEFAULT_URLS = {
    "postgres": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/test",
}


def server_url(backend: str) -> URL:
    """The admin URL of the server used for ``backend`` tests."""
    env = {"postgres": "TRANSOM_TEST_PG_URL", "mysql": "TRANSOM_TEST_MYSQL_URL"}[backend]
    return make_url(os.environ.get(env, DEFAULT_URLS[backend]))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@cache
def unavailable_reason(backend: str) -> str | None:
    """None when ``backend`` can be used here, else why not."""
    if backend == "sqlite":
        return None
    selected = os.environ.get("TRANSOM_TEST_BACKENDS")
    if selected and backend not in selected.split(","):
        return f"{backend} not in TRANSOM_TEST_BACKENDS"
    try:
        engine = sa.create_engine(server_url(backend), poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means unreachable
        return f"{backend} unreachable: {exc.__class__.__name__}: {str(exc)[:200]}"
    return None


def available_backends() -> list[str]:
    return [b for b in BACKENDS if unavailable_reason(b) is None]


def _admin_execute(backend: str, statement: str) -> None:
    engine = sa.create_engine(
        server_url(backend), poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


@contextmanager
def fresh_database(backend: str, tmp_path: Path | None = None) -> Iterator[URL]:
    """Create an empty database on ``backend`` and yield its SQLAlchemy URL."""
    name = f"transom_t_{uuid.uuid4().hex[:12]}"
    if backend == "sqlite":
        folder = tmp_path or Path(os.environ.get("TMPDIR", "/tmp"))
        path = folder / f"{name}.db"
        try:
            yield make_url(f"sqlite+pysqlite:///{path}")
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    if backend == "postgres":
        _admin_execute(backend, f'CREATE DATABASE "{name}"')
    elif backend == "mysql":
        _admin_execute(
            backend, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    else:  # pragma: no cover
        raise ValueError(backend)
    try:
        yield server_url(backend).set(database=name)
    finally:
        if backend == "postgres":
            _admin_execute(backend, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            _admin_execute(backend, f"DROP DATABASE IF EXISTS `{name}`")


def reset_database(url: URL, backend: str) -> None:
    """Empty a test database for the next test, much faster than making a new one.

    Every table and view that is not a Directus system table is dropped; the system tables
    are emptied (``directus_migrations`` kept, so bootstrap finds them migrated and only
    seeds the first admin again).
    """
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            insp = sa.inspect(conn)
            views = insp.get_view_names()
            tables = insp.get_table_names()
            q = conn.dialect.identifier_preparer.quote
            if backend == "mysql":
                conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
            for v in views:
                conn.exec_driver_sql(f"DROP VIEW IF EXISTS {q(v)}")
            user_tables = [t for t in tables if not t.startswith("directus_")]
            system = [t for t in tables if t.startswith("directus_") and
                      t != "directus_migrations"]
            if backend == "postgres":
                if user_tables:
                    conn.exec_driver_sql(
                        "DROP TABLE IF EXISTS " + ", ".join(q(t) for t in user_tables)
                        + " CASCADE")
                if system:
                    conn.exec_driver_sql("TRUNCATE TABLE " + ", ".join(q(t) for t in system)
                                         + " RESTART IDENTITY CASCADE")
            else:
                for t in user_tables:
                    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {q(t)}")
                for t in system:
                    conn.exec_driver_sql(f"TRUNCATE TABLE {q(t)}" if backend == "mysql"
                                         else f"DELETE FROM {q(t)}")
            if "directus_migrations" in tables:
                # plugin tables were dropped above: forget their migrations, keep the core's
                from ..system.migrations import core_migrations

                keep = [m.version for m in core_migrations()]
                conn.execute(sa.text("DELETE FROM directus_migrations WHERE version NOT IN "
                                     "(" + ", ".join(f":v{i}" for i in range(len(keep))) + ")"),
                             {f"v{i}": v for i, v in enumerate(keep)})
            if backend == "mysql":
                conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")
    finally:
        engine.dispose()
