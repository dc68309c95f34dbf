"""Builds one pluggy ``PluginManager`` per app: default plugins, entry points, explicit ones.

Order (see docs/hooks.md): core's default plugins are registered first, through the same
``pm.register`` as everyone else; then the ``transom.plugins`` entry points, filtered by
``TRANSOM_PLUGINS`` (an allow-list; dialects are always allowed) and
``TRANSOM_DISABLE_PLUGINS`` (a block-list, applied with ``pm.set_blocked``); then the
``plugins=`` given to ``create_app``. Historic ``add_hookspecs`` fires, then
``check_pending()`` rejects any implementation without a spec.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy

from . import __version__, hookspecs
from .config import parse_csv
from .errors import StartupError
from .extensions import load_extensions

log = logging.getLogger("transom.plugins")

ENTRY_POINT_GROUP = "transom.plugins"

#: Core features written as plugins. ``essential`` ones cannot be blocked.
#: The front of the pipeline (request id, CORS, rate limits) is ordered by the steps'
#: declarations (``register_request_steps``, see ``http/pipeline.py``), not by this list.
DEFAULT_PLUGINS: tuple[tuple[str, str, bool], ...] = (
    ("core_request_log", "transom.default_plugins.request_log", False),
    ("core_cors", "transom.default_plugins.cors", False),
    ("core_rate_limit", "transom.default_plugins.rate_limit", False),
    ("core_server", "transom.default_plugins.server", True),
    ("core_status", "transom.default_plugins.status", False),
    ("core_replicas", "transom.default_plugins.replicas", False),
    ("core_static_token", "transom.default_plugins.static_token", False),
    ("core_field_types", "transom.default_plugins.field_types", True),
    ("core_items", "transom.default_plugins.items_api", True),
    ("core_schema_api", "transom.default_plugins.schema_api", False),
    ("core_schema_sync_api", "transom.default_plugins.schema_sync_api", False),
    ("core_settings_export_api", "transom.default_plugins.settings_export_api", False),
    ("core_system_api", "transom.default_plugins.system_api", False),
    ("core_utils_api", "transom.default_plugins.utils_api", False),
    ("core_utils_bulk", "transom.default_plugins.utils_bulk", False),
    ("core_schedule", "transom.schedule", False),
    ("core_openapi", "transom.default_plugins.openapi", False),
    ("core_mail_smtp", "transom.default_plugins.mail_smtp", False),
    ("core_mail_log", "transom.default_plugins.mail_log", False),
)


@dataclass
class PluginInfo:
    """What ``transom plugins`` prints about one loaded plugin."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    default: bool = False
    hooks: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "default": self.default,
            "hooks": self.hooks,
        }


def _select_entry_points(
    allow: list[str] | None, deny: list[str]
) -> list[EntryPoint]:
    """Entry points to load, checking for two distributions claiming one name."""
    seen: dict[str, EntryPoint] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        other = seen.get(ep.name)
        if other is not None and other.value != ep.value:
            d1 = other.dist.name if other.dist else "?"
            d2 = ep.dist.name if ep.dist else "?"
            raise StartupError(
                f"Two installed distributions provide the Transom plugin {ep.name!r}: "
                f"{d1} and {d2}. Uninstall one of them."
            )
        seen[ep.name] = ep
    chosen = []
    for name, ep in sorted(seen.items()):
        if name in deny:
            continue
        if allow is not None and name not in allow and not name.startswith("dialect_"):
            continue
        chosen.append(ep)
    return chosen


def _name_of(plugin: Any) -> str:
    if isinstance(plugin, ModuleType):
        return plugin.__name__
    return getattr(plugin, "name", None) or getattr(plugin, "__name__", None) or (
        f"{type(plugin).__module__}.{type(plugin).__qualname__}"
    )


def make_plugin_manager(
    config: Any,
    plugins: list[Any] | None = None,
    load_entrypoints: bool = True,
) -> tuple[pluggy.PluginManager, dict[str, PluginInfo]]:
    """Create the app's ``PluginManager`` and the description of what it loaded."""
    pm = pluggy.PluginManager("transom")
    pm.add_hookspecs(hookspecs)
    if config.get("TRANSOM_TRACE_HOOKS"):
        pm.trace.root.setwriter(lambda msg: log.debug("hook: %s", msg.rstrip()))
        pm.enable_tracing()
    info: dict[str, PluginInfo] = {}
    deny = parse_csv(config.get("TRANSOM_DISABLE_PLUGINS") or [])
    allow_raw = config.get("TRANSOM_PLUGINS")
    allow = parse_csv(allow_raw) if allow_raw else None

    for name, module_name, essential in DEFAULT_PLUGINS:
        if name in deny and not essential:
            continue
        module = importlib.import_module(module_name)
        pm.register(module, name=name)
        info[name] = PluginInfo(name, module_name, "transom", __version__, default=True)

    if load_entrypoints:
        for ep in _select_entry_points(allow, deny):
            if pm.has_plugin(ep.name):
                raise StartupError(
                    f"Plugin name {ep.name!r} of {ep.dist.name if ep.dist else ep.value} "
                    "is already taken by a default plugin."
                )
            try:
                module = ep.load()
            except ImportError as exc:
                dist = ep.dist.name if ep.dist else ep.value
                log.warning("plugin %s (%s) skipped: %s", ep.name, dist, exc)
                continue
            pm.register(module, name=ep.name)
            info[ep.name] = PluginInfo(
                ep.name,
                ep.value,
                ep.dist.name if ep.dist else None,
                ep.dist.version if ep.dist else None,
            )

    for plugin in plugins or []:
        name = _name_of(plugin)
        if pm.has_plugin(name) or pm.get_plugin(name) is not None:
            raise StartupError(f"Plugin {name!r} is registered twice.")
        if name in deny:
            continue
        pm.register(plugin, name=name)
        module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
        info[name] = PluginInfo(name, module)

    # EXTENSIONS_PATH: drop-in files and packages
    for source in load_extensions(pm, config, deny):
        info[source.plugin_name] = PluginInfo(source.plugin_name, str(source.path))
    pm.hook.add_hookspecs.call_historic(kwargs={"pm": pm})
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise StartupError(f"A plugin implements a hook that does not exist: {exc}") from exc
    for name, item in info.items():
        plugin = pm.get_plugin(name)
        if plugin is not None:
            item.hooks = sorted(c.name for c in pm.get_hookcallers(plugin) or [])
    return pm, info


def flatten(results: list[Any]) -> list[Any]:
    """Hook results where each plugin may return None, one object or a list of them.

    Tuples are kept whole, so ``(Blueprint, url_prefix)`` stays one item.
    """
    out: list[Any] = []
    for r in results:
        if r is None:
            continue
        if isinstance(r, list):
            out.extend(x for x in r if x is not None)
        else:
            out.append(r)
    return out
