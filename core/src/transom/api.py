"""``transom.api``: the small, documented surface for extension code.

Plugins and drop-in extensions (``EXTENSIONS_PATH``) import from here and nowhere else; what
this module exports keeps working across minor releases, everything else in ``transom`` is
internal. It gives:

* ``hookimpl`` and the objects hooks return: :class:`Filter`, :class:`Listener`,
  :class:`Schedule`, :class:`Setting`, :class:`Migration`;
* the services, each taking the kernel and an accountability (``None``: act as the system,
  with no permission checks): :class:`ItemsService`, :class:`UsersService`,
  :class:`CollectionsService`, :class:`FieldsService`, :class:`RelationsService`;
* :class:`ExtensionContext`, which bundles what an extension needs (services bound to a
  caller, the schema snapshot, settings, the database, a logger, the event emitter) and is
  built from a request (:func:`current_context`), from a hook's
  :class:`EventContext` (:meth:`ExtensionContext.from_event`) or from the kernel;
* the errors a handler raises to answer the client (``InvalidPayloadError`` cancels a write
  with a 400, ``ForbiddenError`` with a 403...);
* every type a hook spec (:mod:`transom.hookspecs`) receives or returns: the kernel
  :class:`Transom` (``cms``), :class:`RawSchema`, :class:`Dialect`, :class:`Rule`,
  :class:`AuthProvider`, :class:`HealthCheck`, :class:`EmailMessage`, :class:`Transport`,
  :class:`RequestStep` (``register_request_steps``)...;
* per-app plugin state: ``cms.state(key, factory)`` (a method of :class:`Transom`, thread-safe
  get-or-create), the one home for what a plugin keeps per app;
* request helpers for views: :func:`current_cms`, :func:`get_accountability`,
  :func:`client_ip`, :func:`json_response`, :func:`request_json`, :func:`no_content`,
  :func:`dumps`, :func:`render_error`;
* building blocks first-party plugins share: the schema model (:class:`SchemaSnapshot`,
  :class:`Collection`, :class:`Field`), query parsing (:func:`parse_query_dict`,
  :func:`has_dynamic_variables`), passwords and tokens (:func:`hash_password`,
  :func:`verify_password`, :func:`extract_token`, :func:`looks_like_jwt`,
  :func:`find_user`, ``DEFAULT_PROVIDER``), :func:`system_metadata`,
  :func:`shared_system_metadata` (the process's read-only copy, for reading and writing
  rows) and :func:`flatten` (hook results where each plugin returns one object or a list).

First-party plugins (``plugins/*``, the examples and ``_template``) import ``transom.api``
only; ``tests/test_architecture.py`` and the ``plugins-use-the-api`` import-linter contract
enforce it. Dialect packages may also import the dialect SPI: ``transom.dialects``,
``transom.schema.raw``, ``transom.messenger`` (see docs/writing-plugins.md).

Example, an endpoint that sums ``count`` over the caller's ``page_visits``::

    from flask import Blueprint
    from transom.api import current_context, hookimpl

    bp = Blueprint("visits", __name__)

    @bp.get("/stats/visits")
    def visits():
        items = current_context().services.items("page_visits").read_by_query(
            {"fields": ["count"], "limit": -1})
        return {"data": {"total": sum(i["count"] or 0 for i in items)}}

    @hookimpl
    def register_blueprints(cms):
        return bp
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from . import __version__, hookimpl
from .accountability import SYSTEM_ADMIN, Accountability
from .auth.passwords import hash_password, verify_password
from .auth.providers import DEFAULT_PROVIDER, AuthProvider, find_user
from .auth.tokens import extract_token, looks_like_jwt
from .compiler.validation import validate_payload
from .config import Setting
from .dialects import Dialect
from .errors import (
    ContentTooLargeError,
    ErrorGroup,
    FailedValidationError,
    ForbiddenError,
    InvalidCredentialsError,
    InvalidOtpError,
    InvalidPayloadError,
    InvalidQueryError,
    InvalidTokenError,
    MethodNotAllowedError,
    RequestsExceededError,
    RouteNotFoundError,
    ServiceUnavailableError,
    StartupError,
    TokenExpiredError,
    TransomError,
    UnprocessableContentError,
    UnsupportedMediaTypeError,
    UserSuspendedError,
)
from .events import EventContext, Filter, Listener, Schedule
from .health import HealthCheck
from .http import crud as item_routes
from .http.context import client_ip, current_cms, get_accountability
from .http.errors import render_error
from .http.multipart import multipart_events
from .http.pipeline import RequestStep
from .http.responses import dumps, json_response, no_content, request_json
from .kernel import Transom
from .locks import claim
from .mail import EmailMessage
from .messenger import Transport
from .netguard import ip_listed
from .permissions.rules import Rule
from .plugins import flatten
from .query import Query, has_dynamic_variables, parse_query_dict
from .query.model import limit_settings
from .ratelimit import connect_redis, limiter_key_prefix, limiter_redis_url, safe_url
from .schedule import croniter_expression, next_time, scheduler_enabled
from .schema.build import parse_json
from .schema.model import Collection, Field, SchemaSnapshot
from .schema.raw import RawSchema
from .schema.types import FieldType, field_type, field_types
from .services.items import ItemsService
from .services.revisions import revert as revert_revision
from .services.schema import CollectionsService, FieldsService, RelationsService
from .services.users import UsersService
from .storage import LocalStorage, Storage, StorageFactory, StoredObject, safe_key, storages
from .system.migrations import Migration
from .system.tables import shared_system_metadata, system_metadata

if TYPE_CHECKING:
    import sqlalchemy as sa


__all__ = [
    "__version__",
    "hookimpl",
    "Accountability",
    "SYSTEM_ADMIN",
    "EventContext",
    "Filter",
    "Listener",
    "Schedule",
    "Setting",
    "Migration",
    "Query",
    "limit_settings",
    "FieldType",
    "field_type",
    "field_types",
    "ItemsService",
    "UsersService",
    "CollectionsService",
    "FieldsService",
    "RelationsService",
    "Services",
    "ExtensionContext",
    "Context",
    "current_context",
    "TransomError",
    "ForbiddenError",
    "InvalidPayloadError",
    "InvalidQueryError",
    "InvalidCredentialsError",
    "FailedValidationError",
    "UnprocessableContentError",
    "ServiceUnavailableError",
    "StartupError",
    "ErrorGroup",
    "InvalidOtpError",
    "InvalidTokenError",
    "TokenExpiredError",
    "UserSuspendedError",
    "MethodNotAllowedError",
    "RequestsExceededError",
    "RouteNotFoundError",
    "ContentTooLargeError",
    "UnsupportedMediaTypeError",
    # file storage (``register_storage``)
    "Storage",
    "StorageFactory",
    "StoredObject",
    "LocalStorage",
    "safe_key",
    "storages",
    # the /items route handlers, for collections served under their own path (/files)
    "item_routes",
    # the types of the hook contract
    "Transom",
    "RawSchema",
    "Dialect",
    "Rule",
    "AuthProvider",
    "HealthCheck",
    "EmailMessage",
    "Transport",
    "RequestStep",
    # request helpers
    "current_cms",
    "get_accountability",
    "client_ip",
    "json_response",
    "parse_json",
    "request_json",
    "no_content",
    "dumps",
    "render_error",
    # shared building blocks
    "SchemaSnapshot",
    "Collection",
    "Field",
    "parse_query_dict",
    "has_dynamic_variables",
    "hash_password",
    "validate_payload",
    "verify_password",
    "extract_token",
    "looks_like_jwt",
    "find_user",
    "revert_revision",
    "DEFAULT_PROVIDER",
    "shared_system_metadata",
    "system_metadata",
    "flatten",
    # a streamed multipart/form-data body, as events (uploads of any plugin)
    "multipart_events",
    # once per deployment: claim a run (a cron tick) for every worker and instance
    "claim",
    # cron expressions as Directus writes them, and the kernel's rule for running cron jobs
    "croniter_expression",
    "next_time",
    "scheduler_enabled",
    # the limiters' shared store (RATE_LIMITER_STORE=redis), for counters of other plugins
    "limiter_redis_url",
    "limiter_key_prefix",
    "connect_redis",
    "safe_url",
    # IMPORT_IP_DENY_LIST's rule, for outbound requests made on a caller's behalf
    "ip_listed",
]

#: The logger extension code writes to (a child per extension: ``logger.getChild(name)``).
logger = logging.getLogger("transom.extensions")


class Services:
    """Services bound to one caller and, optionally, to one open transaction.

    Directus's ``context.services`` for Python: ``ctx.services.items("articles")`` is
    ``ItemsService(cms, "articles", accountability)``. With a connection (inside a filter
    hook or :meth:`ExtensionContext.transaction`) every service joins that transaction.
    """

    ItemsService = ItemsService
    UsersService = UsersService
    CollectionsService = CollectionsService
    FieldsService = FieldsService
    RelationsService = RelationsService

    def __init__(self, cms: Transom, accountability: Accountability | None = None,
                 connection: sa.Connection | None = None) -> None:
        self.cms = cms
        self.accountability = accountability
        self.connection = connection

    def items(self, collection: str, *, emit_events: bool = True) -> ItemsService:
        return ItemsService(self.cms, collection, self.accountability, self.connection,
                            emit_events=emit_events)

    def users(self, *, emit_events: bool = True) -> UsersService:
        return UsersService(self.cms, self.accountability, self.connection,
                            emit_events=emit_events)

    def collections(self) -> CollectionsService:
        return CollectionsService(self.cms, self.accountability)

    def fields(self) -> FieldsService:
        return FieldsService(self.cms, self.accountability)

    def relations(self) -> RelationsService:
        return RelationsService(self.cms, self.accountability)


@dataclass(frozen=True)
class ExtensionContext:
    """What extension code works with: one kernel, one caller, maybe one transaction.

    :param cms: the app's kernel (``app.extensions["transom"]``).
    :param accountability: the caller; ``None`` acts as the system (no permission checks).
    :param connection: an open transaction that services should join.
    """

    cms: Transom
    accountability: Accountability | None = None
    connection: sa.Connection | None = None

    # -- building one -------------------------------------------------------------------
    @classmethod
    def from_event(cls, context: EventContext) -> ExtensionContext:
        """Inside a filter, listener or schedule handler: same caller, same transaction."""
        return cls(context.cms, context.accountability, context.connection)

    @classmethod
    def for_request(cls) -> ExtensionContext:
        """Inside a Flask view: the current app's kernel and the request's caller."""
        return cls(current_cms(), get_accountability())

    @classmethod
    def for_app(cls, app: Any) -> ExtensionContext:
        """From a Flask app made by ``create_app`` (scripts, CLI commands): the system."""
        return cls(app.extensions["transom"], None)

    def as_admin(self) -> ExtensionContext:
        """The same context acting as the system: no permission checks (use with care)."""
        return replace(self, accountability=None)

    def as_user(self, accountability: Accountability | None) -> ExtensionContext:
        return replace(self, accountability=accountability)

    # -- what it offers -----------------------------------------------------------------
    @property
    def services(self) -> Services:
        return Services(self.cms, self.accountability, self.connection)

    @property
    def schema(self) -> SchemaSnapshot:
        """The current schema snapshot (read it once per operation)."""
        return self.cms.schema

    @property
    def config(self) -> Any:
        """Declared settings and the environment (``ctx.config.get("MY_PLUGIN_URL")``)."""
        return self.cms.config

    @property
    def logger(self) -> logging.Logger:
        return logger

    @property
    def database(self) -> sa.Engine:
        """The SQLAlchemy engine; prefer services, which apply permissions and hooks."""
        return self.cms.engine

    def settings(self) -> dict[str, Any]:
        """The project settings (the ``directus_settings`` singleton), read as the system."""
        return ItemsService(self.cms, "directus_settings", None, self.connection,
                            emit_events=False).read_singleton()

    @contextmanager
    def transaction(self) -> Iterator[ExtensionContext]:
        """A context whose services share one transaction, committed when the block ends
        and rolled back if it raises."""
        if self.connection is not None:
            yield self
            return
        with self.cms.begin() as conn:
            yield replace(self, connection=conn)

    def emit(self, event: str, meta: dict[str, Any] | None = None) -> None:
        """Fire a custom action event (listeners run after the fact, errors are logged)."""
        self.cms.emit_action(event, dict(meta or {}), self.accountability)

    def emit_filter(self, event: str, payload: Any, meta: dict[str, Any] | None = None) -> Any:
        """Run the filters registered for a custom event; return the final payload."""
        context = EventContext(self.accountability, self.connection, self.cms.schema,
                               self.cms)
        return self.cms.events.filter([event], payload, dict(meta or {}), context)


#: Short alias used in the docs.
Context = ExtensionContext


def current_context() -> ExtensionContext:
    """The context of the current request (inside a Flask view of a Transom app)."""
    return ExtensionContext.for_request()
