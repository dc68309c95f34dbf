"""Versioned, idempotent migrations recorded in ``directus_migrations``.

Directus records each migration it has run as a ``{version, name, timestamp}`` row; Transom
uses the same table, so the core's and the plugins' migrations (``register_migrations``) are
applied once per database whichever tool made it. Each pending migration runs in its own
transaction and is recorded in that same transaction: on PostgreSQL (transactional DDL) a
failure leaves nothing behind; on MySQL/MariaDB and SQLite, DDL already executed stays, but the
migration is not recorded, so it runs again next time (write migrations that tolerate that,
e.g. with ``checkfirst``).

Transom's own versions end in ``T`` (``20250101T``): Directus's versions are a date plus a
letter counting that day's migrations from ``A``, so a ``T`` suffix never collides with them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .tables import shared_system_metadata

if TYPE_CHECKING:
    from ..dialects import Dialect

MIGRATIONS_TABLE = "directus_migrations"

MigrationStep = Callable[[Connection, "Dialect | None"], None]


@dataclass(frozen=True)
class Migration:
    """One schema change. ``version`` orders migrations (plain string order) and is the key
    recorded in ``directus_migrations``; ``up`` receives the connection (inside the
    migration's transaction) and the Transom dialect when the caller has one."""

    version: str
    name: str
    up: MigrationStep
    down: MigrationStep | None = None


def _create_system_tables(conn: Connection, dialect: Dialect | None) -> None:
    """Create every missing system table; tables that exist (e.g. made by Directus) are
    left exactly as they are."""
    shared_system_metadata().create_all(conn, checkfirst=True)


def _drop_system_tables(conn: Connection, dialect: Dialect | None) -> None:
    """Drop the system tables except ``directus_migrations`` (which records the rollback)."""
    md = shared_system_metadata()
    tables = [t for t in md.sorted_tables if t.name != MIGRATIONS_TABLE]
    md.drop_all(conn, tables=tables, checkfirst=True)


#: The core's migrations, oldest first.
CORE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version="20250101T",
        name="transom-create-system-tables",
        up=_create_system_tables,
        down=_drop_system_tables,
    ),
)


def core_migrations() -> list[Migration]:
    """A new list of the core's migrations (callers may extend it with plugin ones)."""
    return list(CORE_MIGRATIONS)


def sort_migrations(migrations: Iterable[Migration]) -> list[Migration]:
    """Migrations in the order they run; a version listed twice is a ``ValueError``."""
    seen: dict[str, Migration] = {}
    for m in migrations:
        if not m.version:
            raise ValueError(f"migration {m.name!r} has an empty version")
        if m.version in seen:
            raise ValueError(
                f"duplicate migration version {m.version!r}: "
                f"{seen[m.version].name!r} and {m.name!r}"
            )
        seen[m.version] = m
    return [seen[v] for v in sorted(seen)]


def _migrations_table() -> sa.Table:
    return shared_system_metadata().tables[MIGRATIONS_TABLE]


def applied_versions(conn: Connection) -> set[str]:
    """Versions recorded in ``directus_migrations`` (empty when the table is missing)."""
    if not sa.inspect(conn).has_table(MIGRATIONS_TABLE):
        return set()
    table = _migrations_table()
    return {row[0] for row in conn.execute(sa.select(table.c.version))}


def pending_migrations(conn: Connection, migrations: Iterable[Migration]) -> list[Migration]:
    """The migrations not yet recorded in this database, in the order they would run."""
    ordered = sort_migrations(migrations)
    done = applied_versions(conn)
    return [m for m in ordered if m.version not in done]


@contextlib.contextmanager
def _unit(conn: Connection, own_transactions: bool) -> Iterator[None]:
    """One migration's transaction.

    With a connection the caller left idle, each unit is a transaction committed at its end.
    Inside a caller's transaction, a unit is a SAVEPOINT on PostgreSQL (so a failed migration
    is undone there) and nothing on the other databases, whose DDL commits implicitly anyway;
    the caller commits or rolls back.
    """
    if own_transactions:
        with conn.begin():
            yield
    elif conn.dialect.name == "postgresql":
        with conn.begin_nested():
            yield
    else:
        yield


def run_migrations(
    bind: Engine | Connection,
    migrations: Iterable[Migration],
    dialect: Dialect | None = None,
) -> list[str]:
    """Apply the pending ``migrations`` in version order; return the versions applied.

    Creates ``directus_migrations`` if needed. Each migration is recorded right after it
    runs, in its own transaction, so an interrupted run resumes where it stopped. Running it
    again applies nothing. A duplicate version raises ``ValueError`` before anything runs.
    """
    ordered = sort_migrations(migrations)
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return _apply(conn, ordered, dialect)
    return _apply(bind, ordered, dialect)


def _apply(conn: Connection, ordered: list[Migration], dialect: Dialect | None) -> list[str]:
    own = not conn.in_transaction()
    table = _migrations_table()
    with _unit(conn, own):
        table.create(conn, checkfirst=True)
        done = {row[0] for row in conn.execute(sa.select(table.c.version))}
    applied: list[str] = []
    for migration in ordered:
        if migration.version in done:
            continue
        with _unit(conn, own):
            migration.up(conn, dialect)
            conn.execute(
                table.insert().values(
                    version=migration.version,
                    name=migration.name,
                    timestamp=datetime.now(UTC),
                )
            )
        applied.append(migration.version)
    return applied
