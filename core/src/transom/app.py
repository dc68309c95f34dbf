"""``create_app``: the only way to get a Transom app."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask
from werkzeug.routing import BaseConverter

from .config import Config
from .errors import StartupError
from .http.errors import install_error_handlers
from .kernel import Transom
from .logs import configure_logging
from .plugins import flatten, make_plugin_manager

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
) -> Flask:
    """Build a Flask app with its own plugin manager, database engine and schema.

    :param config: settings that override the environment and ``.env``.
    :param plugins: extra plugin modules or objects to register (tests, embedding).
    :param load_entrypoints: load the ``transom.plugins`` entry points (False in tests that
        want an exact plugin set).
    :param env_file: the ``.env`` file to read (None: none).
    """
    cfg = Config.load(config, env_file=env_file)
    configure_logging(cfg)  # first, so plugin loading already logs in the chosen style
    pm, info = make_plugin_manager(cfg, plugins, load_entrypoints)
    cms = Transom(cfg, pm, info)
    app = Flask("transom")
    app.config["MAX_CONTENT_LENGTH"] = _size_bytes(cfg.get("MAX_PAYLOAD_SIZE", "1mb"))
    app.config["TESTING"] = bool(cfg.get("TESTING"))
    app.url_map.strict_slashes = False
    app.url_map.converters["any_path"] = _AnyPath
    app.extensions["transom"] = cms
    cms.app = app

    @app.after_request
    def _directus_headers(resp: Any) -> Any:
        resp.headers.setdefault("X-Powered-By", "Transom")
        resp.headers.setdefault("Vary", "Origin, Cache-Control")
        return resp

    install_error_handlers(app)
    _register_blueprints(app, cms)
    cms.hook.init_app(cms=cms, app=app)
    cms.refresh_schema()
    cms.hook.startup(cms=cms)
    if not cfg.get("TESTING"):
        cms.watch_schema()
    return app


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
