"""Every core hook specification: the whole contract between the kernel and plugins.

Hooks are called with keyword arguments. ``register_*`` hooks return objects (or lists of
them) that the kernel collects and checks; ``*_from_request`` hooks resolve one answer and stop
at the first non-None result; lifecycle hooks are bare verbs. An implementation may accept
fewer arguments than the spec, so new arguments can be added without breaking plugins.
``cms`` is always the :class:`transom.kernel.Transom` of the app.

The annotations are the typed contract: every type a hook receives or returns (beyond
Flask, click, pluggy and the DBAPI) is exported from :mod:`transom.api`. They are imported
for type checking only, so this module stays at the bottom of the layers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click
    from flask import Blueprint, Flask, Request
    from flask.typing import ResponseReturnValue

    from .accountability import Accountability
    from .auth.providers import AuthProvider
    from .config import Setting
    from .dialects import Dialect
    from .events import Filter, Listener, Schedule
    from .health import HealthCheck
    from .http.pipeline import RequestStep
    from .kernel import Transom
    from .mail import EmailMessage
    from .messenger import Transport
    from .permissions.rules import Rule
    from .schema.raw import RawSchema
    from .schema.types import FieldType
    from .storage import StorageFactory
    from .system.migrations import Migration

    #: what ``extend_schema`` returns: metadata rows by kind (``collections``, ...)
    SchemaOverlay = dict[str, list[dict[str, Any]]]
    #: one blueprint, or one with its url prefix
    BlueprintItem = Blueprint | tuple[Blueprint, str | None]

hookspec = pluggy.HookspecMarker("transom")


@hookspec(historic=True)
def add_hookspecs(pm: pluggy.PluginManager) -> None:
    """Let a plugin add a module of its own hook specs (``pm.add_hookspecs(module)``).

    Historic: plugins registered later still receive the call.
    """


@hookspec
def register_settings() -> Setting | list[Setting] | None:
    """Declare configuration variables.

    :return: a :class:`transom.config.Setting` or a list of them; a name declared twice with
        different meanings is a start-up error.
    """


@hookspec
def register_dialects() -> type[Dialect] | list[type[Dialect]] | None:
    """Contribute database dialects.

    :return: a :class:`transom.dialects.Dialect` subclass or a list of them. The kernel picks
        the one whose ``db_clients`` holds ``DB_CLIENT`` or whose ``url_schemes`` holds the
        scheme of ``DB_URL``; two dialects claiming one name is a start-up error.
    """


@hookspec
def prepare_connection(cms: Transom, connection: Any, dialect: Dialect) -> None:
    """Set up each new DBAPI connection (pragmas, session variables, SQL functions).

    :param connection: the raw DBAPI connection, just opened.
    :param dialect: the active :class:`transom.dialects.Dialect` instance.
    """


@hookspec
def extend_schema(cms: Transom, schema: RawSchema) -> SchemaOverlay | None:
    """Lay metadata over the introspected schema before the snapshot is frozen.

    :param schema: the :class:`transom.schema.raw.RawSchema` read from the database, with the
        rows of ``directus_collections``, ``directus_fields`` and ``directus_relations``.
    :return: None, or a dict with any of the keys ``collections``, ``fields``, ``relations``,
        each a list of metadata rows in Directus's shape, merged over the stored ones.
    """


@hookspec
def register_field_types(cms: Transom) -> FieldType | list[FieldType] | None:
    """Contribute field types: storage, conversion, validation, filters, GraphQL and OpenAPI.

    :return: a :class:`transom.api.FieldType` or a list of them. Core's types (``string``,
        ``integer``, ``json``...) come from a default plugin of this hook and keep their
        built-in handling; a plugin's type is created over REST with its ``name`` as
        ``type`` and recorded in ``directus_fields.special``. Two plugins giving one name,
        or redefining a core type, is a start-up error.
    """


@hookspec
def register_storage(cms: Transom) -> dict[str, StorageFactory] | None:
    """Contribute storage drivers for file content (``STORAGE_<LOC>_DRIVER`` picks one).

    :return: a dict of driver name (``s3``, ``gcs``...) to a factory ``(location, options)``
        returning a :class:`transom.api.Storage`; ``options`` are the location's
        ``STORAGE_<LOC>_*`` settings, prefix removed and lower-cased. ``local`` is built in.
    """


@hookspec
def register_migrations(cms: Transom) -> Migration | list[Migration] | None:
    """Contribute versioned migrations of a plugin's own tables.

    :return: :class:`transom.system.migrations.Migration` objects; their versions must be
        unique and are recorded in ``directus_migrations``.
    """


@hookspec
def register_blueprints(cms: Transom) -> BlueprintItem | list[BlueprintItem] | None:
    """Contribute HTTP endpoints.

    :return: a Flask ``Blueprint``, a ``(Blueprint, url_prefix)`` tuple, or a list of them,
        registered after the core routes; a clashing blueprint name is a start-up error.
    """


@hookspec
def init_app(cms: Transom, app: Flask) -> None:
    """Set up Flask extensions on the app; keep per-app state with ``cms.state(key, factory)``.

    Request steps that must run before authentication and every route (ids, preflights,
    limits) are ``register_request_steps``, not ``before_request`` functions added here.
    """


@hookspec
def register_request_steps(cms: Transom) -> RequestStep | list[RequestStep] | None:
    """Contribute named steps to the front of the request pipeline.

    :return: a :class:`transom.api.RequestStep` or a list of them, or None. A step has a
        ``name``, a ``before`` (called before authentication and the route; a response it
        returns answers the request) and/or an ``after`` (given the response, returns it),
        and declares its order: ``requires`` (steps that must exist and run first),
        ``runs_after`` and ``runs_before`` (honoured when those steps exist). The kernel
        sorts the steps by these declarations (ties: plugin registration order) and
        installs them once, after ``init_app``: only the messenger's sync runs before them,
        and ``after`` functions run last, in reverse order. Core's steps are
        ``request_id``, ``cors_preflight`` and ``rate_limit``, in that order. Two steps
        with one name, a missing required step or a cycle is a start-up error naming the
        steps.
    """


@hookspec(firstresult=True)
def accountability_from_request(cms: Transom, request: Request) -> Accountability | None:
    """Resolve who is calling.

    :return: a :class:`transom.accountability.Accountability`, or None to let the next plugin
        try; raising a :class:`transom.errors.TransomError` (bad token) ends the chain.
        The kernel falls back to the public (anonymous) accountability.

    Stops at first non-None result.
    """


@hookspec
def register_auth_providers(cms: Transom) -> AuthProvider | list[AuthProvider] | None:
    """Contribute login providers that verify identity (local password, LDAP, OAuth...).

    :return: :class:`transom.auth.providers.AuthProvider` objects keyed by their ``name``.
    """


@hookspec
def permission_rules(cms: Transom, accountability: Accountability, action: str,
                     collection: str) -> Rule | list[Rule] | None:
    """Add permission rules beyond the ``directus_permissions`` rows of the caller's policies.

    :param action: ``create``, ``read``, ``update``, ``delete`` or ``share``.
    :return: None, a :class:`transom.permissions.Rule` or a list of them. Allows are OR-ed with
        the stored rules; a rule with ``allow=False`` denies whatever else allows.
    """


@hookspec
def register_filters(cms: Transom) -> Filter | list[Filter] | None:
    """Contribute blocking event handlers that run before a change, inside its transaction.

    :return: :class:`transom.events.Filter` objects. A handler gets ``(payload, meta,
        context)`` and returns the (possibly changed) payload, or raises to cancel the change.
    """


@hookspec
def register_listeners(cms: Transom) -> Listener | list[Listener] | None:
    """Contribute handlers that run after a change has been committed.

    :return: :class:`transom.events.Listener` objects. A handler gets ``(meta, context)``;
        its errors are logged and never reach the client; rolled-back changes fire nothing.
    """


@hookspec
def register_schedules(cms: Transom) -> Schedule | list[Schedule] | None:
    """Contribute jobs run on cron expressions (Directus's ``schedule`` hooks).

    :return: :class:`transom.events.Schedule` objects. ``cron`` has 5 fields, or 6 with
        seconds first; an invalid expression is a start-up error. A handler gets one
        :class:`transom.events.EventContext` (``context.cms``; ``context.extra`` holds
        ``schedule`` and ``time``); its errors are logged. One scheduler thread per app runs
        the jobs, started on ``startup`` (not under ``TESTING`` unless ``SCHEDULER=true``;
        never when ``SCHEDULER=false``) and stopped on ``shutdown``.
    """


@hookspec
def register_message_transports(cms: Transom, namespace: str, resync: Callable[[str], None]
                                ) -> Transport | list[Transport] | None:
    """Offer ways for the messenger to reach other instances (see docs/coherence.md).

    :param namespace: ``MESSENGER_NAMESPACE``; prefix channel names with it.
    :param resync: call ``resync(reason)`` after a reconnect, when messages may be lost.
    :return: a :class:`transom.messenger.Transport` (with a ``name`` that
        ``MESSENGER_STORE`` can choose, e.g. ``postgres``) or a list of them, or None. Only
        the chosen transports are started; offering one must not open connections.
    """


@hookspec
def register_health_checks(cms: Transom) -> HealthCheck | list[HealthCheck] | None:
    """Contribute checks reported by ``/server/health``.

    :return: :class:`transom.health.HealthCheck` objects; a failing ``required`` check makes
        the report ``error`` (503).
    """


@hookspec(firstresult=True)
def send_email(cms: Transom, message: EmailMessage) -> bool | None:
    """Deliver an email (password reset, invitation).

    :param message: a :class:`transom.mail.EmailMessage`.
    :return: True once delivered (or queued).

    Stops at first non-None result.
    """


@hookspec
def startup(cms: Transom) -> None:
    """Run once the schema and registries are built, before the first request."""


@hookspec
def shutdown(cms: Transom) -> None:
    """Run when the app is closed: release pools, stop threads."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Attach click commands to the ``transom`` command group."""


@hookspec(firstresult=True)
def handle_exception(cms: Transom, request: Request, exception: BaseException
                     ) -> ResponseReturnValue | None:
    """Turn an exception into a response before the default error handler does.

    :return: a Flask response, or None for the default Directus-style envelope.

    Stops at first non-None result.
    """
