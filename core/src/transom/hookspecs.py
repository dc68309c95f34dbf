"""Every core hook specification: the whole contract between the kernel and plugins.

Hooks are called with keyword arguments. ``register_*`` hooks return objects (or lists of
them) that the kernel collects and checks; ``*_from_request`` hooks resolve one answer and stop
at the first non-None result; lifecycle hooks are bare verbs. An implementation may accept
fewer arguments than the spec, so new arguments can be added without breaking plugins.
``cms`` is always the :class:`transom.kernel.Transom` of the app.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("transom")


@hookspec(historic=True)
def add_hookspecs(pm: pluggy.PluginManager) -> None:
    """Let a plugin add a module of its own hook specs (``pm.add_hookspecs(module)``).

    Historic: plugins registered later still receive the call.
    """


@hookspec
def register_settings() -> Any:
    """Declare configuration variables.

    :return: a :class:`transom.config.Setting` or a list of them; a name declared twice with
        different meanings is a start-up error.
    """


@hookspec
def register_dialects() -> Any:
    """Contribute database dialects.

    :return: a :class:`transom.dialects.Dialect` subclass or a list of them. The kernel picks
        the one whose ``db_clients`` holds ``DB_CLIENT`` or whose ``url_schemes`` holds the
        scheme of ``DB_URL``; two dialects claiming one name is a start-up error.
    """


@hookspec
def prepare_connection(cms: Any, connection: Any, dialect: Any) -> None:
    """Set up each new DBAPI connection (pragmas, session variables, SQL functions).

    :param connection: the raw DBAPI connection, just opened.
    :param dialect: the active :class:`transom.dialects.Dialect` instance.
    """


@hookspec
def extend_schema(cms: Any, schema: Any) -> Any:
    """Lay metadata over the introspected schema before the snapshot is frozen.

    :param schema: the :class:`transom.schema.raw.RawSchema` read from the database, with the
        rows of ``directus_collections``, ``directus_fields`` and ``directus_relations``.
    :return: None, or a dict with any of the keys ``collections``, ``fields``, ``relations``,
        each a list of metadata rows in Directus's shape, merged over the stored ones.
    """


@hookspec
def register_migrations(cms: Any) -> Any:
    """Contribute versioned migrations of a plugin's own tables.

    :return: :class:`transom.system.migrations.Migration` objects; their versions must be
        unique and are recorded in ``directus_migrations``.
    """


@hookspec
def register_blueprints(cms: Any) -> Any:
    """Contribute HTTP endpoints.

    :return: a Flask ``Blueprint``, a ``(Blueprint, url_prefix)`` tuple, or a list of them,
        registered after the core routes; a clashing blueprint name is a start-up error.
    """


@hookspec
def init_app(cms: Any, app: Any) -> None:
    """Set up Flask extensions and request hooks on the app (``app.extensions[...]``)."""


@hookspec(firstresult=True)
def accountability_from_request(cms: Any, request: Any) -> Any:
    """Resolve who is calling.

    :return: a :class:`transom.accountability.Accountability`, or None to let the next plugin
        try; raising a :class:`transom.errors.TransomError` (bad token) ends the chain.
        The kernel falls back to the public (anonymous) accountability.

    Stops at first non-None result.
    """


@hookspec
def register_auth_providers(cms: Any) -> Any:
    """Contribute login providers that verify identity (local password, LDAP, OAuth...).

    :return: :class:`transom.auth.providers.AuthProvider` objects keyed by their ``name``.
    """


@hookspec
def permission_rules(cms: Any, accountability: Any, action: str, collection: str) -> Any:
    """Add permission rules beyond the ``directus_permissions`` rows of the caller's policies.

    :param action: ``create``, ``read``, ``update``, ``delete`` or ``share``.
    :return: None, a :class:`transom.permissions.Rule` or a list of them. Allows are OR-ed with
        the stored rules; a rule with ``allow=False`` denies whatever else allows.
    """


@hookspec
def register_filters(cms: Any) -> Any:
    """Contribute blocking event handlers that run before a change, inside its transaction.

    :return: :class:`transom.events.Filter` objects. A handler gets ``(payload, meta,
        context)`` and returns the (possibly changed) payload, or raises to cancel the change.
    """


@hookspec
def register_listeners(cms: Any) -> Any:
    """Contribute handlers that run after a change has been committed.

    :return: :class:`transom.events.Listener` objects. A handler gets ``(meta, context)``;
        its errors are logged and never reach the client; rolled-back changes fire nothing.
    """


@hookspec
def register_schedules(cms: Any) -> Any:
    """Contribute jobs run on cron expressions (Directus's ``schedule`` hooks).

    :return: :class:`transom.events.Schedule` objects. ``cron`` has 5 fields, or 6 with
        seconds first; an invalid expression is a start-up error. A handler gets one
        :class:`transom.events.EventContext` (``context.cms``; ``context.extra`` holds
        ``schedule`` and ``time``); its errors are logged. One scheduler thread per app runs
        the jobs, started on ``startup`` (not under ``TESTING`` unless ``SCHEDULER=true``;
        never when ``SCHEDULER=false``) and stopped on ``shutdown``.
    """


@hookspec
def register_message_transports(cms: Any, namespace: str, resync: Any) -> Any:
    """Offer ways for the messenger to reach other instances (see docs/coherence.md).

    :param namespace: ``MESSENGER_NAMESPACE``; prefix channel names with it.
    :param resync: call ``resync(reason)`` after a reconnect, when messages may be lost.
    :return: a :class:`transom.messenger.Transport` (with a ``name`` that
        ``MESSENGER_STORE`` can choose, e.g. ``postgres``) or a list of them, or None. Only
        the chosen transports are started; offering one must not open connections.
    """


@hookspec
def register_health_checks(cms: Any) -> Any:
    """Contribute checks reported by ``/server/health``.

    :return: :class:`transom.health.HealthCheck` objects; a failing ``required`` check makes
        the report ``error`` (503).
    """


@hookspec(firstresult=True)
def send_email(cms: Any, message: Any) -> Any:
    """Deliver an email (password reset, invitation).

    :param message: a :class:`transom.mail.EmailMessage`.
    :return: True once delivered (or queued).

    Stops at first non-None result.
    """


@hookspec
def startup(cms: Any) -> None:
    """Run once the schema and registries are built, before the first request."""


@hookspec
def shutdown(cms: Any) -> None:
    """Run when the app is closed: release pools, stop threads."""


@hookspec
def register_commands(cli: Any) -> None:
    """Attach click commands to the ``transom`` command group."""


@hookspec(firstresult=True)
def handle_exception(cms: Any, request: Any, exception: BaseException) -> Any:
    """Turn an exception into a response before the default error handler does.

    :return: a Flask response, or None for the default Directus-style envelope.

    Stops at first non-None result.
    """
