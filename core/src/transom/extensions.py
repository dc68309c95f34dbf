"""Drop-in extensions: plain Python files and packages loaded from ``EXTENSIONS_PATH``.

A deployer who does not want to package a plugin puts a module in the extensions folder
(``./extensions`` by default): ``extensions/visits.py`` or ``extensions/visits/__init__.py``.
Each one is imported at start-up under a private module name (so it cannot shadow or be
shadowed by an installed package) and registered with the app's plugin manager exactly like an
entry-point plugin, under the name ``ext_<name>``. It then implements hooks with
``@transom.hookimpl`` as any plugin does: endpoints through ``register_blueprints``, filters,
listeners, schedules...

Rules, written down once here:

* an empty ``EXTENSIONS_PATH`` or a folder that does not exist loads nothing;
* entries are loaded in name order; names starting with ``_`` or ``.`` are skipped, and so is
  a folder without ``__init__.py``;
* ``TRANSOM_DISABLE_PLUGINS`` may name ``ext_<name>`` to skip one;
* an extension whose import fails on a missing module is logged and skipped, like an entry
  point with a missing optional dependency; any other error while importing it is a
  :class:`~transom.errors.StartupError` naming the file, because a deployer's own code that
  does not run should stop the server, not be silently ignored;
* each app imports its extensions afresh, so two apps in one process share no module state.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .errors import StartupError

if TYPE_CHECKING:
    import pluggy

log = logging.getLogger("transom.extensions")

#: Prefix of the plugin names (and of the private module names) of drop-in extensions.
NAME_PREFIX = "ext_"


@dataclass(frozen=True)
class ExtensionSource:
    """One loadable entry of the folder: a ``.py`` file or a package directory."""

    name: str
    path: Path
    is_package: bool

    @property
    def plugin_name(self) -> str:
        return f"{NAME_PREFIX}{self.name}"

    def module_name(self) -> str:
        """A private, unique module name: the folder's hash keeps two folders apart."""
        digest = hashlib.sha1(str(self.path.resolve()).encode()).hexdigest()[:10]
        safe = re.sub(r"\W", "_", self.name)
        return f"_transom_extension_{safe}_{digest}"


def extensions_folder(config: Any) -> Path | None:
    """The configured folder, or None when extensions are off or the folder is missing."""
    raw = config.get("EXTENSIONS_PATH", "./extensions")
    if raw is None or not str(raw).strip():
        return None
    folder = Path(str(raw)).expanduser()
    return folder if folder.is_dir() else None


def discover(folder: Path) -> list[ExtensionSource]:
    """The extensions of ``folder`` in load order (by name)."""
    found: list[ExtensionSource] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(("_", ".")):
            continue
        if entry.is_file() and entry.suffix == ".py":
            found.append(ExtensionSource(entry.stem, entry, False))
        elif entry.is_dir() and (entry / "__init__.py").is_file():
            found.append(ExtensionSource(entry.name, entry, True))
    return found


def import_extension(source: ExtensionSource) -> ModuleType:
    """Import one extension afresh under its private name (packages keep relative imports)."""
    name = source.module_name()
    if source.is_package:
        spec = importlib.util.spec_from_file_location(
            name, source.path / "__init__.py", submodule_search_locations=[str(source.path)])
    else:
        spec = importlib.util.spec_from_file_location(name, source.path)
    if spec is None or spec.loader is None:  # pragma: no cover - only for odd files
        raise StartupError(f"Extension {source.path} cannot be imported.")
    for loaded in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        del sys.modules[loaded]  # a new app gets a new module, not the last app's one
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before exec, so relative and self imports resolve
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_extensions(pm: pluggy.PluginManager, config: Any,
                    deny: list[str] | tuple[str, ...] = ()) -> list[ExtensionSource]:
    """Register every extension of ``EXTENSIONS_PATH`` with ``pm``; return those loaded
    (their ``plugin_name`` is the name they were registered under).

    Called by :func:`transom.plugins.make_plugin_manager` after the explicit plugins and
    before ``check_pending``, so an extension implementing a hook that does not exist is
    reported like any other plugin; it records their :class:`~transom.plugins.PluginInfo`
    (this module does not import ``plugins``, which imports it).
    """
    folder = extensions_folder(config)
    if folder is None:
        return []
    loaded: list[ExtensionSource] = []
    for source in discover(folder):
        plugin_name = source.plugin_name
        if plugin_name in deny:
            continue
        if pm.has_plugin(plugin_name):
            raise StartupError(f"Extension {source.path} is named {plugin_name!r}, which "
                               "another plugin already uses; rename the file.")
        try:
            module = import_extension(source)
        except ImportError as exc:
            log.warning("extension %s skipped: %s", source.path, exc)
            continue
        except Exception as exc:
            raise StartupError(f"Extension {source.path} failed to load: "
                               f"{type(exc).__name__}: {exc}") from exc
        pm.register(module, name=plugin_name)
        loaded.append(source)
        log.info("loaded extension %s from %s", plugin_name, source.path)
    return loaded
