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

:func:`system_metadata` builds a new ``MetaData`` on each call, so apps never share one.

The definitions live in :mod:`.table_columns` (naming, lists, column helpers),
:mod:`.tables_a_to_r` and :mod:`.tables_r_to_z`; this module assembles them.
"""

from __future__ import annotations

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
    "system_metadata",
    "system_table",
]


def system_metadata() -> sa.MetaData:
    """A new ``MetaData`` holding every system table (see :data:`SYSTEM_TABLES`)."""
    md = sa.MetaData(naming_convention=NAMING_CONVENTION)
    add_tables_a_to_r(md)
    add_tables_r_to_z(md)
    return md


def system_table(name: str, metadata: sa.MetaData | None = None) -> sa.Table:
    """One system table, from ``metadata`` or from a new :func:`system_metadata`."""
    return (metadata or system_metadata()).tables[name]
