"""Payload parsing and naming: what a schema request may say, normalised.

Every identifier is checked against :data:`NAME_RE` before it gets near a statement.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from ...errors import InvalidPayloadError
from ...schema.build import parse_special
from ...schema.types import ALIAS_TYPES, DATE_TYPES, TYPES, plugin_field_type

#: Collection and field names: what every database accepts unquoted, and Directus's app too.
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_NAME_LENGTH = 64
#: Longest constraint/index name we generate (PostgreSQL cuts at 63, MySQL refuses > 64).
_MAX_CONSTRAINT = 60

ON_ACTIONS = ("NO ACTION", "SET NULL", "SET DEFAULT", "CASCADE", "RESTRICT")
DESELECT_ACTIONS = ("nullify", "delete")

#: ``special`` flags that make a field an alias (no column).
ALIAS_SPECIALS = frozenset(
    {"alias", "no-data", "o2m", "m2m", "m2a", "files", "translations", "group", "presentation"}
)
#: Specials the Directus app sets for a type; added when missing so every database reads
#: the field back as the same type (MariaDB's JSON is LONGTEXT, MySQL's boolean TINYINT...).
_TYPE_SPECIALS = {
    "json": "cast-json",
    "boolean": "cast-boolean",
    "csv": "cast-csv",
    "hash": "hash",
    "timestamp": "cast-timestamp",
}

FIELD_META_KEYS = (
    "special", "interface", "options", "display", "display_options", "readonly", "hidden",
    "sort", "width", "translations", "note", "conditions", "required", "group", "validation",
    "validation_message", "searchable",
)
COLLECTION_META_KEYS = (
    "icon", "note", "display_template", "hidden", "singleton", "translations",
    "archive_field", "archive_app_filter", "archive_value", "unarchive_value", "sort_field",
    "accountability", "color", "item_duplication_fields", "sort", "group", "collapse",
    "preview_url", "versioning",
)
RELATION_META_KEYS = (
    "one_field", "one_collection_field", "one_allowed_collections", "junction_field",
    "sort_field", "one_deselect_action",
)

#: The simple form's column options, mapped to Directus's ``schema`` keys.
_SIMPLE_SCHEMA_KEYS = {
    "primary_key": "is_primary_key",
    "is_primary_key": "is_primary_key",
    "auto_increment": "has_auto_increment",
    "has_auto_increment": "has_auto_increment",
    "max_length": "max_length",
    "length": "max_length",
    "nullable": "is_nullable",
    "is_nullable": "is_nullable",
    "default": "default_value",
    "default_value": "default_value",
    "unique": "is_unique",
    "is_unique": "is_unique",
    "indexed": "is_indexed",
    "is_indexed": "is_indexed",
    "precision": "numeric_precision",
    "numeric_precision": "numeric_precision",
    "scale": "numeric_scale",
    "numeric_scale": "numeric_scale",
    "comment": "comment",
}
#: Column changes that need ALTER COLUMN (or, on SQLite, a table rebuild).
_COLUMN_CHANGES = frozenset({"type", "size", "nullable", "default"})
_BOOL_SCHEMA = ("is_primary_key", "has_auto_increment", "is_nullable", "is_unique",
                "is_indexed")
_INT_SCHEMA = ("max_length", "numeric_precision", "numeric_scale")


# -- validation helpers --------------------------------------------------------------------
def check_name(name: Any, what: str) -> str:
    """A collection or field name safe to use as an identifier, or 400."""
    if not isinstance(name, str) or not name:
        raise InvalidPayloadError(f'"{what}" is required and must be a string')
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidPayloadError(
            f'{what.capitalize()} name "{name}" is longer than {MAX_NAME_LENGTH} characters')
    if not NAME_RE.match(name):
        raise InvalidPayloadError(
            f'{what.capitalize()} name "{name}" may only contain letters, digits and '
            "underscores, and must not start with a digit")
    if name == "_" or name.startswith("__"):
        # GraphQL reserves names starting "__", and the generated ones (``<name>_filter``,
        # ``<name>_func``) would start so: the name would break every /graphql schema.
        raise InvalidPayloadError(
            f'{what.capitalize()} name "{name}" is reserved: it must not be "_" or start '
            'with "__"')
    return name


def constraint_name(table: str, column: str, suffix: str) -> str:
    """knex's ``<table>_<column>_<suffix>``, shortened with a hash when too long."""
    name = f"{table}_{column}_{suffix}"
    if len(name) <= _MAX_CONSTRAINT:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[:_MAX_CONSTRAINT - len(suffix) - 10]}_{digest}_{suffix}"


