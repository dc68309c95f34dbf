"""Mutations: permission checks, presets, validation, filter hooks, nested relational writes,
conversion, SQL, activity and revisions, all inside the caller's transaction.

One :class:`Mutation` is one top-level write (one HTTP request, one GraphQL mutation, one
service call). It counts the items it touches against ``MAX_BATCH_MUTATION``, queues
after-commit events, and translates database errors into Directus's codes.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from ..auth.passwords import hash_password
from ..errors import (
    ContainsNullValuesError,
    ErrorGroup,
    FailedValidationError,
    ForbiddenError,
    InvalidForeignKeyError,
    InvalidPayloadError,
    NotNullViolationError,
    RecordNotUniqueError,
    TransomError,
    ValueOutOfRangeError,
    ValueTooLongError,
)
from ..events import EventContext, PendingEvents
from ..query.filters import resolve_dynamic
from ..schema.model import Collection, Field
from .context import CompileHost, DynamicLoader, dynamic_values
from .validation import validate_payload
from .values import CONCEALED, ValueError_, check_text, to_db

if TYPE_CHECKING:
    from ..accountability import Accountability
    from ..permissions.rules import Permissions
    from ..schema.model import SchemaSnapshot

_ERRORS = {
    "unique": RecordNotUniqueError,
    "not_null": NotNullViolationError,
    "foreign_key": InvalidForeignKeyError,
    "too_long": ValueTooLongError,
    "out_of_range": ValueOutOfRangeError,
    "contains_null": ContainsNullValuesError,
}


class Mutation:
    """State of one top-level write: connection, caller, counters, queued events."""

    def __init__(self, cms: CompileHost, conn: sa.Connection, schema: SchemaSnapshot,
                 accountability: Accountability | None, permissions: Permissions,
                 pending: PendingEvents, emit: bool = True,
                 load_dynamic: DynamicLoader | None = None) -> None:
        self.cms = cms
        self.load_dynamic = load_dynamic
        self.conn = conn
        self.schema = schema
        self.accountability = accountability
        self.permissions = permissions
        self.pending = pending
        self.emit = emit
        self.count = 0
        self.limit = int(cms.config.get("MAX_BATCH_MUTATION", -1))
        self.activity: list[int] = []

    # -- bookkeeping --------------------------------------------------------------------
    def tick(self, n: int = 1) -> None:
        self.count += n
        if self.limit >= 0 and self.count > self.limit:
            raise InvalidPayloadError(f"Exceeded max batch mutation limit of {self.limit}")

    def context(self) -> EventContext:
        return EventContext(self.accountability, self.conn, self.schema, self.cms)

    def collection(self, name: str) -> Collection:
        coll = self.schema.get(name)
        if coll is None or coll.table is None:
            raise ForbiddenError.collection(name)
        return coll

    def resolve(self, obj: Any) -> Any:
        """``obj`` (presets, a validation rule) with its dynamic variables replaced,
        ``$CURRENT_USER.<path>`` / ``$CURRENT_ROLE.<path>`` included."""
        return resolve_dynamic(obj, dynamic_values(self.accountability, self.load_dynamic,
                                                   obj))

    # -- errors -------------------------------------------------------------------------
    def translate(self, exc: DBAPIError, coll: Collection, values: dict[str, Any]) -> Exception:
        info = self.cms.dialect.classify_error(exc)
        if info is None:
            return _unclassified(exc)
        cls = _ERRORS.get(info.kind)
        field = info.column
        if field is None and info.constraint:
            field = next((f for f in coll.fields if f in info.constraint), None)
        if field is None and info.kind == "not_null":
            field = next((f for f, v in values.items() if v is None), None)
        if field is None and info.kind == "foreign_key":
            field = self._missing_reference(coll, values)
        if info.kind == "invalid_value":
            return FailedValidationError(field or "", "type",
                                         info.message or f'Invalid value for field "{field}".')
        if cls is None:
            return _unclassified(exc)
        value = info.value
        if value is None and field is not None:
            value = values.get(field)
        if isinstance(value, dt.datetime | dt.date | bytes):
            value = str(value)
        table = info.table
        collection = coll.collection if table in (None, coll.collection) else table
        return cls(collection, field, value)

    def _missing_reference(self, coll: Collection, values: dict[str, Any]) -> str | None:
        """Which m2o value points nowhere (for drivers whose FK errors name no column)."""
        for name, value in values.items():
            rel = self.schema.relation(coll.collection, name)
            if value is None or rel is None or rel.kind != "m2o":
                continue
            related = self.schema.get(rel.related or "")
            if related is not None and related.table is not None and not self.exists(
                    related, value):
                return name
        return None

    def execute(self, coll: Collection, stmt: Any, values: dict[str, Any]) -> Any:
        try:
            return self.conn.execute(stmt)
        except DBAPIError as exc:
            err = self.translate(exc, coll, values)
            if err is exc:
                raise
            raise err from None

    # -- payload preparation ------------------------------------------------------------
    def prepare(self, coll: Collection, payload: dict[str, Any], action: str,
                existing_pk: Any = None) -> tuple[dict[str, Any], dict[str, Any],
                                                  dict[str, Any]]:
        """Split a payload into column values, m2o nested objects and o2m-style aliases.

        Also applies presets, special flags (uuid, hash, date/user created/updated),
        permission field checks and validation; raises FAILED_VALIDATION per field.
        """
        if not isinstance(payload, dict):
            raise InvalidPayloadError("Each item must be an object")
        access = self.permissions.access(coll.collection, action)
        if not access.allowed:
            raise ForbiddenError.collection(coll.collection)
        data = dict(payload)
        if action == "create":
            presets = self.resolve(access.presets())
            for key, value in presets.items():
                data.setdefault(key, value)
        names = self.cms.event_names(coll.collection, action)
        if self.emit and self.cms.events.has_filters(names):
            meta = {"collection": coll.collection}
            if existing_pk is not None:
                meta["keys"] = [existing_pk]
            data = self.cms.events.filter(names, data, meta, self.context())
            if not isinstance(data, dict):
                raise InvalidPayloadError("A filter hook returned something that is not an "
                                          "object")
        errors: list[TransomError] = []
        columns: dict[str, Any] = {}
        m2o: dict[str, Any] = {}
        aliases: dict[str, Any] = {}
        for key, value in data.items():
            f = coll.fields.get(key)
            if f is None:
                continue  # Directus ignores unknown fields
            if not access.field_allowed(key):
                raise ForbiddenError.field(key, coll.collection)
            rel = self.schema.relation(coll.collection, key)
            if f.is_alias:
                if rel is not None and rel.kind in ("o2m", "m2m", "m2a"):
                    aliases[key] = value
                continue
            if f.is_generated:
                continue
            if f.concealed and value == CONCEALED:
                continue  # the masked value sent back unchanged
            if rel is not None and rel.kind == "m2o" and isinstance(value, dict):
                m2o[key] = value
                continue
            if rel is not None and rel.kind == "a2o" and isinstance(value, dict):
                m2o[key] = value
                continue
            if (f.max_length and isinstance(value, str) and f.type in ("string", "csv")
                    and len(value) > f.max_length):
                # Checked here too, so SQLite (which ignores lengths) answers like the others.
                errors.append(ValueTooLongError(coll.collection, key, None))
                continue
            try:
                columns[key] = self.convert(f, value)
            except ValueError_ as exc:
                errors.append(FailedValidationError(
                    key, "type", f'Validation failed for field "{key}". {exc.reason}.'))
        errors.extend(self.dangling_references(coll, columns))
        self.apply_special(coll, columns, action)
        if action == "create":
            errors.extend(self.required_errors(coll, columns, m2o))
        errors.extend(self.validate(coll, access.validations(), data))
        if errors:
            raise ErrorGroup(errors) if len(errors) > 1 else errors[0]
        return columns, m2o, aliases

    def dangling_references(self, coll: Collection, columns: dict[str, Any]
                            ) -> list[TransomError]:
        """m2o keys that point nowhere, for relations the database does not enforce (SQLite
        can't add a foreign key to an existing table): answered like a constraint would."""
        errors: list[TransomError] = []
        for rel_row in self.schema.relations:
            if rel_row.collection != coll.collection or rel_row.schema is not None:
                continue
            name = rel_row.field
            value = columns.get(name)
            related = self.schema.get(rel_row.related_collection or "")
            if value is None or related is None or related.table is None:
                continue
            if not self.exists(related, value):
                errors.append(InvalidForeignKeyError(coll.collection, name, value))
        return errors

    def convert(self, f: Field, value: Any) -> Any:
        if value is None:
            return None
        if "hash" in f.special or f.type == "hash":
            return hash_password(str(value), self.cms.config) if value != "" else None
        if f.type == "json" and "cast-json" not in f.special and isinstance(value, str):
            check_text(value)
            try:
                json.loads(value)
                return value
            except (ValueError, RecursionError):
                return json.dumps(value)
        if f.type == "decimal":
            numeric = f.schema or {}
            number = to_db(f.type, value, precision=numeric.get("numeric_precision"),
                           scale=numeric.get("numeric_scale"))
            # None where the column is exact (SQLite's DECIMAL_TEXT); 15 for NUMERIC ones
            digits = self.cms.dialect.decimal_digits(numeric.get("data_type"))
            if digits is not None and len(number.normalize().as_tuple().digits) > digits:
                raise ValueError_(f"This database keeps at most {digits} significant digits "
                                  "of a decimal")
            return number
        return to_db(f.type, value)

    def apply_special(self, coll: Collection, columns: dict[str, Any], action: str) -> None:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        acc = self.accountability
        for name, f in coll.fields.items():
            sp = f.special
            if not sp:
                continue
            if action == "create":
                if "uuid" in sp and f.is_primary_key and not columns.get(name):
                    columns[name] = str(uuid.uuid4())
                if "date-created" in sp:
                    columns[name] = to_db(f.type, now) if f.type != "date" else now.date()
                if "user-created" in sp and acc is not None and acc.user:
                    columns[name] = acc.user
                if "role-created" in sp and acc is not None and acc.role:
                    columns[name] = acc.role
            if "date-updated" in sp and action == "update":  # Directus: null until an update
                columns[name] = to_db(f.type, now) if f.type != "date" else now.date()
            if "user-updated" in sp and action == "update" and acc is not None and acc.user:
                columns[name] = acc.user
            if "role-updated" in sp and action == "update" and acc is not None and acc.role:
                columns[name] = acc.role
        pk = coll.primary_key
        if action == "create" and pk and pk not in columns:
            f = coll.fields[pk]
            if f.type == "uuid" and not f.auto_increment and f.default is None:
                columns[pk] = str(uuid.uuid4())

    def required_errors(self, coll: Collection, columns: dict[str, Any],
                        m2o: dict[str, Any]) -> list[TransomError]:
        errors: list[TransomError] = []
        for name, f in coll.fields.items():
            if f.is_alias or not (f.meta or {}).get("required"):
                continue
            if columns.get(name) in (None, "") and name not in m2o:
                errors.append(FailedValidationError(name, "required",
                                                    f'Validation failed for field "{name}". '
                                                    "Value is required."))
        return errors

    def validate(self, coll: Collection, rules: list[dict[str, Any]],
                 data: dict[str, Any]) -> list[TransomError]:
        """Check the payload against permission validation rules and field validation."""
        errors: list[TransomError] = []
        for rule in rules:
            rule = self.resolve(rule)
            errors.extend(validate_payload(rule, data, self.accountability))
        for name, f in coll.fields.items():
            rule = (f.meta or {}).get("validation")
            if rule and name in data:
                errors.extend(validate_payload(rule, data, self.accountability,
                                               message=(f.meta or {}).get(
                                                   "validation_message")))
        return errors

    # -- writes -------------------------------------------------------------------------
    def create(self, collection: str, payload: dict[str, Any]) -> Any:
        """Insert one item (and what it nests); return its primary key."""
        coll = self.collection(collection)
        refuse_view(coll)
        self.tick()
        columns, m2o, aliases = self.prepare(coll, payload, "create")
        for key, value in m2o.items():
            columns[key] = self.write_m2o(coll, key, value, columns)
        pk_name = coll.primary_key
        assert coll.table is not None and pk_name is not None
        stmt = coll.table.insert().values(**columns)
        if self.cms.dialect.supports_returning:
            stmt = stmt.returning(coll.table.c[pk_name])
            pk = self.execute(coll, stmt, columns).scalar_one()
        else:
            result = self.execute(coll, stmt, columns)
            pk = columns.get(pk_name)
            if pk is None:
                ids = result.inserted_primary_key
                pk = ids[0] if ids else None
        if isinstance(pk, uuid.UUID):
            pk = str(pk)
        for key, value in aliases.items():
            self.write_children(coll, key, pk, value, creating=True)
        self.track(coll, "create", pk, payload, None)
        self.queue(coll, "create", {"key": pk, "payload": payload})
        return pk

    def update(self, collection: str, pk: Any, payload: dict[str, Any]) -> Any:
        coll = self.collection(collection)
        refuse_view(coll)
        self.tick()
        columns, m2o, aliases = self.prepare(coll, payload, "update", existing_pk=pk)
        for key, value in m2o.items():
            columns[key] = self.write_m2o(coll, key, value, columns)
        assert coll.table is not None and coll.primary_key is not None
        before = self.snapshot(coll, pk) if self.revisions_on(coll) else None
        if columns:
            stmt = coll.table.update().where(coll.table.c[coll.primary_key] == pk).values(
                **columns)
            self.execute(coll, stmt, columns)
        for key, value in aliases.items():
            self.write_children(coll, key, pk, value, creating=False)
        self.track(coll, "update", pk, payload, before)
        self.queue(coll, "update", {"keys": [pk], "payload": payload})
        return pk

    def delete(self, collection: str, keys: list[Any]) -> list[Any]:
        coll = self.collection(collection)
        refuse_view(coll)
        self.tick(len(keys))
        names = self.cms.event_names(coll.collection, "delete")
        if self.emit and self.cms.events.has_filters(names):
            keys = self.cms.events.filter(names, keys, {"collection": coll.collection},
                                          self.context())
        assert coll.table is not None and coll.primary_key is not None
        if keys:
            for i in range(0, len(keys), 10_000):
                chunk = keys[i:i + 10_000]
                stmt = coll.table.delete().where(coll.table.c[coll.primary_key].in_(chunk))
                self.execute(coll, stmt, {})
        for key in keys:
            self.track(coll, "delete", key, None, None)
        self.queue(coll, "delete", {"keys": keys, "payload": keys})
        return keys

    # -- relations ----------------------------------------------------------------------
    def write_m2o(self, coll: Collection, field: str, value: dict[str, Any],
                  columns: dict[str, Any]) -> Any:
        """Create or update the related item given as an object; return its key."""
        rel = self.schema.relation(coll.collection, field)
        assert rel is not None
        if rel.kind == "a2o":
            target = columns.get(rel.collection_field or "collection")
            if target not in rel.allowed:
                raise InvalidPayloadError(
                    f'"{rel.collection_field}" must name one of {", ".join(rel.allowed)}')
            related = self.collection(target)
        else:
            related = self.collection(rel.related or "")
        pk_name = related.primary_key
        assert pk_name is not None
        pk = value.get(pk_name)
        if pk is not None and self.exists(related, pk):
            rest = {k: v for k, v in value.items() if k != pk_name}
            if rest:
                self.update(related.collection, pk, rest)
            key = pk
        else:
            key = self.create(related.collection, value)
        return str(key) if rel.kind == "a2o" else key

    def write_children(self, coll: Collection, field: str, parent_pk: Any, value: Any,
                       creating: bool) -> None:
        """o2m (and m2m/m2a junction rows): arrays of keys/objects or {create,update,delete}."""
        rel = self.schema.relation(coll.collection, field)
        assert rel is not None and rel.foreign_field is not None
        related = self.collection(rel.related or "")
        pk_name = related.primary_key
        assert pk_name is not None and related.table is not None
        fk = rel.foreign_field
        if value is None:
            value = []
        if isinstance(value, dict):
            for item in value.get("create") or []:
                self.create(related.collection, {**_as_obj(item, pk_name), fk: parent_pk})
            for item in value.get("update") or []:
                obj = _as_obj(item, pk_name)
                if pk_name not in obj:
                    raise InvalidPayloadError(f'Updates of "{field}" need "{pk_name}"')
                self.update(related.collection, obj[pk_name],
                            {**{k: v for k, v in obj.items() if k != pk_name}, fk: parent_pk})
            deletes = value.get("delete") or []
            if deletes:
                self.deselect(rel, related, parent_pk, [d for d in deletes])
            return
        if not isinstance(value, list):
            raise InvalidPayloadError(f'"{field}" must be an array or an object with create, '
                                      "update and delete")
        keep: list[Any] = []
        for item in value:
            obj = _as_obj(item, pk_name)
            pk = obj.get(pk_name)
            if pk is not None and self.exists(related, pk):
                rest = {k: v for k, v in obj.items() if k != pk_name}
                self.update(related.collection, pk, {**rest, fk: parent_pk})
                keep.append(pk)
            else:
                keep.append(self.create(related.collection, {**obj, fk: parent_pk}))
        if not creating:
            table = related.table
            current = [r[0] for r in self.conn.execute(
                sa.select(table.c[pk_name]).where(table.c[fk] == parent_pk))]
            keep_set = {str(k) for k in keep}
            gone = [k for k in current if str(k) not in keep_set]
            if gone:
                self.deselect(rel, related, parent_pk, gone)

    def deselect(self, rel: Any, related: Collection, parent_pk: Any, keys: list[Any]) -> None:
        """Unlink children: delete them or null their key (``one_deselect_action``)."""
        if rel.deselect_action == "delete" or rel.kind in ("m2m", "m2a"):
            self.delete(related.collection, keys)
        else:
            for key in keys:
                self.update(related.collection, key, {rel.foreign_field: None})

    def exists(self, coll: Collection, pk: Any) -> bool:
        assert coll.table is not None and coll.primary_key is not None
        try:
            pk = to_db(coll.pk_field.type, pk)
        except ValueError_:
            return False
        return self.conn.execute(sa.select(sa.literal(1)).where(
            coll.table.c[coll.primary_key] == pk)).first() is not None

    # -- activity, revisions, events ----------------------------------------------------
    def revisions_on(self, coll: Collection) -> bool:
        return coll.accountability == "all" and self.schema.get("directus_revisions") is not None

    def snapshot(self, coll: Collection, pk: Any) -> dict[str, Any] | None:
        assert coll.table is not None and coll.primary_key is not None
        row = self.conn.execute(sa.select(coll.table).where(
            coll.table.c[coll.primary_key] == pk)).mappings().first()
        if row is None:
            return None
        # Revisions never keep secrets: hashes and concealed values are masked, as Directus does
        return {str(k): (CONCEALED if v is not None and k in coll.fields and
                         coll.fields[k].concealed else _jsonable(v))
                for k, v in row.items()}

    def track(self, coll: Collection, action: str, pk: Any, payload: Any,
              before: dict[str, Any] | None) -> None:
        """Write ``directus_activity`` (and ``directus_revisions``) per the collection's
        ``accountability`` setting, in the same transaction as the change."""
        mode = coll.accountability
        if mode not in ("all", "activity") or coll.collection in (
                "directus_activity", "directus_revisions", "directus_sessions"):
            return
        if self.schema.get("directus_activity") is None:
            return
        acc = self.accountability
        activity = sa.table("directus_activity", *(sa.column(c) for c in (
            "id", "action", "user", "timestamp", "ip", "user_agent", "collection", "item",
            "origin")))
        values = {
            "action": action,
            "user": acc.user if acc else None,
            "timestamp": dt.datetime.now(dt.UTC).replace(tzinfo=None),
            "ip": acc.ip if acc else None,
            "user_agent": acc.user_agent if acc else None,
            "collection": coll.collection,
            "item": str(pk),
            "origin": acc.origin if acc else None,
        }
        result = self.conn.execute(activity.insert().values(**values))
        ids = result.inserted_primary_key
        activity_id = ids[0] if ids else None
        if activity_id is None:
            activity_id = self.conn.execute(
                sa.select(sa.func.max(activity.c.id))).scalar_one()
        self.activity.append(activity_id)
        if mode != "all" or action == "delete" or not self.revisions_on(coll):
            return
        data = self.snapshot(coll, pk)
        delta = {k: _jsonable(v) for k, v in (payload or {}).items()
                 if k in coll.fields and not coll.fields[k].is_alias}
        if before is not None and data is not None:
            delta = {k: data[k] for k in delta if k in data}
        revisions = sa.table("directus_revisions", *(sa.column(c) for c in (
            "activity", "collection", "item", "data", "delta", "parent")))
        self.conn.execute(revisions.insert().values(
            activity=activity_id, collection=coll.collection, item=str(pk),
            data=json.dumps(data, default=str), delta=json.dumps(delta, default=str),
            parent=None))

    def queue(self, coll: Collection, action: str, meta: dict[str, Any]) -> None:
        if not self.emit:
            return
        names = self.cms.event_names(coll.collection, action)
        self.pending.add(names, {**meta, "collection": coll.collection}, self.context())


def _unclassified(exc: DBAPIError) -> Exception:
    """A constraint or data error the dialect could not name: still the client's fault."""
    if isinstance(exc, IntegrityError):
        return InvalidPayloadError("The database rejected the change (a constraint failed)")
    if isinstance(exc, DataError):
        return InvalidPayloadError("The database rejected a value of the wrong type or size")
    return exc


def refuse_view(coll: Collection) -> None:
    """Views and tables without a primary key are read-only collections (as in Directus)."""
    if coll.is_view:
        raise InvalidPayloadError(
            f'Collection "{coll.collection}" is a database view and is read-only')
    if coll.primary_key is None:
        raise InvalidPayloadError(
            f'Collection "{coll.collection}" has no primary key and is read-only')


def _as_obj(item: Any, pk_name: str) -> dict[str, Any]:
    return dict(item) if isinstance(item, dict) else {pk_name: item}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return None
    if hasattr(value, "as_tuple"):  # Decimal
        return str(value)
    return value
