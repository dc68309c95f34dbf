"""The Directus 11 system tables as one portable SQLAlchemy ``MetaData``.

Names, columns, nullability, defaults, keys and foreign keys follow what Directus 11 itself
creates, so a database made by Transom can be opened by Directus and the other way round.
Constraint names follow knex's convention (``<table>_<column>_foreign``, ``..._unique``,
``..._index``) through the MetaData naming convention, which keeps them identical on every
database. Types are chosen per database only where Directus's own choice differs:

* uuid: native ``uuid`` on PostgreSQL, ``char(36)`` (the dashed text form) everywhere else.
  ``sa.Uuid`` is not used because it stores 32 hex digits without dashes on databases without
  a native type, which no longer matches rows written by Directus.
* timestamps: ``timestamp with time zone`` on PostgreSQL, ``datetime`` elsewhere (values are
  UTC; the dialect's connection set-up must keep MySQL's session time zone at UTC).
* json: ``json``, with Python ``None`` stored as SQL NULL as Directus does.

:func:`system_metadata` builds a new ``MetaData`` on each call, for callers that may change
it. :func:`shared_system_metadata` is one ``MetaData`` per process for the code that only reads
or writes rows and creates or drops the tables (migrations, bootstrap): building the tables
costs about 30 ms of CPU, and statements over the same ``Table`` objects share SQLAlchemy's
compiled-statement cache, which fresh copies defeat (app creation plus bootstrap on a new
SQLite file: about 0.37 s of CPU with fresh tables, 0.13 s with shared ones, measured).

The definitions live in :mod:`.table_columns` (naming, lists, column helpers),
:mod:`.tables_a_to_r` and :mod:`.tables_r_to_z`; this module assembles them.
"""

from __future__ import annotations

import threading

import sqlalchemy as sa

from ..schema.types import UuidString
from .table_columns import (
    CORE_SYSTEM_TABLES,
    EXTRA_SYSTEM_TABLES,
    NAMING_CONVENTION,
    SYSTEM_TABLES,
)
from .tables_a_to_r import add_tables_a_to_r
from .tables_r_to_z import add_tables_r_to_z

__all__ = [
    "CORE_SYSTEM_TABLES",
    "EXTRA_SYSTEM_TABLES",
    "NAMING_CONVENTION",
    "SYSTEM_TABLES",
    "UuidString",
    "shared_system_metadata",
    "system_metadata",
    "system_table",
]


def system_metadata() -> sa.MetaData:
    """A new ``MetaData`` holding every system table (see :data:`SYSTEM_TABLES`)."""
    md = sa.MetaData(naming_convention=NAMING_CONVENTION)
    add_tables_a_to_r(md)
    add_tables_r_to_z(md)
    return md


_shared: sa.MetaData | None = None
_shared_lock = threading.Lock()


def shared_system_metadata() -> sa.MetaData:
    """The process's one read-only ``MetaData`` of the system tables (see the module doc).

    Never add, change or remove anything on it or its tables: every app of the process uses
    it. The tables are the same on every database (their types choose per dialect when a
    statement is compiled), so one copy serves all dialects. Code that needs to change
    tables takes its own :func:`system_metadata`."""
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = system_metadata()
    return _shared


def system_table(name: str, metadata: sa.MetaData | None = None) -> sa.Table:
    """One system table, from ``metadata`` or from a new :func:`system_metadata`."""
    return (metadata or system_metadata()).tables[name]
