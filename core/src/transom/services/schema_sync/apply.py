"""Applying a diff through the schema services, and the plan it follows."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...errors import InvalidPayloadError
from ..schema import (
    CollectionsService,
    FieldsService,
    RelationsService,
    meta_tables,
)
from .diff import _only, _unwrap, apply_ops, check_entry, deep_diff, diff
from .portable import _portable, _relation_fields, portable_default
from .snapshot import _KINDS, STALE_MESSAGE, Portability, _apply_lock, current_hash, snapshot

if TYPE_CHECKING:
    from ...kernel import Transom
    from ...schema.model import SchemaSnapshot


# -- apply ---------------------------------------------------------------------------------
def _validate_diff(payload: Any) -> tuple[str, dict[str, list[dict[str, Any]]]]:
    body = _unwrap(payload, "hash")
    if not isinstance(body, dict):
        raise InvalidPayloadError('Body must be an object with "hash" and "diff"')
    hash_ = body.get("hash")
    if not isinstance(hash_, str) or not hash_:
        raise InvalidPayloadError('"hash" is required: the hash /schema/diff answered')
    raw = body.get("diff")
    if not isinstance(raw, dict):
        raise InvalidPayloadError('"diff" must be an object with collections, fields and '
                                  "relations")
    out: dict[str, list[dict[str, Any]]] = {}
    for part, keys in (("collections", ("collection",)), ("fields", ("collection", "field")),
                       ("relations", ("collection", "field"))):
        items = raw.get(part) or []
        if not isinstance(items, list):
            raise InvalidPayloadError(f'"diff.{part}" must be an array')
        for item in items:
            if not isinstance(item, dict) or not all(
                    isinstance(item.get(k), str) for k in keys):
                raise InvalidPayloadError(
                    f'Every entry of "diff.{part}" needs {", ".join(keys)} and diff')
            ops = item.get("diff")
            name = ".".join(item[k] for k in keys)
            if not isinstance(ops, list) or not ops or not all(_op_ok(o) for o in ops):
                raise InvalidPayloadError(
                    f'"diff" of {name} must be a non-empty array '
                    "of operations (kind N, D, E or A)")
            for op in ops:
                _check_whole(part, keys, name, op)
        out[part] = items
    return hash_, out


def _op_ok(op: Any) -> bool:
    """One operation's shape: a known kind, a path of names and indexes, an array item."""
    if not isinstance(op, dict) or not isinstance(op.get("kind"), str) or \
            op["kind"] not in _KINDS:
        return False
    path = op.get("path")
    if path is not None and (not isinstance(path, list) or not all(
            isinstance(p, str | int) and not isinstance(p, bool) for p in path)):
        return False
    if op["kind"] == "A":
        return isinstance(op.get("index"), int) and _op_ok(op.get("item"))
    return True


def _check_whole(part: str, keys: tuple[str, ...], name: str, op: dict[str, Any]) -> None:
    """A whole new object (``N`` at the root) must be a valid snapshot entry."""
    if op.get("path") or op["kind"] != "N":
        return
    rhs = op.get("rhs")
    if not isinstance(rhs, dict) or not all(
            isinstance(rhs.get(k), str) and rhs[k] for k in keys):
        raise InvalidPayloadError(
            f'The new entry of {name} in "diff.{part}" must be an object with '
            f'{", ".join(keys)}')
    check_entry(part, rhs)


def _whole(ops: list[dict[str, Any]]) -> str | None:
    """``"N"``/``"D"`` when the operations create/delete the whole object."""
    if len(ops) == 1 and not ops[0].get("path") and ops[0]["kind"] in ("N", "D"):
        return str(ops[0]["kind"])
    return None


