"""Configuration with Directus's environment variable names.

Settings are declared (by core and by plugins through ``register_settings``) as
:class:`Setting` objects with a type and a default; values come from, in order of precedence,
the ``config`` mapping given to ``create_app``, the process environment, then a ``.env`` file.
A value that does not parse fails start-up with a message naming the variable to fix.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dotenv import dotenv_values

from .errors import StartupError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|y)?\s*$")
_UNITS_MS = {
    None: 1,
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "y": 31_557_600_000,
}


def parse_duration_ms(value: Any) -> int:
    """Parse ``"15m"``, ``"7d"``, ``"500"`` (ms) or a number into milliseconds."""
    if isinstance(value, bool):
        raise ValueError("a duration, not a boolean")
    if isinstance(value, int | float):
        return int(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a duration such as 500, 15m, 7d")
    return int(float(m.group(1)) * _UNITS_MS[m.group(2)])


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{value!r} is not true or false")


def parse_csv(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if text.startswith("["):
        return [str(v) for v in json.loads(text)]
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("an integer, not a boolean")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.lower() in ("infinity", "inf"):
        return -1
    return int(text)


def parse_json(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value)
    return value


PARSERS: dict[str, Callable[[Any], Any]] = {
    "str": lambda v: str(v),
    "int": parse_int,
    "float": lambda v: float(v),
    "bool": parse_bool,
    "csv": parse_csv,
    "duration": parse_duration_ms,
    "json": parse_json,
}


@dataclass(frozen=True)
class Setting:
    """A declared configuration variable.

    :param name: the environment variable, Directus's name where one exists.
    :param default: used when nothing sets it; ``None`` means unset.
    :param type: one of ``str int float bool csv duration json``.
    :param description: one line, printed by ``transom settings``.
    :param choices: allowed values, if limited.
    :param required: start-up fails when it is unset.
    """

    name: str
    default: Any = None
    type: str = "str"
    description: str = ""
    choices: tuple[str, ...] | None = None
    required: bool = False


CORE_SETTINGS: tuple[Setting, ...] = (
    Setting("KEY", None, "str", "Unique identifier of this project instance."),
    Setting("SECRET", None, "str", "Secret that signs tokens; random per start when unset."),
    Setting("PUBLIC_URL", "/", "str", "URL where the API is reachable from the outside."),
    Setting("HOST", "0.0.0.0", "str", "Address the server binds to."),
    Setting("PORT", 8055, "int", "Port the server listens on."),
    Setting("WORKERS", 2, "int", "Worker processes of the production server."),
    Setting("THREADS", 8, "int", "Threads per worker of the production server (a login's "
            "stall or a password hash then waits in a thread, not a whole worker)."),
    Setting(
        "DB_CLIENT",
        None,
        "str",
        "Database client: sqlite3, pg, mysql, mssql or oracledb.",
    ),
    Setting("DB_URL", None, "str", "An SQLAlchemy database URL; overrides DB_CLIENT and DB_*."),
    Setting("DB_HOST", None, "str", "Database host."),
    Setting("DB_PORT", None, "int", "Database port."),
    Setting("DB_DATABASE", None, "str", "Database name."),
    Setting("DB_USER", None, "str", "Database user."),
    Setting("DB_PASSWORD", None, "str", "Database password."),
    Setting("DB_FILENAME", "./data/data.db", "str", "SQLite database file."),
    Setting("DB_SCHEMA", None, "str", "Schema (PostgreSQL search path) holding the tables."),
    Setting("DB_POOL_SIZE", 10, "int", "Connections kept in the pool per worker."),
    Setting("DB_POOL_PING_IDLE", 1.0, "float", "Ping a pooled connection before use once it "
            "has been idle this many seconds (0: before every use; negative: never)."),
    Setting("DB_EXCLUDE_TABLES", "spatial_ref_sys,sysdiagrams", "csv", "Tables never shown."),
    Setting("DB_REPLICA_URL", None, "csv", "Read replicas: SQLAlchemy URLs (comma-separated)."),
    Setting("DB_REPLICA_HOST", None, "csv", "Read replicas: hosts (host or host:port, "
            "comma-separated) sharing the primary's database, user and password."),
    Setting("DB_REPLICA_PORT", None, "int", "Port of the DB_REPLICA_HOST replicas."),
    Setting("DB_REPLICA_USER", None, "str", "User for the DB_REPLICA_HOST replicas."),
    Setting("DB_REPLICA_PASSWORD", None, "str", "Password for the DB_REPLICA_HOST replicas."),
    Setting("DB_REPLICA_STICKY", 5.0, "float", "Seconds a client reads from the primary "
            "after its own write (read-your-writes)."),
    Setting("DB_REPLICA_MAX_LAG", 10.0, "float", "A replica lagging more (seconds) is "
            "taken out until it catches up."),
    Setting("DB_REPLICA_CHECK_INTERVAL", 2.0, "float", "Seconds between replica checks."),
    Setting("ADMIN_EMAIL", None, "str", "Email of the first admin, created on bootstrap."),
    Setting("ADMIN_PASSWORD", None, "str", "Password of the first admin (generated if unset)."),
    Setting("ADMIN_TOKEN", None, "str", "Static token given to the first admin."),
    Setting(
        "LOG_LEVEL",
        "info",
        "str",
        "Log level.",
        choices=("fatal", "error", "warn", "info", "debug", "trace", "silent"),
    ),
    Setting("LOG_STYLE", "auto", "str", "Log style.", choices=("auto", "pretty", "raw")),
    Setting("QUERY_LIMIT_DEFAULT", 100, "int", "Default limit of item lists."),
    Setting("QUERY_LIMIT_MAX", -1, "int", "Largest limit a query may ask for (-1: none)."),
    Setting("MAX_BATCH_MUTATION", -1, "int", "Most items one mutation may touch (-1: none)."),
    Setting("MAX_RELATIONAL_DEPTH", 10, "int", "Deepest relational path in a query."),
    Setting("MAX_PAYLOAD_SIZE", "1mb", "str", "Largest request body."),
    Setting("TRANSOM_PLUGINS", None, "csv", "Allow-list of plugins to load (default: all)."),
    Setting("TRANSOM_DISABLE_PLUGINS", None, "csv", "Plugins not to load."),
    Setting("TRANSOM_TRACE_HOOKS", False, "bool", "Log every hook call."),
    Setting("EXTENSIONS_PATH", "./extensions", "str", "Folder of drop-in extensions."),
    Setting("OPENAPI_ENABLED", True, "bool", "Serve /server/specs/oas."),
    Setting("PROJECT_NAME", "Transom", "str", "Default project name for new settings."),
    Setting("HASH_TIME_COST", 3, "int", "argon2 iterations for password hashes."),
    Setting("HASH_MEMORY_COST", 65536, "int", "argon2 memory (KiB) for password hashes."),
    Setting("HASH_PARALLELISM", 4, "int", "argon2 lanes for password hashes."),
    Setting("SCHEMA_REFRESH_INTERVAL", 5, "float",
            "Seconds between background schema re-reads (0: only on demand)."),
    Setting("PLAN_CACHE_SIZE", 512, "int", "Compiled reads kept per worker (0: none)."),
    Setting("SCHEMA_CHECK_TARGETED", False, "bool", "Check every targeted schema refresh "
            "against a full re-read (for tests; slow)."),
    Setting("MESSENGER_STORE", "auto", "str",
            "How workers and instances tell each other about changes: auto (Redis when "
            "REDIS is set, else PostgreSQL LISTEN/NOTIFY on PostgreSQL, else this machine "
            "only), redis, postgres, memory/none (this machine only), or the name of a "
            "transport a plugin offers."),
    Setting("MESSENGER_NAMESPACE", "transom", "str",
            "Prefix of the messenger's Redis channel and PostgreSQL channel."),
    Setting("MESSENGER_LOCAL_PATH", None, "str",
            "File of the same-machine message ring (default: a file in the temporary "
            "folder named after the database); 'false' turns it off."),
    Setting("REDIS_ENABLED", None, "bool", "Use Redis for the messenger, locks and (when "
            "their stores say redis) cache and rate limits; default: on when REDIS or "
            "REDIS_HOST is set."),
    Setting("REDIS", None, "str", "Redis URL shared by messenger, locks, cache and rate "
            "limits (redis://host:6379/0)."),
    Setting("REDIS_HOST", None, "str", "Redis host, when REDIS is not set."),
    Setting("REDIS_PORT", 6379, "int", "Redis port, when REDIS is not set."),
    Setting("REDIS_USERNAME", None, "str", "Redis user, when REDIS is not set."),
    Setting("REDIS_PASSWORD", None, "str", "Redis password, when REDIS is not set."),
    Setting("REDIS_DB", 0, "int", "Redis database number, when REDIS is not set."),
    Setting("TESTING", False, "bool", "Run listeners inline (for tests)."),
    Setting("MAX_URL_LENGTH", 8190, "int",
            "Longest request URL (path and query) before 414 URI_TOO_LONG; 0: no limit."),
    Setting("MAX_HEADERS_SIZE", 16384, "int",
            "Largest total of request headers (bytes) before 431; 0: no limit."),
    Setting("IP_TRUST_PROXY", False, "bool",
            "Trust X-Forwarded-For for the caller's IP (only behind a proxy you run)."),
    Setting("ACCESS_CACHE_TTL", 1000, "duration", "How long resolved policies are cached."),
    Setting("SESSION_COOKIE_NAME", "directus_session_token", "str", "Session cookie name."),
    Setting("DB_HEALTHCHECK_THRESHOLD", 150, "int", "Database check warning threshold (ms)."),
)


def read_env_file(path: str | os.PathLike[str] | None) -> dict[str, str]:
    """Values of a ``.env`` file (missing file: nothing)."""
    if path is None:
        return {}
    p = Path(path)
    if not p.is_file():
        return {}
    return {k: v for k, v in dotenv_values(p).items() if v is not None}


class Config(Mapping[str, Any]):
    """Typed, read-only settings of one app.

    Unknown names are still readable as raw strings (plugins may read their own variables),
    but declared ones are parsed and validated once, at start-up.
    """

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw: dict[str, Any] = dict(raw)
        self._values: dict[str, Any] = {}
        self._declared: dict[str, Setting] = {}

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        env_file: str | os.PathLike[str] | None = ".env",
    ) -> Config:
        """Merge a ``.env`` file, the environment and explicit overrides (last wins)."""
        raw: dict[str, Any] = {}
        raw.update(read_env_file(os.environ.get("CONFIG_ENV_FILE", env_file)))
        raw.update(os.environ if env is None else env)
        raw.update(overrides or {})
        return cls(raw)

    def declare(self, settings: Iterable[Setting]) -> None:
        """Parse and validate declared settings; raise :class:`StartupError` on bad values."""
        problems: list[str] = []
        for s in settings:
            if s.name in self._declared and self._declared[s.name] != s:
                problems.append(f"setting {s.name} is declared twice with different meanings")
                continue
            self._declared[s.name] = s
            raw = self._raw.get(s.name)
            if isinstance(raw, str) and raw == "" and s.type != "str":
                raw = None
            file_ref = self._raw.get(f"{s.name}_FILE")
            if raw is None and file_ref:
                try:
                    raw = Path(str(file_ref)).read_text().strip()
                except OSError as exc:
                    problems.append(f"{s.name}_FILE: cannot read {file_ref}: {exc}")
                    continue
            if raw is None:
                if s.required:
                    problems.append(f"{s.name} is required: set it in the environment or .env")
                self._values[s.name] = s.default if s.type != "duration" or s.default is None \
                    else parse_duration_ms(s.default)
                if s.type == "csv" and isinstance(s.default, str):
                    self._values[s.name] = parse_csv(s.default)
                continue
            try:
                value = PARSERS[s.type](raw)
            except (ValueError, TypeError, json.JSONDecodeError) as exc:
                problems.append(f"{s.name}={raw!r} is not a valid {s.type}: {exc}")
                continue
            if s.choices and str(value) not in s.choices:
                problems.append(f"{s.name}={value!r}: choose one of {', '.join(s.choices)}")
                continue
            self._values[s.name] = value
        if problems:
            raise StartupError("Bad configuration:\n  " + "\n  ".join(problems))

    def __getitem__(self, key: str) -> Any:
        if key in self._values:
            return self._values[key]
        return self._raw[key]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            value = self[key]
        except KeyError:
            return default
        return default if value is None else value

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter({**self._raw, **self._values})

    def __len__(self) -> int:
        return len({**self._raw, **self._values})

    def declared(self) -> dict[str, Setting]:
        return dict(self._declared)

    def with_prefix(self, prefix: str) -> dict[str, Any]:
        """Raw values whose name starts with ``prefix`` (e.g. ``DB_`` extras for a driver)."""
        return {k[len(prefix):]: v for k, v in self._raw.items() if k.startswith(prefix)}


def redis_url(config: Any) -> str | None:
    """Directus 11's shared Redis settings, used by the messenger, locks, cache and rate
    limits: ``REDIS``, else a URL built from ``REDIS_HOST`` and its companions, else None (also
    when ``REDIS_ENABLED=false``)."""
    enabled = config.get("REDIS_ENABLED")
    if enabled is not None and not enabled:
        return None
    url = config.get("REDIS")
    if url:
        return str(url)
    host = config.get("REDIS_HOST")
    if not host:
        return None
    user = config.get("REDIS_USERNAME")
    password = config.get("REDIS_PASSWORD")
    auth = ""
    if user or password:
        auth = quote(str(user or ""), safe="")
        if password:
            auth += ":" + quote(str(password), safe="")
        auth += "@"
    port = int(config.get("REDIS_PORT") or 6379)
    return f"redis://{auth}{host}:{port}/{int(config.get('REDIS_DB') or 0)}"
