"""The plugin's two tables, webhook validation and event matching, and a cached list of the
active webhooks (so the event listener never queries the database per event)."""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from transom.api import (
    ErrorGroup,
    FailedValidationError,
    ForbiddenError,
    InvalidPayloadError,
    TransomError,
)

log = logging.getLogger("transom.webhooks")

WEBHOOKS = "transom_webhooks"
DELIVERIES = "transom_webhook_deliveries"
TABLES = (WEBHOOKS, DELIVERIES)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
STATUSES = ("active", "inactive")
#: Directus 10's webhook "actions" (create, update, delete) accepted as event shorthands.
SHORTHANDS = {"create": "*.create", "update": "*.update", "delete": "*.delete"}


def metadata() -> sa.MetaData:
    md = sa.MetaData()
    sa.Table(WEBHOOKS, md,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("name", sa.String(255), nullable=False),
             sa.Column("url", sa.Text, nullable=False),
             sa.Column("method", sa.String(10), nullable=False, server_default="POST"),
             sa.Column("events", sa.Text, nullable=False),
             sa.Column("collections", sa.Text),
             sa.Column("filter", sa.Text),
             sa.Column("headers", sa.Text),
             sa.Column("status", sa.String(20), nullable=False, server_default="active"),
             sa.Column("date_created", sa.DateTime),
             sa.Column("date_updated", sa.DateTime))
    sa.Table(DELIVERIES, md,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("webhook", sa.Integer, nullable=False, index=True),
             sa.Column("event", sa.String(255)),
             sa.Column("collection", sa.String(64)),
             sa.Column("url", sa.Text),
             sa.Column("method", sa.String(10)),
             sa.Column("attempt", sa.Integer, nullable=False),
             sa.Column("status", sa.String(20), nullable=False),
             sa.Column("response_status", sa.Integer),
             sa.Column("error", sa.Text),
             sa.Column("duration_ms", sa.Integer),
             sa.Column("timestamp", sa.DateTime, nullable=False))
    return md


_MD = metadata()
WEBHOOKS_TABLE = _MD.tables[WEBHOOKS]
DELIVERIES_TABLE = _MD.tables[DELIVERIES]


def create_tables(conn: sa.Connection, dialect: Any = None) -> None:
    """Migration step: create both tables (idempotent, as a re-run migration must be)."""
    _MD.create_all(conn, checkfirst=True)