def _describe(ops: list[dict[str, Any]]) -> str:
    parts = []
    for op in ops:
        path = ".".join(str(p) for p in op.get("path") or []) or "(all)"
        if op["kind"] == "E":
            parts.append(f"{path} {op.get('lhs')!r} -> {op.get('rhs')!r}")
        elif op["kind"] == "N":
            parts.append(f"{path} = {op.get('rhs')!r}")
        elif op["kind"] == "D":
            parts.append(f"{path} removed")
        else:
            parts.append(f"{path}[{op.get('index')}] changed")
    return "; ".join(parts)


def _field_payload(obj: dict[str, Any]) -> dict[str, Any]:
    """A ``FieldsService`` payload from a portable field object."""
    payload: dict[str, Any] = {"field": obj["field"], "type": obj.get("type") or "alias"}
    if obj.get("meta") is not None:
        payload["meta"] = obj["meta"]
    schema = obj.get("schema")
    if schema is None:
        payload["schema"] = None
        return payload
    # Only what every database can take: a diff made by Directus itself carries the
    # source's own expressions (nextval(...), gen_random_uuid()) as default values.
    payload["schema"] = {k: v for k, v in schema.items() if k not in ("name", "table")}
    if "default_value" in schema:
        payload["schema"]["default_value"] = portable_default(
            payload["type"], schema["default_value"], bool(schema.get("has_auto_increment")))
    return payload


def _top(op: dict[str, Any]) -> Any:
    path = op.get("path") or []
    return path[0] if path else None


def _changed(ops: list[dict[str, Any]], part: str) -> set[str]:
    """Keys of ``part`` (meta, schema) the operations touch."""
    return {str(op["path"][1]) for op in ops
            if len(op.get("path") or []) > 1 and op["path"][0] == part}


def _replaces(ops: list[dict[str, Any]], part: str) -> bool:
    """Whether ``part`` as a whole goes from null to an object or back."""
    return any(op.get("path") == [part] for op in ops)


