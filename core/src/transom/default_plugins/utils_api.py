"""``/utils`` routes: revert an item to a revision, random strings, argon2 hash helpers.

Revert works as in Directus: the revision's ``data`` (the full item as it was saved) is
written back onto the item with an ordinary update through :class:`ItemsService` as the
caller, so the update permission, filter hooks, activity and a new revision all apply as for
any other change; the answer is 204. Fields that cannot be written back as they were stored
are left out: the primary key (same item), alias and generated fields, fields that no longer
exist, and hashed or concealed fields (writing a stored hash back would hash it again).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from flask import Response

from .. import hookimpl
from ..auth.passwords import hash_password, verify_password
from ..errors import ForbiddenError, InvalidPayloadError
from ..http.context import current_cms, get_accountability
from ..http.openapi import Blueprint
from ..http.responses import json_response, no_content
from ..http.schemas import HashGenerateBody, HashVerifyBody, RandomStringQuery
from ..services.items import ItemsService

bp = Blueprint("transom_utils", __name__, description="Utilities: revert, random, hash.")

#: nanoid's URL-safe alphabet, as Directus's random strings use.
RANDOM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
RANDOM_MAX = 500


def random_string(length: int = 32) -> str:
    return "".join(secrets.choice(RANDOM_ALPHABET) for _ in range(length))


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


@bp.post("/utils/revert/<revision>")
def revert_view(revision: str) -> Response:
    """Revert an item to a revision"""
    revert(current_cms(), get_accountability(), revision)
    return no_content()


@bp.get("/utils/random/string")
@bp.arguments(RandomStringQuery, location="query", as_kwargs=True)
def random_string_view(length: int) -> Response:
    """A random string (nanoid's URL-safe alphabet)"""
    return json_response({"data": random_string(length)})


@bp.post("/utils/hash/generate")
@bp.arguments(HashGenerateBody)
def hash_generate_view(body: dict[str, Any]) -> Response:
    """Hash a string with argon2"""
    return json_response({"data": hash_password(body["string"], current_cms().config)})


@bp.post("/utils/hash/verify")
@bp.arguments(HashVerifyBody)
def hash_verify_view(body: dict[str, Any]) -> Response:
    """Verify a string against an argon2 hash"""
    return json_response({"data": verify_password(body["hash"], body["string"])})


@hookimpl
def register_blueprints(cms: Any) -> Any:
    return bp
