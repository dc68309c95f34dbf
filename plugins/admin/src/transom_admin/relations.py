"""o2m and m2m fields on the item page: the related items, and linking/unlinking for m2m.

Everything is read and written through the items service as the caller: an o2m list reads
the related collection, an m2m list reads the junction and then the far collection, and
linking or unlinking creates or deletes a junction row, so the caller's permissions on the
junction apply. A relation the caller may not read is left off the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transom.api import ExtensionContext, ForbiddenError, InvalidPayloadError, TransomError

LIMIT = 100


@dataclass
class Panel:
    """One relational field of an item: its related rows (key, label, junction row)."""

    field: str
    kind: str
    target: str
    rows: list[tuple[Any, str, Any]] = field(default_factory=list)
    choices: list[tuple[Any, str]] = field(default_factory=list)
    #: o2m with a ``sort_field``: the rows can be moved up and down
    sortable: bool = False
    #: o2m: the field a new related item's name is typed into (None: no inline creation)
    new_label: str | None = None


def label_of(ctx: ExtensionContext, collection: str) -> str:
    """The field that names an item of ``collection`` in lists (else its key)."""
    coll = ctx.cms.schema.get(collection)
    assert coll is not None and coll.primary_key is not None
    return next((n for n in ("title", "name", "label", "email") if n in coll.fields),
                coll.primary_key)


def _labels(ctx: ExtensionContext, collection: str, keys: list[Any] | None) -> dict[Any, str]:
    """Key -> label of the items of ``collection`` (``keys``, or the first LIMIT)."""
    coll = ctx.cms.schema.get(collection)
    assert coll is not None and coll.primary_key is not None
    pk, label = coll.primary_key, label_of(ctx, collection)
    query: dict[str, Any] = {"fields": list(dict.fromkeys([pk, label])), "limit": LIMIT,
                             "sort": [pk]}
    if keys is not None:
        if not keys:
            return {}
        query["filter"] = {pk: {"_in": keys}}
    rows = ctx.services.items(collection).read_by_query(query)
    return {r[pk]: str(r.get(label) if r.get(label) is not None else r[pk]) for r in rows}


def panels(ctx: ExtensionContext, collection: str, key: Any,
           fields: list[dict[str, Any]]) -> list[Panel]:
    """The o2m and m2m panels of item ``key`` the caller may read."""
    out = []
    for f in fields:
        rel = ctx.cms.schema.relation(collection, f["field"])
        if rel is None or rel.kind not in ("o2m", "m2m") or not rel.related:
            continue
        if "translations" in ((f.get("meta") or {}).get("special") or ()):
            continue  # its own tabs (translations.py)
        try:
            out.append(_o2m(ctx, rel, key) if rel.kind == "o2m" else _m2m(ctx, rel, key))
        except TransomError:
            continue  # the caller may not read the related side
    return out


def _o2m(ctx: ExtensionContext, rel: Any, key: Any) -> Panel:
    coll = ctx.cms.schema.get(rel.related)
    pk, label = coll.primary_key, label_of(ctx, rel.related)
    order = [rel.sort_field, pk] if rel.sort_field else [pk]
    rows = ctx.services.items(rel.related).read_by_query({
        "fields": list(dict.fromkeys([pk, label])), "limit": LIMIT, "sort": order,
        "filter": {rel.foreign_field: {"_eq": key}}})
    return Panel(rel.field, "o2m", rel.related,
                 [(r[pk], str(r.get(label) if r.get(label) is not None else r[pk]), None)
                  for r in rows], sortable=bool(rel.sort_field),
                 new_label=_new_label(ctx, rel))


def _new_label(ctx: ExtensionContext, rel: Any) -> str | None:
    """The naming field of the related collection, when the caller may create its items
    with that field and the link back to this item."""
    label = label_of(ctx, rel.related)
    if label == ctx.cms.schema.get(rel.related).primary_key:
        return None
    fields = ctx.services.fields()
    if fields.admin:
        return label
    access = fields.permissions.access(rel.related, "create")
    ok = access.allowed and access.field_allowed(label) \
        and access.field_allowed(rel.foreign_field)
    return label if ok else None


def _o2m_relation(ctx: ExtensionContext, collection: str, name: str) -> Any:
    rel = ctx.cms.schema.relation(collection, name)
    if rel is None or rel.kind != "o2m" or not rel.related:
        raise InvalidPayloadError(f'"{name}" is not a one-to-many field of "{collection}"')
    return rel


def move(ctx: ExtensionContext, collection: str, key: Any, name: str, row: str,
         direction: str) -> None:
    """Swap related item ``row`` with its neighbour (``up`` or ``down``) in the o2m's
    order, then number the list 1..n in the sort field, all in one transaction through
    the items service (so the caller's update permission on the related items applies)."""
    rel = _o2m_relation(ctx, collection, name)
    if not rel.sort_field:
        raise InvalidPayloadError(f'"{name}" has no sort field')
    if direction not in ("up", "down"):
        raise InvalidPayloadError('"move" must be "up" or "down"')
    pk = ctx.cms.schema.get(rel.related).primary_key
    own_pk = ctx.cms.schema.get(collection).primary_key
    own = ctx.services.items(collection).read_one(key, {"fields": [own_pk]})[own_pk]
    with ctx.transaction() as tx:
        items = tx.services.items(rel.related)
        rows = items.read_by_query({"fields": [pk, rel.sort_field], "limit": -1,
                                    "sort": [rel.sort_field, pk],
                                    "filter": {rel.foreign_field: {"_eq": own}}})
        keys = [r[pk] for r in rows]
        index = next((i for i, k in enumerate(keys) if str(k) == row), None)
        if index is None:
            raise InvalidPayloadError(f'Item "{row}" is not in "{name}" of this item')
        other = index - 1 if direction == "up" else index + 1
        if not 0 <= other < len(keys):
            return  # already first or last
        keys[index], keys[other] = keys[other], keys[index]
        current = {r[pk]: r[rel.sort_field] for r in rows}
        for position, k in enumerate(keys, start=1):
            if current[k] != position:
                items.update_one(k, {rel.sort_field: position})


def create_linked(ctx: ExtensionContext, collection: str, key: Any, name: str,
                  text: str) -> Any:
    """Create an o2m's related item named ``text``, linked to item ``key`` (last in the
    order when the relation is sortable)."""
    rel = _o2m_relation(ctx, collection, name)
    label = _new_label(ctx, rel)
    if label is None:
        raise ForbiddenError()
    if not text.strip():
        raise InvalidPayloadError(f"Enter the {label} of the new item.")
    own_pk = ctx.cms.schema.get(collection).primary_key
    own = ctx.services.items(collection).read_one(key, {"fields": [own_pk]})[own_pk]
    data: dict[str, Any] = {label: text.strip(), rel.foreign_field: own}
    with ctx.transaction() as tx:
        items = tx.services.items(rel.related)
        if rel.sort_field:
            last = items.read_by_query({"fields": [rel.sort_field], "limit": 1,
                                        "sort": [f"-{rel.sort_field}"],
                                        "filter": {rel.foreign_field: {"_eq": own}}})
            data[rel.sort_field] = int((last[0].get(rel.sort_field) if last else 0) or 0) + 1
        return items.create_one(data)


def _m2m(ctx: ExtensionContext, rel: Any, key: Any) -> Panel:
    junction = ctx.cms.schema.get(rel.related)
    jpk = junction.primary_key
    links = ctx.services.items(rel.related).read_by_query({
        "fields": [jpk, rel.junction_field], "limit": LIMIT, "sort": [jpk],
        "filter": {rel.foreign_field: {"_eq": key}}})
    far = [r[rel.junction_field] for r in links if r.get(rel.junction_field) is not None]
    names = _labels(ctx, rel.far_collection, far)
    rows = [(r[rel.junction_field], names.get(r[rel.junction_field],
                                              str(r[rel.junction_field])), r[jpk])
            for r in links if r.get(rel.junction_field) in names]
    linked = set(far)
    choices = [(k, v) for k, v in _labels(ctx, rel.far_collection, None).items()
               if k not in linked]
    return Panel(rel.field, "m2m", rel.far_collection, rows, choices)


def _m2m_relation(ctx: ExtensionContext, collection: str, name: str) -> Any:
    rel = ctx.cms.schema.relation(collection, name)
    if rel is None or rel.kind != "m2m":
        raise InvalidPayloadError(f'"{name}" is not a many-to-many field of "{collection}"')
    return rel


def link(ctx: ExtensionContext, collection: str, key: Any, name: str, far_key: str) -> None:
    """Link item ``key`` to the far item ``far_key`` (one new junction row)."""
    rel = _m2m_relation(ctx, collection, name)
    ctx.services.items(collection).read_one(key)  # both ends must be readable
    far = ctx.services.items(rel.far_collection).read_one(far_key)
    far_pk = ctx.cms.schema.get(rel.far_collection).primary_key
    own_pk = ctx.cms.schema.get(collection).primary_key
    own = ctx.services.items(collection).read_one(key, {"fields": [own_pk]})[own_pk]
    ctx.services.items(rel.related).create_one(
        {rel.foreign_field: own, rel.junction_field: far[far_pk]})


def unlink(ctx: ExtensionContext, collection: str, key: Any, name: str, row: str) -> None:
    """Delete junction row ``row``, which must link item ``key`` through this field."""
    rel = _m2m_relation(ctx, collection, name)
    items = ctx.services.items(rel.related)
    found = items.read_one(row, {"fields": [rel.foreign_field]})
    if str(found.get(rel.foreign_field)) != str(key):
        raise ForbiddenError()
    items.delete_one(row)
