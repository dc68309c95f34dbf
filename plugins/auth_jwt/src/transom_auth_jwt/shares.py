"""Share links (``directus_shares``): ``/shares/auth``, ``/shares/info/:pk``, ``/shares/invite``.

A share grants read access to one item. ``/shares/auth`` checks the share (window, uses left,
password), counts the use and signs Directus's share token: ``{share, share_scope: {collection,
item}, role, app_access: false, admin_access: false}`` with no user ``id``.

The caller of a share token has no policies of its own. What it may do comes from the
``permission_rules`` hook of :class:`ShareRules`: nothing but ``read``, and only on the shared
item and the items related to it at any depth (m2o targets, o2m children, m2m junction rows and
their far side, then theirs, up to :data:`MAX_DEPTH`), each reached and then intersected with
what the share's role may read (the creator's access when the share has no role, everything
when that is an admin). The hook is registered on an
app only once a share token is used in its process, because any ``permission_rules``
implementation turns off the compiled-read cache for every non-admin caller.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from transom.api import (
    Accountability,
    EmailMessage,
    ForbiddenError,
    InvalidCredentialsError,
    InvalidPayloadError,
    ItemsService,
    Rule,
    hookimpl,
    shared_system_metadata,
    verify_password,
)

from . import jwt_tokens
from .local import MODES
from .service import Caller, Issued, _clip, as_utc, deliver, share_claims, utcnow
from .state import AuthState

SHARES = "directus_shares"
#: ``Accountability.extra`` keys of a share caller
SCOPE_KEY = "share_scope"
OWNER_KEY = "share_owner"
_KEYS_KEY = "share_keys"
#: a user id no access row holds: ``for_user`` with it gives exactly a role's policies
_NOBODY = "00000000-0000-0000-0000-000000000000"
_register_lock = threading.Lock()


def _table() -> sa.Table:
    return shared_system_metadata().tables[SHARES]


def _share_id(value: Any) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def _in_window(row: Any, now: dt.datetime) -> bool:
    start, end = as_utc(row.date_start), as_utc(row.date_end)
    return (start is None or start <= now) and (end is None or end >= now)


# -- /shares/auth -------------------------------------------------------------------------------
def validate_login(body: dict[str, Any]) -> str:
    """Joi's checks of Directus's share login schema; the mode."""
    if body.get("share") is None:
        raise InvalidPayloadError('"share" is required')
    if not isinstance(body["share"], str):
        raise InvalidPayloadError('"share" must be a string')
    password = body.get("password")
    if password is not None and not isinstance(password, str):
        raise InvalidPayloadError('"password" must be a string')
    mode = body.get("mode") or "json"
    if mode not in MODES:
        raise InvalidPayloadError('"mode" must be one of [cookie, json, session]')
    return str(mode)


def login(cms: Any, state: AuthState, body: dict[str, Any], mode: str,
          caller: Caller) -> Issued:
    """Tokens for a share; 401 ``INVALID_CREDENTIALS`` for a share that is unknown, outside
    its window, used up, or asked with the wrong password (one answer for all)."""
    share_id = _share_id(body["share"])
    if share_id is None:
        raise InvalidCredentialsError()
    t, s = _table(), state.sessions
    now = utcnow()
    with cms.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.id == share_id)).first()
    if row is None or not _in_window(row, now) or \
            (row.max_uses is not None and (row.times_used or 0) >= row.max_uses):
        raise InvalidCredentialsError()
    if row.password and not verify_password(row.password, str(body.get("password") or "")):
        raise InvalidCredentialsError()
    token = jwt_tokens.new_opaque_token()
    ttl = state.settings.session_ttl_ms if mode == "session" else state.settings.refresh_ttl_ms
    with cms.begin() as conn:
        # Counted in the database: two logins racing for the last use cannot both win.
        counted = conn.execute(
            t.update().where(t.c.id == share_id, sa.or_(
                t.c.max_uses.is_(None), sa.func.coalesce(t.c.times_used, 0) < t.c.max_uses))
            .values(times_used=sa.func.coalesce(t.c.times_used, 0) + 1)).rowcount
        if counted != 1:
            raise InvalidCredentialsError()
        conn.execute(s.delete().where(s.c.share == share_id, s.c.expires < now))
        conn.execute(s.insert().values(
            token=token, user=None, share=share_id,
            expires=now + dt.timedelta(milliseconds=ttl), ip=_clip(caller.ip, 255),
            user_agent=caller.user_agent, origin=_clip(caller.origin, 255)))
    claims = share_claims(row)
    if mode == "session":
        claims["session"] = token
    access_ttl = state.settings.session_ttl_ms if mode == "session" \
        else state.settings.access_ttl_ms
    ensure_rules(cms)
    return Issued(jwt_tokens.sign(claims, state.secret, access_ttl), token, access_ttl)


# -- /shares/info/:pk ---------------------------------------------------------------------------
INFO_FIELDS = ["id", "collection", "item", "password", "max_uses", "times_used", "date_start",
               "date_end"]


def info(cms: Any, pk: str) -> dict[str, Any]:
    """What the share page shows before asking for a password (password concealed); 403 for
    an unknown share or one outside its window, as Directus."""
    share_id = _share_id(pk)
    if share_id is None:
        raise ForbiddenError()
    data = ItemsService(cms, SHARES, None).read_one(share_id, {"fields": INFO_FIELDS})
    start, end, now = as_utc(data.get("date_start")), as_utc(data.get("date_end")), utcnow()
    if (start is not None and start > now) or (end is not None and end < now):
        raise ForbiddenError()
    return data


# -- /shares/invite -----------------------------------------------------------------------------
def invite(cms: Any, accountability: Accountability | None, body: dict[str, Any]) -> None:
    """Mail a link to the share page to each address; the caller must be able to read the
    share (a user's permissions on ``directus_shares``)."""
    if accountability is None or accountability.user is None:
        raise ForbiddenError()
    share_id = _share_id(body.get("share"))
    if share_id is None:
        raise InvalidPayloadError('"share" must be a valid GUID')
    emails = body.get("emails")
    if not isinstance(emails, list) or not emails or \
            not all(isinstance(e, str) and "@" in e for e in emails):
        raise InvalidPayloadError('"emails" must be an array of valid emails')
    share = ItemsService(cms, SHARES, accountability).read_one(share_id, {"fields": ["collection"]})
    link = f"{str(cms.config.get('PUBLIC_URL', '/')).rstrip('/')}/admin/shared/{share_id}"
    for email in emails:
        deliver(cms, EmailMessage(
            to=email.strip(), subject="An item has been shared with you",
            text=f"You have been invited to view an item in {share['collection']}.\n\n"
                 f"Open it: {link}\n",
            html=f'<p>You have been invited to view an item in {share["collection"]}.</p>'
                 f'<p><a href="{link}">Open it</a></p>'))


# -- the caller of a share token ----------------------------------------------------------------
def accountability_for_claims(cms: Any, state: AuthState, claims: dict[str, Any],
                              ip: str | None) -> Accountability | None:
    """The caller of verified share-token claims, or None when they are not a share's."""
    if claims.get("id") is not None or claims.get("share") is None:
        return None
    share_id = _share_id(claims["share"])
    if share_id is None:
        raise InvalidCredentialsError()
    t, s = _table(), state.sessions
    with cms.connect() as conn:
        row = conn.execute(sa.select(t.c.id, t.c.collection, t.c.item, t.c.role,
                                     t.c.user_created).where(t.c.id == share_id)).first()
        session = claims.get("session")
        live = session is None or conn.execute(sa.select(s.c.expires).where(
            s.c.token == str(session), s.c.share == share_id)).scalar()
    if row is None or (session is not None and (
            as_utc(live) is None or as_utc(live) < utcnow())):
        raise InvalidCredentialsError()
    ensure_rules(cms)
    role = str(row.role) if row.role is not None else None
    owner = _owner(cms, row, ip)
    return Accountability(
        role=role, roles=owner.roles if role is not None else (), ip=ip, share=share_id,
        session=str(session) if session is not None else None,
        extra={SCOPE_KEY: {"collection": row.collection, "item": row.item}, OWNER_KEY: owner,
               "jwt_claims": claims})


def _owner(cms: Any, row: Any, ip: str | None) -> Accountability:
    """Whose access the share passes on: its role's, else its creator's, else the public's."""
    if row.role is not None:
        return cms.access.for_user(_NOBODY, str(row.role), ip)
    if row.user_created is not None:
        with cms.connect() as conn:
            users = shared_system_metadata().tables["directus_users"]
            user_role = conn.execute(sa.select(users.c.role).where(
                users.c.id == str(row.user_created))).scalar()
        return cms.access.for_user(str(row.user_created),
                                   str(user_role) if user_role is not None else None, ip)
    return cms.access.public(ip)


def _pk_of(cms: Any, collection: str | None) -> str | None:
    coll = cms.schema.get(collection) if collection else None
    return coll.primary_key if coll is not None else None


#: how many relations away from the shared item a share reaches (Directus follows every
#: relation; a bound keeps one request's walk, one read per collection and level, small)
MAX_DEPTH = 5
#: at most this many keys per collection are followed further
MAX_KEYS = 5000


def _hops(cms: Any, perms: Any, collection: str) -> list[tuple[str, str]]:
    """(collection reached, dotted path to its keys) for each relation of ``collection`` the
    share's owner may follow: the field, the related (and for m2m the far) collection and
    their keys readable by the owner."""
    coll = cms.schema.get(collection)
    here = perms.access(collection, "read")
    out: list[tuple[str, str]] = []
    for name in coll.fields if coll is not None else ():
        rel = cms.schema.relation(collection, name)
        if rel is None or rel.kind in ("a2o", "m2a") or not here.field_allowed(name):
            continue
        related_pk = _pk_of(cms, rel.related)
        there = perms.access(rel.related, "read") if related_pk else None
        if there is None or not there.field_allowed(related_pk):
            continue
        out.append((rel.related, f"{name}.{related_pk}"))
        far_pk = _pk_of(cms, rel.far_collection)
        if rel.kind == "m2m" and rel.junction_field and far_pk and \
                there.field_allowed(rel.junction_field) and \
                perms.access(rel.far_collection, "read").field_allowed(far_pk):
            out.append((rel.far_collection, f"{name}.{rel.junction_field}.{far_pk}"))
    return out


def scope_keys(cms: Any, accountability: Accountability) -> dict[str, set[str]]:
    """Per collection, the keys the share reaches: the item and, breadth first up to
    :data:`MAX_DEPTH` relations away, every item related to one already reached. Each step
    reads as the share's owner, so the owner's permissions (row filters, fields) apply at
    every depth, not only at the end. Read once per request, as the system."""
    cached = accountability.extra.get(_KEYS_KEY)
    if cached is not None:
        return cached
    scope = accountability.extra[SCOPE_KEY]
    owner = accountability.extra[OWNER_KEY]
    root, item = scope["collection"], str(scope["item"])
    perms = cms.access.permissions(owner)
    keys: dict[str, set[str]] = {root: {item}}
    frontier: dict[str, set[str]] = {root: {item}}
    for _depth in range(MAX_DEPTH):
        found: dict[str, set[str]] = {}
        for collection, wanted in frontier.items():
            pk = _pk_of(cms, collection)
            paths = _hops(cms, perms, collection) if pk else []
            if not paths or not perms.access(collection, "read").allowed:
                continue
            try:
                rows = ItemsService(cms, collection, owner, emit_events=False).read_by_query(
                    {"fields": [p for _c, p in paths],
                     "filter": {pk: {"_in": sorted(wanted)[:MAX_KEYS]}}, "limit": -1})
            except ForbiddenError:
                continue
            for target, path in paths:
                found.setdefault(target, set()).update(_collect(rows, path.split(".")))
        frontier = {}
        for collection, reached in found.items():
            new = reached - keys.get(collection, set())
            if new:
                keys.setdefault(collection, set()).update(new)
                frontier[collection] = new
        if not frontier:
            break
    accountability.extra[_KEYS_KEY] = keys
    return keys


def _collect(value: Any, path: list[str]) -> set[str]:
    """Every value at ``path`` in a nested read (lists walked, nulls skipped)."""
    if value is None:
        return set()
    if isinstance(value, list):
        return set().union(*(_collect(v, path) for v in value)) if value else set()
    if not path:
        return {str(value)}
    if not isinstance(value, dict):
        return set()
    return _collect(value.get(path[0]), path[1:])


class ShareRules:
    """``permission_rules`` for share callers: read-only, scoped to the shared item."""

    name = "auth_jwt_shares"

    @hookimpl
    def permission_rules(self, cms: Any, accountability: Any, action: str,
                         collection: str) -> Any:
        if accountability is None or accountability.share is None:
            return None
        deny = Rule(collection, action, allow=False, reason=f"share {accountability.share}")
        owner = accountability.extra.get(OWNER_KEY)
        if action != "read" or owner is None:
            return deny
        keys = scope_keys(cms, accountability).get(collection)
        pk = _pk_of(cms, collection)
        if not keys or pk is None:
            return deny
        inner = cms.access.permissions(owner).access(collection, "read")
        if not inner.allowed:
            return deny
        scoped = {pk: {"_in": sorted(keys)}}
        reason = f"share {accountability.share} of {collection}"
        if inner.full:
            return Rule(collection, "read", filter=scoped, reason=reason)
        return [replace(r, filter={"_and": [r.filter, scoped]} if r.filter else scoped,
                        presets=None, validation=None, reason=f"{reason} ({r.reason})")
                for r in inner.rules]


def ensure_rules(cms: Any) -> None:
    """Register :class:`ShareRules` on this app, once (see the module's docstring)."""
    if cms.pm.get_plugin(ShareRules.name) is not None:
        return
    with _register_lock:
        if cms.pm.get_plugin(ShareRules.name) is None:
            cms.pm.register(ShareRules(), name=ShareRules.name)
