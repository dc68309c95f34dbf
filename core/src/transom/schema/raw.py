"""What a dialect's introspection returns: plain, vendor-neutral facts about the database.

Dialects fill these in from their catalogues in a bounded number of queries (never one per
table); :mod:`transom.schema.build` merges them with Directus's metadata rows into the
immutable :class:`transom.schema.model.SchemaSnapshot`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RawColumn:
    """One column as the catalogue describes it.

    ``type`` is the Directus type the dialect maps ``data_type`` to (``string``, ``integer``,
    ``dateTime``, ``json``, ... or ``unknown``).
    """

    name: str
    data_type: str
    type: str
    nullable: bool = True
    default: Any = None
    max_length: int | None = None
    numeric_precision: int | None = None
    numeric_scale: int | None = None
    is_primary_key: bool = False
    has_auto_increment: bool = False
    is_unique: bool = False
    is_indexed: bool = False
    is_generated: bool = False
    generation_expression: str | None = None
    comment: str | None = None


@dataclass
class RawForeignKey:
    """A single-column foreign key (multi-column keys are not relations in Directus)."""

    table: str
    column: str
    foreign_table: str
    foreign_column: str
    constraint_name: str | None = None
    on_update: str | None = "NO ACTION"
    on_delete: str | None = "NO ACTION"
    foreign_schema: str | None = None


@dataclass
class RawTable:
    name: str
    is_view: bool = False
    comment: str | None = None
    schema: str | None = None
    #: the CREATE statement, where the catalogue keeps it (SQLite; Directus shows it)
    sql: str | None = None
    columns: list[RawColumn] = field(default_factory=list)
    foreign_keys: list[RawForeignKey] = field(default_factory=list)

    def column(self, name: str) -> RawColumn | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None


@dataclass
class RawSchema:
    """The database as introspected, plus Directus's metadata rows (filled by the kernel)."""

    tables: dict[str, RawTable] = field(default_factory=dict)
    collections_meta: list[dict[str, Any]] = field(default_factory=list)
    fields_meta: list[dict[str, Any]] = field(default_factory=list)
    relations_meta: list[dict[str, Any]] = field(default_factory=list)
    vendor: str = ""
    schema_name: str | None = None
