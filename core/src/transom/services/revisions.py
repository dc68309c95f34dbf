"""Reverting an item to one of its revisions (``POST /utils/revert/:revision``, the admin app).

Revert works as in Directus: the revision's ``data`` (the full item as it was saved) is
written back onto the item with an ordinary update through :class:`ItemsService` as the
caller, so the update permission, filter hooks, activity and a new revision all apply as for
any other change; the answer is 204. Fields that cannot be written back as they were stored
are left out: the primary key (same item), alias and generated fields, fields that no longer
exist, and hashed or concealed fields (writing a stored hash back would hash it again).
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import ForbiddenError, InvalidPayloadError
from .items import ItemsService


def revert_payload(cms: Any, collection: str, data: dict[str, Any]) -> dict[str, Any]:
    """The part of a revision's snapshot that can be written back onto the item."""
    coll = cms.schema.get(collection)
    if coll is None or coll.table is None:
        raise ForbiddenError.collection(collection)
    out: dict[str, Any] = {}
    for name, value in data.items():
        f = coll.fields.get(name)
        if f is None or f.is_alias or f.is_generated or f.is_primary_key:
            continue
        if "hash" in f.special or f.concealed:
            continue
        out[name] = value
    return out


def revert(cms: Any, accountability: Any, revision: Any) -> None:
    """Write revision ``revision``'s data back onto its item as ``accountability``."""
    row = ItemsService(cms, "directus_revisions", None).read_one(
        revision, {"fields": ["id", "collection", "item", "data"]})
    data = row.get("data")
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError:
            data = None
    if not isinstance(data, dict):
        raise InvalidPayloadError("Revision doesn't contain data to revert to")
    collection, item = row["collection"], row["item"]
    payload = revert_payload(cms, collection, data)
    service = ItemsService(cms, collection, accountability)
    pk = service.coll().primary_key
    # The item must still exist (a deleted item cannot be reverted; 403 as for any missing key)
    ItemsService(cms, collection, None).read_one(item, {"fields": [pk]})
    service.update_one(item, payload)
