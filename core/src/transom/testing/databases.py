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


def _admin_execute(backend: str, *statements: str) -> None:
    engine = sa.create_engine(
        server_url(backend), poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        with engine.connect() as conn:
            for statement in statements:
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
        # a throw-away database need not wait for the WAL flush at each commit: every
        # migration, bootstrap and write of a test commits, 1 ms instead of 6 here
        _admin_execute(backend, f'CREATE DATABASE "{name}"',
                       f'ALTER DATABASE "{name}" SET synchronous_commit = off')
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
    seeds the first admin again) and their identity counters start again at 1. Only the
    tables the last test touched are emptied: one query finds the tables holding rows and
    those whose counter moved, as truncating all 40 costs a file operation each (0.5 to 1 s
    a test on MariaDB).
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
            if views:
                conn.exec_driver_sql("DROP VIEW IF EXISTS " + ", ".join(q(v) for v in views)
                                     + (" CASCADE" if backend == "postgres" else ""))
            user_tables = [t for t in tables if not t.startswith("directus_")]
            system = [t for t in tables if t.startswith("directus_") and
                      t != "directus_migrations"]
            if user_tables:
                conn.exec_driver_sql(
                    "DROP TABLE IF EXISTS " + ", ".join(q(t) for t in user_tables)
                    + (" CASCADE" if backend == "postgres" else ""))
            used = _used_tables(conn, backend, system)
            if backend == "postgres":
                _empty_postgres(conn, used)
            elif backend == "mysql":
                counters = _moved_counters(conn)
                for t in used:  # TRUNCATE resets the counter, DELETE is 10 times cheaper
                    conn.exec_driver_sql(
                        f"TRUNCATE TABLE {q(t)}" if t in counters else f"DELETE FROM {q(t)}")
            else:
                for t in used:
                    conn.exec_driver_sql(f"DELETE FROM {q(t)}")
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


def _empty_postgres(conn: sa.Connection, tables: list[str]) -> None:
    """Empty ``tables`` and restart their sequences. A superuser (the local test server)
    deletes the rows with the foreign-key triggers off: TRUNCATE makes new files for every
    table its CASCADE reaches, nearly all 40 system tables (0.3 s)."""
    if not tables:
        return
    q = conn.dialect.identifier_preparer.quote
    if conn.exec_driver_sql("SELECT current_setting('is_superuser')").scalar_one() != "on":
        conn.exec_driver_sql("TRUNCATE TABLE " + ", ".join(q(t) for t in tables)
                             + " RESTART IDENTITY CASCADE")
        return
    conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
    for t in tables:
        conn.exec_driver_sql(f"DELETE FROM {q(t)}")
    conn.exec_driver_sql("SET LOCAL session_replication_role = origin")
    conn.execute(sa.text(
        "SELECT setval(s.oid, 1, false) FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
        "AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
        "JOIN pg_class t ON t.oid = d.refobjid WHERE s.relkind = 'S' "
        "AND t.relname = ANY(:names)"), {"names": tables})


def _used_tables(conn: sa.Connection, backend: str, tables: list[str]) -> list[str]:
    """The ``tables`` holding a row, or (server databases) whose identity counter moved, in
    one query: the ones a reset must empty."""
    if not tables:
        return []
    q = conn.dialect.identifier_preparer.quote
    probe = " UNION ALL ".join(
        f"SELECT :t{i} AS name FROM (SELECT 1 AS x FROM {q(t)} LIMIT 1) AS p{i}"
        for i, t in enumerate(tables))
    names = {t: i for i, t in enumerate(tables)}
    found = set(conn.execute(sa.text(probe), {f"t{i}": t for t, i in names.items()}).scalars())
    if backend == "postgres":
        # a sequence handed out a value (rows since deleted, or a failed insert)
        rows = conn.exec_driver_sql(
            "SELECT t.relname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
            "AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
            "JOIN pg_class t ON t.oid = d.refobjid JOIN pg_sequences ps ON "
            "ps.schemaname = current_schema() AND ps.sequencename = s.relname "
            "WHERE s.relkind = 'S' AND ps.last_value IS NOT NULL").scalars()
        found.update(r for r in rows if r in names)
    elif backend == "mysql":
        found.update(t for t in _moved_counters(conn) if t in names)
    return [t for t in tables if t in found]


def _moved_counters(conn: sa.Connection) -> set[str]:
    """MariaDB tables whose AUTO_INCREMENT counter is past 1."""
    return set(conn.exec_driver_sql(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
        "AND AUTO_INCREMENT > 1").scalars())