def _special_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | list | tuple):
        return list(parse_special(value))
    raise InvalidPayloadError('"special" must be an array of strings')


def _bool(value: Any, key: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    raise InvalidPayloadError(f'"{key}" must be a boolean')


def _int(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidPayloadError(f'"{key}" must be a positive integer')
    return value



@dataclass
class FieldSpec:
    """One field of a request, normalised from either payload form.

    ``column`` holds only the ``schema`` keys the caller gave (so updates can tell a change
    from an omission); ``meta`` is None when no metadata was given at all.
    """

    field: str
    type: str | None
    alias: bool
    column: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] | None = None
    schema_given: bool = False

    @property
    def primary_key(self) -> bool:
        return bool(self.column.get("is_primary_key"))


def parse_field(payload: Any, *, for_update: bool = False) -> FieldSpec:
    """A field object (Directus's ``{field, type, schema, meta}`` or the flat form)."""
    if not isinstance(payload, dict):
        raise InvalidPayloadError("A field must be an object")
    name = check_name(payload.get("field"), "field")
    type_ = payload.get("type")
    if type_ is not None and (not isinstance(type_, str)
                              or (type_ not in TYPES and type_ not in ALIAS_TYPES
                                  and plugin_field_type(type_) is None)):
        raise InvalidPayloadError(
            f'Field "{name}" has an unknown type "{type_}"; use one of '
            f"{', '.join(TYPES + ALIAS_TYPES)}")
    schema_in = payload.get("schema")
    if schema_in is not None and not isinstance(schema_in, dict):
        raise InvalidPayloadError(f'"schema" of field "{name}" must be an object or null')
    meta_in = payload.get("meta")
    if meta_in is not None and not isinstance(meta_in, dict):
        raise InvalidPayloadError(f'"meta" of field "{name}" must be an object or null')

    column: dict[str, Any] = {}
    for key, target in _SIMPLE_SCHEMA_KEYS.items():
        if schema_in and key in schema_in and key == target:
            column[target] = schema_in[key]
    for key, target in _SIMPLE_SCHEMA_KEYS.items():
        if key in payload and key not in ("schema", "meta"):
            column[target] = payload[key]
    for key in _BOOL_SCHEMA:
        if key in column:
            column[key] = _bool(column[key], key)
    for key in _INT_SCHEMA:
        if key in column:
            column[key] = _int(column[key], key)
    if column.get("comment") is not None and not isinstance(column["comment"], str):
        raise InvalidPayloadError('"comment" must be a string')

    meta: dict[str, Any] | None = None
    if meta_in is not None:
        meta = {k: v for k, v in meta_in.items() if k in FIELD_META_KEYS}
    flat_meta = {k: payload[k] for k in FIELD_META_KEYS if k in payload}
    if flat_meta:
        meta = {**(meta or {}), **flat_meta}
    if "required" in payload:
        required = _bool(payload["required"], "required")
        if required and "is_nullable" not in column:
            column["is_nullable"] = False
    if meta is not None and "special" in meta:
        meta["special"] = _special_list(meta["special"])

    special = set(meta.get("special") or ()) if meta else set()
    if type_ in ALIAS_TYPES:
        alias = True
    elif type_ is None:
        alias = bool(special & ALIAS_SPECIALS) or ("schema" in payload and schema_in is None)
        if not alias and not for_update:
            raise InvalidPayloadError(f'Field "{name}" needs a "type"')
    else:
        alias = bool(special & ALIAS_SPECIALS)
    return FieldSpec(name, type_, alias, column, meta,
                     schema_given=schema_in is not None or bool(column))



def server_default(value: Any, type_: str, field_name: str) -> Any:
    """A column's ``DEFAULT`` as SQLAlchemy renders it (literals quoted by the dialect)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return sa.true() if value else sa.false()
    if isinstance(value, int | float):
        return sa.text(repr(value) if isinstance(value, float) else str(int(value)))
    if isinstance(value, str):
        upper = value.strip().upper()
        if type_ in DATE_TYPES and upper in ("NOW()", "CURRENT_TIMESTAMP",
                                             "CURRENT_TIMESTAMP()", "CURRENT_DATE",
                                             "CURRENT_TIME"):
            keyword = "CURRENT_TIMESTAMP" if upper.startswith(("NOW", "CURRENT_TIMESTAMP")) \
                else upper
            return sa.text(keyword)
        return value
    if isinstance(value, dict | list) and type_ in ("json", "csv"):
        return json.dumps(value) if type_ == "json" else ",".join(map(str, value))
    raise InvalidPayloadError(f'Field "{field_name}" has a default value of the wrong type')