class _Applier:
    """Runs (or, in a dry run, only describes) one diff in dependency order."""

    def __init__(self, cms: Transom, diff_: dict[str, list[dict[str, Any]]],
                 dry_run: bool, progress: Callable[[str], None] | None = None) -> None:
        self.cms = cms
        self.diff = diff_
        self.dry_run = dry_run
        self.progress = progress
        self.plan: list[str] = []
        self.collections = CollectionsService(cms, None)
        self.fields = FieldsService(cms, None)
        self.relations = RelationsService(cms, None)
        self.created_fields: dict[tuple[str, str], dict[str, Any]] = {}

    def step(self, text: str, action: Any, *args: Any) -> None:
        """Record one step of the plan, and run it unless this is a dry run."""
        self.plan.append(text)
        if not self.dry_run:
            action(*args)
            if self.progress is not None:
                self.progress(text)

    def current(self, part: str, key: Any) -> dict[str, Any] | None:
        """The object as it is now, in the portable form the diff's operations address."""
        snap = snapshot(self.cms)
        return _portable(snap, _relation_fields(snap), Portability(comments=False))[
            part].get(key)

    # -- the plan -----------------------------------------------------------------------
    def run(self) -> list[str]:
        d = self.diff
        new_collections = {c["collection"]: c for c in d["collections"]
                           if _whole(c["diff"]) == "N"}
        dropped = {c["collection"] for c in d["collections"] if _whole(c["diff"]) == "D"}
        new_fields = [f for f in d["fields"] if _whole(f["diff"]) == "N"]
        fields_of: dict[str, list[dict[str, Any]]] = {}
        for f in new_fields:
            fields_of.setdefault(f["collection"], []).append(f["diff"][0].get("rhs") or {})
        # 1. collections, each created with its own new fields (folders first: meta.group)
        for name in _creation_order(new_collections):
            obj = new_collections[name]["diff"][0].get("rhs") or {}
            self.create_collection(name, obj, fields_of.get(name, []))
        for entry in d["collections"]:
            if _whole(entry["diff"]) is None:
                self.update_collection(entry["collection"], entry["diff"])
        # 2. fields
        for entry in new_fields:
            if entry["collection"] not in new_collections:
                obj = entry["diff"][0].get("rhs") or {}
                self.step(f"create field {entry['collection']}.{entry['field']} "
                          f"({obj.get('type')})", self.create_field, entry["collection"], obj)
        for entry in d["fields"]:
            if _whole(entry["diff"]) is None:
                self.update_field(entry["collection"], entry["field"], entry["diff"])
        # 3. relations
        for entry in d["relations"]:
            kind = _whole(entry["diff"])
            if kind == "N":
                obj = entry["diff"][0].get("rhs") or {}
                self.step(f"create relation {_relation_label(obj)}", self.create_relation,
                          obj)
            elif kind is None:
                self.update_relation(entry["collection"], entry["field"], entry["diff"])
        if not self.dry_run:
            self.reconcile_created()
        # 4. deletions, in reverse dependency order
        for entry in d["relations"]:
            if _whole(entry["diff"]) == "D":
                c, f = entry["collection"], entry["field"]
                self.step(f"delete relation {c}.{f}", self.relations.delete_one, c, f)
        for entry in d["fields"]:
            if _whole(entry["diff"]) == "D" and entry["collection"] not in dropped:
                c, f = entry["collection"], entry["field"]
                self.step(f"delete field {c}.{f}", self.delete_field, c, f)
        for name in _deletion_order(dropped, self.cms.schema):
            self.step(f"delete collection {name}", self.collections.delete_one, name)
        return self.plan

    # -- collections --------------------------------------------------------------------
    def create_collection(self, name: str, obj: dict[str, Any],
                          fields: list[dict[str, Any]]) -> None:
        schema = obj.get("schema")
        payload: dict[str, Any] = {"collection": name, "meta": obj.get("meta")}
        if schema is None:
            payload["schema"] = None
            self.step(f"create folder {name}", self.collections.create_one, payload)
            return
        payload["schema"] = {"comment": schema["comment"]} if schema.get("comment") else {}
        payload["fields"] = [_field_payload(f) for f in fields]
        for f in fields:
            self.created_fields[(name, f["field"])] = f
        self.step(f"create collection {name} with fields "
                  f"{', '.join(f['field'] for f in fields) or '(id)'}",
                  self.collections.create_one, payload)

    def update_collection(self, name: str, ops: list[dict[str, Any]]) -> None:
        if _replaces(ops, "schema"):
            raise InvalidPayloadError(
                f'Collection "{name}" would change between a folder and a table; delete it '
                "and create it again instead")
        ops = [op for op in ops if _top(op) == "meta"]
        if ops:
            self.step(f"update collection {name}: {_describe(ops)}",
                      self._update_collection, name, ops)

    def _update_collection(self, name: str, ops: list[dict[str, Any]]) -> None:
        current = self.current("collections", name)
        if current is None:
            raise InvalidPayloadError(f'Collection "{name}" does not exist')
        meta = apply_ops(current, ops).get("meta")
        if meta is None:
            t = meta_tables()["directus_collections"]
            with self.collections.change(f'Could not remove the metadata of "{name}"',
                                         collections=[name]) as w:
                w.conn.execute(t.delete().where(t.c.collection == name))
            return
        keys = set(meta) if _replaces(ops, "meta") else _changed(ops, "meta")
        self.collections.update_one(name, {"meta": {k: meta.get(k) for k in keys
                                                    if k != "collection"}})

    # -- fields -------------------------------------------------------------------------
    def create_field(self, collection: str, obj: dict[str, Any]) -> None:
        self.created_fields[(collection, obj["field"])] = obj
        self.fields.create_field(collection, _field_payload(obj))

    def update_field(self, collection: str, name: str, ops: list[dict[str, Any]]) -> None:
        label = f"{collection}.{name}"
        if _replaces(ops, "schema"):  # a column becoming an alias or the other way round
            self.step(f"recreate field {label}: {_describe(ops)}",
                      self._recreate_field, collection, name, ops)
            return
        self.step(f"update field {label}: {_describe(ops)}",
                  self._update_field, collection, name, ops)

    def _recreate_field(self, collection: str, name: str, ops: list[dict[str, Any]]) -> None:
        target = apply_ops(self.current("fields", (collection, name)), ops)
        self.fields.delete_field(collection, name)
        self.create_field(collection, target)

    def _update_field(self, collection: str, name: str, ops: list[dict[str, Any]]) -> None:
        current = self.current("fields", (collection, name))
        if current is None:
            raise InvalidPayloadError(f'Field "{collection}.{name}" does not exist')
        new = apply_ops(current, ops)
        payload: dict[str, Any] = {"field": name}
        if any(_top(op) == "type" for op in ops):
            payload["type"] = new.get("type")
        changed = _changed(ops, "schema")
        if changed:
            payload["schema"] = {k: (new.get("schema") or {}).get(k) for k in changed}
        meta = new.get("meta")
        if _replaces(ops, "meta") and meta is None:
            self._drop_field_meta(collection, name)
        elif meta is not None:
            keys = set(meta) if _replaces(ops, "meta") else _changed(ops, "meta")
            keys -= {"collection", "field"}
            if keys:
                payload["meta"] = {k: meta.get(k) for k in keys}
        if len(payload) > 1:
            self.fields.update_field(collection, payload)

    def delete_field(self, collection: str, name: str) -> None:
        coll = self.cms.schema.get(collection)
        if coll is not None and name in coll.fields:  # an o2m alias goes with its relation
            self.fields.delete_field(collection, name)

    def _drop_field_meta(self, collection: str, name: str) -> None:
        with self.fields.change(f'Could not remove the metadata of "{collection}.{name}"',
                                collections=[collection]) as work:
            self.fields.delete_field_rows(work.conn, collection, name)

    def reconcile_created(self) -> None:
        """Make created fields' metadata exactly the snapshot's: the services add a sort
        position and the specials a type implies when a payload leaves them out."""
        if not self.created_fields:
            return
        snap = snapshot(self.cms)
        have = _portable(snap, _relation_fields(snap), Portability(comments=False))["fields"]
        for key, want in self.created_fields.items():
            current = have.get(key)
            if current is None:
                continue
            meta_want, meta_have = want.get("meta"), current.get("meta")
            if meta_want is None:
                if meta_have is not None:
                    self._drop_field_meta(*key)
                continue
            ops = deep_diff(_only(meta_have, meta_want), meta_want)
            keys = {str(op["path"][0]) for op in ops if op.get("path")} - {"collection",
                                                                            "field"}
            if keys:
                self.fields.update_field(key[0], {"field": key[1], "meta": {
                    k: meta_want.get(k) for k in keys}})

    # -- relations ----------------------------------------------------------------------
    def create_relation(self, obj: dict[str, Any]) -> None:
        meta = obj.get("meta")
        if meta is not None:
            meta = {k: v for k, v in meta.items()
                    if k not in ("many_collection", "many_field", "one_collection")}
        self.relations.create_one({
            "collection": obj.get("collection"), "field": obj.get("field"),
            "related_collection": obj.get("related_collection"), "meta": meta,
            "schema": obj.get("schema")})

    def update_relation(self, collection: str, name: str, ops: list[dict[str, Any]]) -> None:
        label = f"{collection}.{name}"
        if any(_top(op) == "related_collection" for op in ops):
            self.step(f"recreate relation {label}: {_describe(ops)}",
                      self._recreate_relation, collection, name, ops)
            return
        self.step(f"update relation {label}: {_describe(ops)}",
                  self._update_relation, collection, name, ops)

    def _recreate_relation(self, collection: str, name: str,
                           ops: list[dict[str, Any]]) -> None:
        target = apply_ops(self.current("relations", (collection, name)), ops)
        self.relations.delete_one(collection, name)
        self.create_relation(target)

    def _update_relation(self, collection: str, name: str, ops: list[dict[str, Any]]) -> None:
        current = self.current("relations", (collection, name))
        if current is None:
            raise InvalidPayloadError(f'Relation "{collection}.{name}" does not exist')
        new = apply_ops(current, ops)
        payload: dict[str, Any] = {}
        meta = new.get("meta")
        if meta is not None:
            keys = set(meta) if _replaces(ops, "meta") else _changed(ops, "meta")
            keys -= {"many_collection", "many_field", "one_collection"}
            if keys:
                payload["meta"] = {k: meta.get(k) for k in keys}
        if any(_top(op) == "schema" for op in ops) and new.get("schema") is not None:
            payload["schema"] = new["schema"]
        if payload:
            self.relations.update_one(collection, name, payload)


