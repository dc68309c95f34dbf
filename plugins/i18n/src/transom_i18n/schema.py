"""``translatable: true`` on a field: the storage Directus's translations interface builds.

Marking ``<c>.<f>`` translatable makes sure of, through the schema and items services (so
only admins can, as for any schema change):

* a ``languages`` collection (``code`` primary key, ``name``, ``direction``) holding at least
  the default language;
* a ``<c>_translations`` junction (``id``, ``<c>_id``, ``languages_code``) with a nullable
  copy of ``f``, its two relations, and the ``translations`` alias on ``<c>`` (special
  ``translations``), so Directus-style front ends keep reading ``translations.*``;
* the flag itself, stored as ``meta.options.translatable`` and reported on ``GET /fields``
  as the top-level ``translatable`` key as well;
* a default-language junction row per item holding the field's current value.
"""

from __future__ import annotations

from typing import Any

from transom.api import (
    CollectionsService,
    FieldsService,
    InvalidPayloadError,
    ItemsService,
    RelationsService,
    SchemaSnapshot,
)

FLAG = "translatable"
LANGUAGES = "languages"
LANG_FIELD = "languages_code"
ALIAS = "translations"


def flag_of(field_obj: Any) -> bool | None:
    """The ``translatable`` flag wherever a user put it (top level, ``meta``,
    ``meta.options``, ``schema``); None when absent. A non-boolean is a 400."""
    if not isinstance(field_obj, dict):
        return None
    meta = field_obj.get("meta") if isinstance(field_obj.get("meta"), dict) else {}
    options = meta.get("options") if isinstance(meta.get("options"), dict) else {}
    schema = field_obj.get("schema") if isinstance(field_obj.get("schema"), dict) else {}
    found: bool | None = None
    for where in (options, schema, meta, field_obj):
        if FLAG in where:
            value = where[FLAG]
            if not isinstance(value, bool):
                raise InvalidPayloadError(f'"{FLAG}" of field "{field_obj.get("field")}" '
                                          "must be true or false")
            found = value
    return found


def without_flag(field_obj: dict[str, Any]) -> dict[str, Any]:
    """``field_obj`` minus the flag, for the core field services."""
    out = {k: v for k, v in field_obj.items() if k != FLAG}
    for key in ("meta", "schema"):
        if isinstance(out.get(key), dict) and FLAG in out[key]:
            out[key] = {k: v for k, v in out[key].items() if k != FLAG}
    return out


def is_translatable(field: Any) -> bool:
    options = (field.meta or {}).get("options")
    return isinstance(options, dict) and options.get(FLAG) is True


#: ``id(snapshot) -> (snapshot, {collection: translatable fields})`` for the last few
#: snapshots: the hooks ask on every item request, and a snapshot never changes. The snapshot
#: is held so that its id cannot be reused while it is in here.
_MEMO: dict[int, tuple[SchemaSnapshot, dict[str, tuple[str, ...]]]] = {}
_MEMO_SNAPSHOTS = 8


def translatable_fields(schema: SchemaSnapshot, collection: str) -> list[str]:
    """The fields of ``collection`` flagged translatable (none for most collections)."""
    entry = _MEMO.get(id(schema))
    if entry is None or entry[0] is not schema:
        if len(_MEMO) >= _MEMO_SNAPSHOTS:
            _MEMO.clear()
        entry = _MEMO[id(schema)] = (schema, {})
    found = entry[1].get(collection)
    if found is None:
        coll = schema.get(collection)
        found = () if coll is None else tuple(
            name for name, f in coll.fields.items() if not f.is_alias and is_translatable(f))
        entry[1][collection] = found
    return list(found)


def junction_name(collection: str) -> str:
    return f"{collection}_translations"


def parent_fk(collection: str) -> str:
    return f"{collection}_id"


def _column_spec(field: Any) -> dict[str, Any]:
    """A nullable column like ``field`` (other languages may lack a value)."""
    schema: dict[str, Any] = {"is_nullable": True}
    if field.max_length:
        schema["max_length"] = field.max_length
    return {"field": field.field, "type": field.type, "schema": schema,
            "meta": {"interface": (field.meta or {}).get("interface")}}


def ensure_languages(cms: Any, acc: Any, default: str) -> None:
    """The ``languages`` collection, created when missing, and the default language in it."""
    if cms.schema.get(LANGUAGES) is None:
        CollectionsService(cms, acc).create_one({
            "collection": LANGUAGES,
            "meta": {"icon": "translate"},
            "schema": {},
            "fields": [
                {"field": "code", "type": "string",
                 "schema": {"is_primary_key": True, "max_length": 16}},
                {"field": "name", "type": "string"},
                {"field": "direction", "type": "string", "schema": {"default_value": "ltr"}},
            ],
        })
    items = ItemsService(cms, LANGUAGES, acc)
    if not items.read_by_query({"filter": {"code": {"_eq": default}}, "limit": 1,
                                "fields": ["code"]}):
        row: dict[str, Any] = {"code": default}
        fields = cms.schema.get(LANGUAGES).fields
        if "name" in fields:
            row["name"] = default
        items.create_one(row)


