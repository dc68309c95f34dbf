"""Comments and notifications as Directus 11 runs them.

* ``POST /comments`` (``directus_comments``): ``comment``, ``collection`` and ``item`` are
  required, and a user may comment only on an item they can read (403 otherwise, also for
  an item that does not exist). Each user mentioned as ``@<uuid>`` who can read the item is
  notified ("You were mentioned in <collection>"), never the author themselves.
* A new ``directus_notifications`` row is mailed to its recipient when their
  ``email_notifications`` is true and they have an email address (Directus's rule), with a
  link to the item when it names one.
"""

from __future__ import annotations

import html
import logging
import re
from typing import Any

import sqlalchemy as sa

from transom.api import (
    EmailMessage,
    Filter,
    ForbiddenError,
    InvalidPayloadError,
    ItemsService,
    Listener,
    TransomError,
    shared_system_metadata,
)

from .service import deliver

log = logging.getLogger("transom.auth")

MENTION = re.compile(
    r"@([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})", re.IGNORECASE)


def _users() -> sa.Table:
    return shared_system_metadata().tables["directus_users"]


def _user(cms: Any, user_id: Any) -> Any:
    u = _users()
    with cms.connect() as conn:
        return conn.execute(sa.select(
            u.c.id, u.c.email, u.c.first_name, u.c.last_name, u.c.role, u.c.status,
            u.c.email_notifications).where(u.c.id == str(user_id))).first()


def _name(user: Any) -> str:
    if user is None:
        return "Someone"
    full = " ".join(p for p in (user.first_name, user.last_name) if p)
    return full or user.email or "Someone"


def _item_link(cms: Any, collection: str | None, item: Any) -> str | None:
    if not collection or item is None:
        return None
    base = str(cms.config.get("PUBLIC_URL") or "/").rstrip("/")
    if collection.startswith("directus_"):
        return f"{base}/admin/{collection[len('directus_'):]}/{item}"
    return f"{base}/admin/content/{collection}/{item}"


def _can_read(cms: Any, accountability: Any, collection: str, item: Any,
              connection: Any = None) -> bool:
    try:
        ItemsService(cms, collection, accountability, connection, emit_events=False).read_one(
            item, {"fields": [cms.schema.get(collection).primary_key]})
    except TransomError:
        return False
    return True


# -- comments -------------------------------------------------------------------------------------
def check_comment(payload: Any, meta: dict[str, Any], context: Any) -> Any:
    """The ``comments.create`` filter: Directus's required fields and read check."""
    if not isinstance(payload, dict):
        return payload
    for name in ("comment", "collection", "item"):
        value = payload.get(name)
        if value is None or value == "":
            raise InvalidPayloadError(f'"{name}" is required')
    cms = context.cms
    collection = str(payload["collection"])
    coll = cms.schema.get(collection)
    accountability = context.accountability
    if accountability is None or accountability.admin:
        return payload
    if coll is None or coll.primary_key is None or \
            not _can_read(cms, accountability, collection, payload["item"],
                          context.connection):
        raise ForbiddenError()
    return payload


def notify_mentions(meta: dict[str, Any], context: Any) -> None:
    """The ``comments.create`` action: a notification per mentioned reader of the item."""
    cms = context.cms
    payload = meta.get("payload") or {}
    comment = str(payload.get("comment") or "")
    collection, item = payload.get("collection"), payload.get("item")
    author_id = getattr(context.accountability, "user", None)
    mentioned = {m.lower() for m in MENTION.findall(comment)} - {str(author_id).lower()}
    if not mentioned or not collection or cms.schema.get(str(collection)) is None:
        return
    author = _user(cms, author_id) if author_id else None
    for user_id in sorted(mentioned):
        user = _user(cms, user_id)
        if user is None or user.status != "active":
            continue
        reader = cms.access.for_user(str(user.id), str(user.role) if user.role else None)
        if not _can_read(cms, reader, str(collection), item):
            continue  # never tell someone about an item they may not see
        text = MENTION.sub(lambda m: "@" + _name(_user(cms, m.group(1))), comment)
        message = (f"Hello {_name(user)},\n\n{_name(author)} has mentioned you in a comment:"
                   f"\n\n> {text}")
        try:
            ItemsService(cms, "directus_notifications", None).create_one({
                "recipient": str(user.id), "sender": str(author_id) if author_id else None,
                "subject": f"You were mentioned in {collection}", "message": message,
                "collection": str(collection), "item": str(item)})
        except TransomError:
            log.exception("could not notify %s of a mention", user.id)


# -- notifications ---------------------------------------------------------------------------------
def mail_notification(meta: dict[str, Any], context: Any) -> None:
    """The ``notifications.create`` action: mail the recipient when they asked for it."""
    cms = context.cms
    payload = meta.get("payload") or {}
    recipient = payload.get("recipient")
    if not recipient:
        return
    user = _user(cms, recipient)
    if user is None or not user.email or not user.email_notifications:
        return  # null counts as no, as in Directus (email_notifications === true)
    message = str(payload.get("message") or "")
    link = _item_link(cms, payload.get("collection"), payload.get("item"))
    text = message + (f"\n\nOpen it: {link}\n" if link else "\n")
    body = "<p>" + html.escape(message).replace("\n", "<br>") + "</p>"
    if link:
        body += f'<p><a href="{html.escape(link, quote=True)}">Open it</a></p>'
    deliver(cms, EmailMessage(to=str(user.email), subject=str(payload.get("subject") or ""),
                              text=text, html=body))


FILTERS = [Filter("comments.create", check_comment)]
LISTENERS = [Listener("comments.create", notify_mentions),
             Listener("notifications.create", mail_notification)]
