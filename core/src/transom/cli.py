"""The ``transom`` command: a light root group whose commands load when they run.

``transom --help`` must answer at once, so this module imports only click and the
standard library: each built-in command lives in ``cli_admin`` and is imported (with
Flask, SQLAlchemy and the plugins) only when it is invoked, through :data:`COMMANDS`
(name -> attribute, short help). ``importlib.import_module`` is used for that on purpose:
a top-level import of ``cli_admin`` would load the whole application for ``--help``.

Plugin commands (the ``register_commands`` hook) are found by loading the plugins, which
costs seconds; so their names and short help are cached in a small JSON file (under
``$XDG_CACHE_HOME/transom``, keyed by the installed distributions, the plugin settings and
the ``.env`` file). ``--help`` reads that cache; a name that is neither built in nor
registered by hand loads the plugins (and refreshes the cache) before click says it is
unknown.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from importlib import import_module
from pathlib import Path

import click

#: the module holding the built-in commands (see the module docstring for why by name)
COMMANDS_MODULE = "transom.cli_admin"

#: built-in command -> (attribute of COMMANDS_MODULE, short help)
COMMANDS: dict[str, tuple[str, str]] = {
    "bootstrap": ("bootstrap", "Create or migrate the system tables and the first admin."),
    "count": ("count", "Print the number of items of a collection."),
    "database": ("database", "Install or migrate the system tables."),
    "import": ("import_cmd", "Import a CSV or JSON file into a collection."),
    "init": ("init", "Ask Directus's set-up questions, write .env, install."),
    "plugins": ("plugins_cmd", "List the loaded plugins with their versions and hooks."),
    "roles": ("roles", "Create roles."),
    "schema": ("schema", "Work with the database schema."),
    "settings": ("settings_cmd", "List every declared setting, its value and meaning."),
    "start": ("start", "Bootstrap on first start, then serve with the production server."),
    "users": ("users", "Create users and change passwords."),
}

_PLUGIN_SETTINGS = ("TRANSOM_PLUGINS", "TRANSOM_DISABLE_PLUGINS", "EXTENSIONS_PATH")


def _env_file() -> str:
    return os.environ.get("CONFIG_ENV_FILE", ".env")


def _cache_file() -> Path:
    """Where the plugin commands of this installation and configuration are cached."""
    parts: list[str] = [sys.prefix, os.getcwd()]
    for entry in sys.path:  # installing or removing a distribution touches its folder
        try:
            parts.append(f"{entry}:{os.stat(entry).st_mtime_ns}")
        except OSError:
            continue
    parts += [f"{k}={os.environ.get(k, '')}" for k in _PLUGIN_SETTINGS]
    try:
        parts.append(Path(_env_file()).read_text(encoding="utf-8"))
    except OSError:
        parts.append("-")
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "transom" / f"commands-{key}.json"


def _read_cache() -> dict[str, str] | None:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_cache(commands: dict[str, str]) -> None:
    path = _cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(commands), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a read-only home: --help then loads the plugins each time


class TransomGroup(click.Group):
    """A group that imports built-in commands on use and plugin commands on demand."""

    plugins_loaded = False

    def _load_plugins(self) -> None:
        """Run ``register_commands`` once; cache the names and help it added."""
        if self.plugins_loaded:
            return
        self.plugins_loaded = True
        before = set(self.commands)
        module = import_module(COMMANDS_MODULE)
        module.add_plugin_commands(self)
        _write_cache({name: cmd.get_short_help_str(80) for name, cmd in self.commands.items()
                      if name not in before and name not in COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name in COMMANDS:
            command = getattr(import_module(COMMANDS_MODULE), COMMANDS[cmd_name][0])
            self.add_command(command, cmd_name)
            return command
        self._load_plugins()
        return self.commands.get(cmd_name)

    def _plugin_help(self) -> dict[str, str]:
        cached = _read_cache()
        if cached is None:
            self._load_plugins()
            cached = _read_cache() or {}
        return cached

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMANDS) | set(self._plugin_help()))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from :data:`COMMANDS` and the cache, importing nothing."""
        helps = {name: text for name, (_attr, text) in COMMANDS.items()}
        helps.update(self._plugin_help())
        for name, cmd in self.commands.items():
            if not cmd.hidden:
                helps[name] = cmd.get_short_help_str(formatter.width - 6 - len(name))
        if helps:
            with formatter.section("Commands"):
                formatter.write_dl(sorted(helps.items()))


@click.group(cls=TransomGroup)
@click.option("--env-file", default=".env", show_default=True, help="A .env file to read.")
def cli(env_file: str) -> None:
    """Transom: an open, plugin-first headless CMS compatible with Directus 11."""
    os.environ.setdefault("CONFIG_ENV_FILE", env_file)
    # command output on stdout stays clean (plugins --json): logs go to stderr
    import_module("transom.logs").set_log_stream("stderr")


def main() -> None:
    """Entry point of the console script."""
    cli()


if __name__ == "__main__":
    main()