def ensure_junction(cms: Any, acc: Any, collection: str) -> str:
    """``<c>_translations`` with its relations and the ``translations`` alias."""
    junction = junction_name(collection)
    coll = cms.schema.get(collection)
    fk = parent_fk(collection)
    if cms.schema.get(junction) is None:
        pk_type = coll.pk_field.type
        fk_schema: dict[str, Any] = {"is_nullable": True}
        if coll.pk_field.max_length:
            fk_schema["max_length"] = coll.pk_field.max_length
        CollectionsService(cms, acc).create_one({
            "collection": junction,
            "meta": {"hidden": True, "icon": "import_export"},
            "schema": {},
            "fields": [
                {"field": "id", "type": "integer",
                 "schema": {"is_primary_key": True, "has_auto_increment": True},
                 "meta": {"hidden": True}},
                {"field": fk, "type": pk_type, "schema": fk_schema, "meta": {"hidden": True}},
                {"field": LANG_FIELD, "type": "string",
                 "schema": {"is_nullable": True, "max_length": 16},
                 "meta": {"hidden": True}},
            ],
        })
    if ALIAS not in cms.schema.get(collection).fields:
        FieldsService(cms, acc).create_field(collection, {
            "field": ALIAS, "type": "alias",
            "meta": {"special": ["translations"], "interface": "translations"}})
    rel_svc = RelationsService(cms, acc)
    if cms.schema.relation(junction, fk) is None:
        rel_svc.create_one({
            "collection": junction, "field": fk, "related_collection": collection,
            "meta": {"one_field": ALIAS, "junction_field": LANG_FIELD,
                     "one_deselect_action": "nullify"},
            "schema": {"on_delete": "CASCADE"}})
    if cms.schema.relation(junction, LANG_FIELD) is None:
        rel_svc.create_one({
            "collection": junction, "field": LANG_FIELD, "related_collection": LANGUAGES,
            "meta": {"one_field": None, "junction_field": fk},
            "schema": {"on_delete": "SET NULL"}})
    return junction


def mark(cms: Any, acc: Any, collection: str, flags: dict[str, bool], default: str) -> None:
    """Apply ``{field: translatable?}`` to ``collection`` (see the module docstring)."""
    coll = cms.schema.get(collection)
    if coll is None:
        return
    for name in flags:
        f = coll.fields.get(name)
        if f is None:
            raise InvalidPayloadError(f'Field "{name}" does not exist in "{collection}"')
        if f.is_alias or f.is_primary_key:
            raise InvalidPayloadError(f'Field "{name}" cannot be translatable: only columns '
                                      "other than the primary key can")
    turned_on = [n for n, on in flags.items() if on and not is_translatable(coll.fields[n])]
    if turned_on:
        ensure_languages(cms, acc, default)
        junction = ensure_junction(cms, acc, collection)
        fields_svc = FieldsService(cms, acc)
        for name in turned_on:
            if name not in cms.schema.get(junction).fields:
                fields_svc.create_field(junction, _column_spec(coll.fields[name]))
    fields_svc = FieldsService(cms, acc)
    for name, on in flags.items():
        f = cms.schema.get(collection).fields[name]
        if is_translatable(f) == on:
            continue
        options = dict((f.meta or {}).get("options") or {})
        if on:
            options[FLAG] = True
        else:
            options.pop(FLAG, None)
        fields_svc.update_field(collection, {"field": name, "meta": {"options": options or None}})
    if turned_on:
        copy_to_default(cms, acc, collection, turned_on, default)


def copy_to_default(cms: Any, acc: Any, collection: str, fields: list[str],
                    default: str) -> None:
    """The items' current values of ``fields`` into their default-language rows."""
    coll = cms.schema.get(collection)
    pk = coll.primary_key
    junction = junction_name(collection)
    fk = parent_fk(collection)
    parents = ItemsService(cms, collection, acc).read_by_query(
        {"fields": [pk, *fields], "limit": -1})
    if not parents:
        return
    rows = ItemsService(cms, junction, acc)
    existing = {str(r[fk]): r["id"] for r in rows.read_by_query(
        {"filter": {LANG_FIELD: {"_eq": default}}, "fields": ["id", fk], "limit": -1})}
    creates = []
    for item in parents:
        values = {f: item.get(f) for f in fields}
        key = existing.get(str(item[pk]))
        if key is None:
            creates.append({fk: item[pk], LANG_FIELD: default, **values})
        else:
            rows.update_one(key, values)
    if creates:
        rows.create_many(creates)