def _relation_label(obj: dict[str, Any]) -> str:
    target = obj.get("related_collection") or ", ".join(
        (obj.get("meta") or {}).get("one_allowed_collections") or []) or "any collection"
    out = f"{obj.get('collection')}.{obj.get('field')} -> {target}"
    one_field = (obj.get("meta") or {}).get("one_field")
    if one_field and obj.get("related_collection"):
        out += f" (alias {obj['related_collection']}.{one_field})"
    if obj.get("schema"):
        out += f" [foreign key, on delete {obj['schema'].get('on_delete')}]"
    return out


def _creation_order(new: dict[str, dict[str, Any]]) -> list[str]:
    """New collections, each after the folder it is grouped in (``meta.group`` is a FK)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str, depth: int = 0) -> None:
        if name in seen or depth > len(new):
            return
        seen.add(name)
        rhs = new[name]["diff"][0].get("rhs") or {}
        group = (rhs.get("meta") or {}).get("group")
        if isinstance(group, str) and group in new:
            visit(group, depth + 1)
        order.append(name)

    for name in sorted(new):
        visit(name)
    return order


def _deletion_order(names: set[str], snap: SchemaSnapshot) -> list[str]:
    """Collections to delete, those holding foreign keys before the ones they point at."""
    points_at: dict[str, set[str]] = {n: set() for n in names}
    for rel in snap.relations:
        if rel.collection in names and rel.related_collection in names \
                and rel.related_collection != rel.collection:
            points_at[rel.collection].add(rel.related_collection)
    order: list[str] = []
    remaining = set(names)
    while remaining:
        free = sorted(n for n in remaining
                      if not any(n in points_at[o] for o in remaining if o != n))
        if not free:  # a cycle: any order, the services report what the database refuses
            free = sorted(remaining)
        for n in free:
            order.append(n)
            remaining.discard(n)
    return order


def apply(cms: Transom, payload: Any, dry_run: bool = False,
          progress: Callable[[str], None] | None = None) -> list[str]:
    """Apply a ``{hash, diff}`` from :func:`diff` and return the plan it followed.

    Refused (400) when the schema changed since the diff was made, which also makes a second
    apply of the same diff fail instead of half-repeating it; a fresh diff of an applied
    snapshot is empty, so "snapshot, diff, apply" can be run any number of times. Each
    change runs in its own transaction through the schema services (DDL does not roll back
    on MySQL anyway); a failure stops the apply at that step with the services' error.
    """
    hash_, diff_ = _validate_diff(payload)
    with _apply_lock:
        if current_hash(cms) != hash_:
            raise InvalidPayloadError(STALE_MESSAGE)
        applier = _Applier(cms, diff_, dry_run, progress)
        try:
            return applier.run()
        finally:
            if not dry_run:
                cms.schema_changed()


def plan(cms: Transom, payload: Any, force: bool = False) -> tuple[dict[str, Any] | None,
                                                                   list[str]]:
    """The diff of a snapshot and what applying it would do (nothing is changed)."""
    result = diff(cms, payload, force)
    if result is None:
        return None, []
    return result, apply(cms, result, dry_run=True)
