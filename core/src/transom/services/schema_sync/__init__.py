"""Schema as code: Directus's ``/schema/snapshot``, ``/schema/diff`` and ``/schema/apply``.

A *snapshot* is the user schema (collections, fields, relations) in Directus's API shape,
sorted and without volatile ids, so it can live in version control. A *diff* compares a
snapshot with the current database and lists deep-diff operations per collection, field and
relation; it carries the hash of the schema it was computed against, and *apply* refuses it
once that schema has changed, so a stale diff can never be replayed. Apply reuses the schema
services for every change (so DDL, metadata rows and SQLite rebuilds behave exactly as the
``/collections``, ``/fields`` and ``/relations`` routes do) and returns the plan it followed;
a dry run returns the same plan without touching anything.

Comparison is dialect-neutral: a snapshot taken on SQLite applies cleanly to PostgreSQL or
MariaDB and then diffs as equal there. Both sides are reduced to the portable subset of a
field's ``schema`` (type, nullability, uniqueness, key and auto-increment, string length,
decimal precision, simple literal defaults) before comparing; what only one database knows
(``data_type``, ``nextval(...)`` defaults, integer precision, constraint names, indexes that
MySQL adds for foreign keys, foreign keys SQLite cannot add) is left out.

The package: :mod:`.snapshot` (taking and hashing snapshots), :mod:`.portable` (the
dialect-neutral subset diffs compare), :mod:`.diff` (deep-diff operations and the diff) and
:mod:`.apply` (replaying a diff through the schema services, and its plan).
"""


from __future__ import annotations

from .apply import (
    apply,
    plan,
)
from .diff import (
    apply_ops,
    deep_diff,
    diff,
    validate_snapshot,
)
from .portable import (
    portable_default,
)
from .snapshot import (
    DIRECTUS_VERSION,
    INTERNAL_PREFIXES,
    SNAPSHOT_VERSION,
    STALE_MESSAGE,
    Portability,
    current_hash,
    is_internal,
    schema_hash,
    snapshot,
)

__all__ = [
    "DIRECTUS_VERSION",
    "INTERNAL_PREFIXES",
    "Portability",
    "SNAPSHOT_VERSION",
    "STALE_MESSAGE",
    "apply",
    "apply_ops",
    "current_hash",
    "deep_diff",
    "diff",
    "is_internal",
    "plan",
    "portable_default",
    "schema_hash",
    "snapshot",
    "validate_snapshot",
]
