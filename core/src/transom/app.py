"""``create_app``: the only way to get a Transom app."""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask, request
from sqlalchemy.exc import DBAPIError
from werkzeug.routing import BaseConverter

from .config import Config
from .errors import StartupError
from .http.errors import install_error_handlers
from .http.front_limits import DEFAULT_MAX_HEADERS_SIZE, DEFAULT_MAX_URL_LENGTH, FrontLimits
from .http.pipeline import install_request_steps
from .kernel import Transom
from .lazy_rules import LazyBuildRule
from .logs import configure_logging
from .plugins import flatten, make_plugin_manager
from .replicas import ReplicaFailed, client_key, primary_only
from .services.items import item_exists

log = logging.getLogger("transom")


def _register_blueprints(app: Flask, cms: Transom) -> None:
    for item in flatten(cms.hook.register_blueprints(cms=cms)):
        bp, prefix = (item if isinstance(item, tuple) else (item, None))
        if not isinstance(bp, Blueprint):
            raise StartupError(f"register_blueprints returned {bp!r}, not a Flask Blueprint")
        if bp.name in app.blueprints:
            raise StartupError(f"Two plugins register a blueprint named {bp.name!r}.")
        app.register_blueprint(bp, url_prefix=prefix)


def create_app(
    config: Mapping[str, Any] | None = None,
    plugins: list[Any] | None = None,
    load_entrypoints: bool = True,
    env_file: str | None = ".env",
    start: bool = True,
) -> Flask:
    """Build a Flask app with its own plugin manager, database engine and schema.

    :param config: settings that override the environment and ``.env``.
    :param plugins: extra plugin modules or objects to register (tests, embedding).
    :param load_entrypoints: load the ``transom.plugins`` entry points (False in tests that
        want an exact plugin set).
    :param env_file: the ``.env`` file to read (None: none).
    :param start: run :func:`start_app` (False: the caller runs it later, in the process
        that serves, e.g. a gunicorn worker forked from the process that built the app).
    """
    cfg = Config.load(config, env_file=env_file)
    configure_logging(cfg)  # first, so plugin loading already logs in the chosen style
    pm, info = make_plugin_manager(cfg, plugins, load_entrypoints)
    cms = Transom(cfg, pm, info)
    cms.item_exists = functools.partial(item_exists, cms)
    app = TransomFlask("transom")
    app.config["MAX_CONTENT_LENGTH"] = _size_bytes(cfg.get("MAX_PAYLOAD_SIZE", "1mb"))
    app.config["TESTING"] = bool(cfg.get("TESTING"))
    app.url_map.strict_slashes = False
    app.url_map.converters["any_path"] = _AnyPath
    app.extensions["transom"] = cms
    cms.app = app

    @app.after_request
    def _directus_headers(resp: Any) -> Any:
        # one pass over the header list (``setdefault`` scans it and raises KeyError twice)
        headers = resp.headers
        present = {key.lower() for key, _ in headers.items()}
        if "x-powered-by" not in present:
            headers.add("X-Powered-By", "Transom")
        if "vary" not in present:
            headers.add("Vary", "Origin, Cache-Control")
        return resp

    install_error_handlers(app)
    app.wsgi_app = FrontLimits(  # type: ignore[method-assign]
        app.wsgi_app, int(cfg.get("MAX_URL_LENGTH", DEFAULT_MAX_URL_LENGTH)),
        int(cfg.get("MAX_HEADERS_SIZE", DEFAULT_MAX_HEADERS_SIZE)))
    _register_blueprints(app, cms)
    cms.hook.init_app(cms=cms, app=app)
    install_request_steps(app, cms)  # the front of the pipeline, in declared order
    # First of all: what another worker changed is honoured before this request is read.
    app.before_request_funcs.setdefault(None, []).insert(0, _sync_hook(cms))
    _retry_stale_views(app, cms)
    cms.refresh_schema()
    if start:
        start_app(app)
    return app


def start_app(app: Flask) -> None:
    """What must run in the process that serves, never before a fork: the messenger's
    listeners, the ``startup`` hooks (schedulers, pollers, ``server.start``) and the schema
    watcher all start threads, and a forked child has none of its parent's threads."""
    cms: Transom = app.extensions["transom"]
    cms.messenger.start()
    cms.hook.startup(cms=cms)
    if not cms.config.get("TESTING"):
        cms.watch_schema()


class TransomFlask(Flask):
    """Flask, with :meth:`ensure_sync` remembered per function: Flask asks it of every
    before/after-request function and view on every request, and each answer costs an
    ``inspect.iscoroutinefunction`` (about 1 us, nine or more times a request). Its URL
    rules compile their ``url_for`` builders on first use (start-up time, ``lazy_rules``)."""

    url_rule_class = LazyBuildRule

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync_cache: dict[Any, Any] = {}

    def ensure_sync(self, func: Any) -> Any:
        try:
            return self._sync_cache[func]
        except KeyError:
            pass
        except TypeError:  # an unhashable callable: ask every time
            return super().ensure_sync(func)
        synced = super().ensure_sync(func)
        if len(self._sync_cache) < 4096:  # bounded: functions made per request never pile up
            self._sync_cache[func] = synced
        return synced


def _sync_hook(cms: Transom) -> Any:
    sync = cms.messenger.sync
    if cms.replicas is None:
        def transom_messenger_sync() -> None:
            sync()

        return transom_messenger_sync

    def transom_messenger_sync_and_client() -> None:
        sync()  # read-your-writes marks from other workers arrive here too
        client_key.set(_client_of(request))

    return transom_messenger_sync_and_client


def _client_of(req: Any) -> str:
    """Who is asking, for read-your-writes: their token or session, else their address."""
    cred = (req.headers.get("Authorization") or req.args.get("access_token")
            or req.cookies.get("directus_session_token")
            or req.cookies.get("directus_refresh_token")
            or f"addr:{req.remote_addr}")
    return hashlib.blake2b(cred.encode(), digest_size=12).hexdigest()


def _retry_stale_views(app: Flask, cms: Transom) -> None:
    """Wrap every view: a statement that fails because the snapshot names a table or column
    the database no longer has (a change made outside Transom, not yet polled) re-reads the
    schema and runs the view once more, instead of answering 500. The failed statement
    rolled its transaction back, so running the view again is safe."""
    for endpoint, view in list(app.view_functions.items()):
        app.view_functions[endpoint] = _retrying(view, cms)


def _retrying(view: Any, cms: Transom) -> Any:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        before = cms.schema.version
        try:
            return view(*args, **kwargs)
        except ReplicaFailed as exc:
            log.warning("read replica %s failed a read; answered from the primary", exc)
            token = primary_only.set(True)
            try:
                return view(*args, **kwargs)
            finally:
                primary_only.reset(token)
        except DBAPIError as exc:
            info = cms.dialect.classify_error(exc)
            if info is None or info.kind not in ("undefined_table", "undefined_column"):
                raise
            # most often the message about this change is being handled right now
            cms.messenger.settle()
            if cms.schema.version == before and cms.refresh_schema().version == before:
                raise
            log.info("schema was stale (%s); re-read it and retried", info.kind)
            return view(*args, **kwargs)

    return wrapper


class _AnyPath(BaseConverter):
    regex = ".*"


def _size_bytes(value: Any) -> int | None:
    text = str(value).strip().lower()
    if text in ("", "infinity", "-1"):
        return None
    units = {"kb": 1024, "mb": 1024**2, "gb": 1024**3, "b": 1}
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)