def drop_tables(conn: sa.Connection, dialect: Any = None) -> None:
    _MD.drop_all(conn, checkfirst=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def generic_event(event: str) -> str:
    """``posts.items.create`` -> ``items.create`` (the name Directus 10 webhooks sent)."""
    parts = event.split(".")
    if len(parts) >= 3 and parts[-2] == "items":
        return f"items.{parts[-1]}"
    return event


@dataclass(frozen=True)
class Webhook:
    """One stored webhook, parsed."""

    id: int
    name: str
    url: str
    method: str = "POST"
    events: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    filter: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    status: str = "active"
    date_created: Any = None
    date_updated: Any = None

    @classmethod
    def from_row(cls, row: Any) -> Webhook:
        m = row._mapping if hasattr(row, "_mapping") else row
        return cls(
            id=int(m["id"]), name=m["name"], url=m["url"], method=m["method"] or "POST",
            events=tuple(_csv(m["events"])), collections=tuple(_csv(m["collections"])),
            filter=_json(m["filter"]), headers=_json(m["headers"]) or {},
            status=m["status"] or "active", date_created=m["date_created"],
            date_updated=m["date_updated"])

    def matches(self, event: str, collection: str | None) -> bool:
        """Does this webhook want ``event`` on ``collection``? Patterns may use ``*``."""
        if self.status != "active":
            return False
        if self.collections and collection not in self.collections:
            return False
        names = {event, generic_event(event)}
        patterns = [SHORTHANDS.get(p, p) for p in self.events]
        return any(fnmatch.fnmatchcase(n, p) for n in names for p in patterns)

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "url": self.url, "method": self.method,
            "events": list(self.events), "collections": list(self.collections) or None,
            "filter": self.filter, "headers": self.headers, "status": self.status,
            "date_created": _iso(self.date_created), "date_updated": _iso(self.date_updated),
        }


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _csv(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [p.strip() for p in str(value).split(",") if p.strip()]


def _json(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _invalid(field_name: str, kind: str, message: str) -> FailedValidationError:
    return FailedValidationError(field_name, kind,
                                 f'Validation failed for field "{field_name}". {message}.')


def validate(payload: Any, partial: bool = False) -> dict[str, Any]:
    """Column values for an insert (or, with ``partial``, an update) of a webhook."""
    if not isinstance(payload, dict):
        raise InvalidPayloadError("Payload must be an object")
    errors: list[TransomError] = []
    out: dict[str, Any] = {}

    def given(key: str) -> bool:
        return key in payload or not partial

    if given("name"):
        name = payload.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            errors.append(_invalid("name", "required", "Value is required"))
        else:
            out["name"] = name.strip()
    if given("url"):
        url = payload.get("url")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            errors.append(_invalid("url", "url", "Value has to be an http(s) URL"))
        else:
            out["url"] = url
    if "method" in payload or not partial:
        method = str(payload.get("method") or "POST").upper()
        if method not in METHODS:
            errors.append(_invalid("method", "choices", f"Use one of {', '.join(METHODS)}"))
        else:
            out["method"] = method
    if given("events"):
        events = _csv(payload.get("events"))
        if not events:
            errors.append(_invalid("events", "required", "At least one event is required"))
        else:
            out["events"] = ",".join(events)
    if "collections" in payload:
        out["collections"] = ",".join(_csv(payload["collections"])) or None
    if "filter" in payload:
        flt = payload["filter"]
        if isinstance(flt, str):
            flt = _json(flt)
        if flt is not None and not isinstance(flt, dict):
            errors.append(_invalid("filter", "type", "Value has to be a filter object"))
        else:
            out["filter"] = json.dumps(flt) if flt else None
    if "headers" in payload:
        headers = _headers(payload["headers"])
        if headers is None:
            errors.append(_invalid("headers", "type",
                                   'Value has to be an object or a list of {"header", "value"}'))
        else:
            out["headers"] = json.dumps(headers) if headers else None
    if "status" in payload or not partial:
        status = payload.get("status") or "active"
        if status not in STATUSES:
            errors.append(_invalid("status", "choices", "Use active or inactive"))
        else:
            out["status"] = status
    if errors:
        raise ErrorGroup(errors) if len(errors) > 1 else errors[0]
    return out


def _headers(value: Any) -> dict[str, str] | None:
    """Headers as ``{"name": "value"}``, or Directus 10's ``[{"header", "value"}]``."""
    if value is None:
        return {}
    if isinstance(value, str):
        value = _json(value)
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, list):
        out: dict[str, str] = {}
        for item in value:
            if not isinstance(item, dict) or not item.get("header"):
                return None
            out[str(item["header"])] = str(item.get("value", ""))
        return out
    return None


#: messenger topic: the webhooks changed (also published by item writes to directus_webhooks)
TOPIC = "webhooks"


class WebhookStore:
    """Reads and writes the tables; keeps the active webhooks cached for ``ttl`` seconds
    (writes through this store reach every worker and instance at once, through the
    messenger; ``ttl`` only bounds changes made outside Transom).
    """

    def __init__(self, cms: Any, ttl: float = 5.0) -> None:
        self.cms = cms
        self.ttl = ttl
        self._lock = threading.Lock()
        self._active: list[Webhook] | None = None
        self._loaded_at = 0.0
        cms.messenger.subscribe(TOPIC, lambda _payload: self.forget())

    # -- cache --------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Drop the cached list here and in every other worker and instance."""
        self.cms.messenger.publish(TOPIC, {})

    def forget(self) -> None:
        """The messenger's handler: drop this process's cached list."""
        with self._lock:
            self._active = None

    def active(self) -> list[Webhook]:
        with self._lock:
            if self._active is not None and time.monotonic() - self._loaded_at < self.ttl:
                return self._active
        try:
            with self.cms.connect() as conn:
                rows = conn.execute(sa.select(WEBHOOKS_TABLE).where(
                    WEBHOOKS_TABLE.c.status == "active")).all()
            hooks = [Webhook.from_row(r) for r in rows]
        except sa.exc.SQLAlchemyError:
            # not migrated yet (the bootstrap has not run): no webhooks rather than errors
            log.debug("webhooks: table %s is not readable", WEBHOOKS, exc_info=True)
            hooks = []
        with self._lock:
            self._active, self._loaded_at = hooks, time.monotonic()
        return hooks

    # -- CRUD ---------------------------------------------------------------------------
    def list(self) -> list[Webhook]:
        with self.cms.connect() as conn:
            rows = conn.execute(sa.select(WEBHOOKS_TABLE).order_by(WEBHOOKS_TABLE.c.id)).all()
        return [Webhook.from_row(r) for r in rows]

    def get(self, key: Any) -> Webhook:
        """The webhook, or 403 when the key is malformed or missing (as Directus answers)."""
        try:
            pk = int(key)
        except (TypeError, ValueError):
            raise ForbiddenError() from None
        with self.cms.connect() as conn:
            row = conn.execute(sa.select(WEBHOOKS_TABLE).where(
                WEBHOOKS_TABLE.c.id == pk)).first()
        if row is None:
            raise ForbiddenError()
        return Webhook.from_row(row)

    def create(self, payload: Any) -> Webhook:
        values = validate(payload)
        now = _now()
        with self.cms.begin() as conn:
            result = conn.execute(WEBHOOKS_TABLE.insert().values(
                **values, date_created=now, date_updated=now))
            pk = result.inserted_primary_key[0] if result.inserted_primary_key else None
            if pk is None:  # pragma: no cover - drivers without lastrowid
                pk = conn.execute(sa.select(sa.func.max(WEBHOOKS_TABLE.c.id))).scalar_one()
        self.invalidate()
        return self.get(pk)

    def update(self, key: Any, payload: Any) -> Webhook:
        hook = self.get(key)
        values = validate(payload, partial=True)
        if values:
            with self.cms.begin() as conn:
                conn.execute(WEBHOOKS_TABLE.update().where(WEBHOOKS_TABLE.c.id == hook.id)
                             .values(**values, date_updated=_now()))
        self.invalidate()
        return self.get(hook.id)

    def delete(self, key: Any) -> None:
        hook = self.get(key)
        with self.cms.begin() as conn:
            conn.execute(DELIVERIES_TABLE.delete().where(DELIVERIES_TABLE.c.webhook == hook.id))
            conn.execute(WEBHOOKS_TABLE.delete().where(WEBHOOKS_TABLE.c.id == hook.id))
        self.invalidate()

    # -- the delivery log ---------------------------------------------------------------
    def log_delivery(self, webhook: Webhook, event: str, collection: str | None, attempt: int,
                     status: str, response_status: int | None = None,
                     error: str | None = None, duration_ms: int | None = None) -> None:
        """One row per attempt; a failure to write it is logged, never raised."""
        try:
            with self.cms.begin() as conn:
                conn.execute(DELIVERIES_TABLE.insert().values(
                    webhook=webhook.id, event=event[:255], collection=collection,
                    url=webhook.url, method=webhook.method, attempt=attempt, status=status,
                    response_status=response_status, error=(error or None) and error[:2000],
                    duration_ms=duration_ms, timestamp=_now()))
        except sa.exc.SQLAlchemyError:
            log.warning("webhooks: could not log a delivery of %s", webhook.name,
                        exc_info=True)

    def deliveries(self, key: Any, limit: int = 100) -> list[dict[str, Any]]:
        hook = self.get(key)
        t = DELIVERIES_TABLE
        with self.cms.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.webhook == hook.id)
                                .order_by(t.c.id.desc()).limit(limit)).mappings().all()
        return [{k: _iso(v) for k, v in r.items()} for r in rows]
