"""The commands of ``transom``, loaded only when one of them runs (see ``cli.py``).

Server and schema commands (``start``, ``bootstrap``, ``plugins``, ``settings``,
``schema``) and Directus's administration commands (``init``, ``users create|passwd``,
``roles create``, ``count <collection>``, ``import``, ``database install|migrate:*``).
The administration commands act as the system (no permission checks) through the same
services as the API, so the password policy, hashing, validation and hooks are the ones a
request gets.
"""

from __future__ import annotations

import atexit
import errno
import gc
import json
import os
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import pluggy
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from .api import ItemsService, UsersService
from .app import create_app, start_app
from .config import Config, parse_bool
from .default_plugins.utils_bulk import import_file
from .errors import StartupError, TransomError
from .logs import set_log_stream
from .plugins import make_plugin_manager
from .services.schema_sync import apply, plan, snapshot
from .system import migrations as mig
from .system.bootstrap import all_migrations
from .system.bootstrap import bootstrap as run_bootstrap
from .system.tables import system_metadata


def _make_app(serving: bool = False, start: bool = True, **overrides: Any) -> Any:
    """The app of a command; only a serving worker runs scheduled jobs (a command's own
    process must not; the master of ``start`` builds the serving app with ``start=False``,
    so its scheduler starts in the workers only)."""
    if not serving:
        overrides.setdefault("SCHEDULER", "false")
    try:
        return create_app(overrides or None, start=start)
    except StartupError as exc:
        raise click.ClickException(str(exc)) from exc
    except DBAPIError as exc:
        raise click.ClickException(_database_problem(exc)) from None


def _database_problem(exc: DBAPIError) -> str:
    """One line saying why the database refused us and which setting fixes it."""
    text = str(exc.orig if exc.orig is not None else exc).strip()
    low = text.lower()
    if "role" in low and "does not exist" in low:
        return "the database user does not exist. Check DB_USER (or the user in DB_URL)."
    if "password" in low or "access denied" in low or "authentication" in low:
        return ("cannot connect to the database: the user name or password was refused. "
                "Check DB_USER and DB_PASSWORD (or the credentials in DB_URL).")
    if any(m in low for m in ("connection refused", "could not connect", "can't connect",
                              "could not translate host", "name or service not known",
                              "timeout expired", "connection failed")):
        return ("cannot reach the database server. Check DB_HOST and DB_PORT (or DB_URL) "
                "and that the server is running.")
    if "does not exist" in low or "unknown database" in low:
        return "the database does not exist. Create it, or fix DB_DATABASE (or DB_URL)."
    if "unable to open database file" in low or "readonly" in low:
        return ("cannot open the SQLite file. Check DB_FILENAME and that its folder exists "
                "and is writable.")
    first = text.splitlines()[0] if text else exc.__class__.__name__
    return f"cannot use the database: {first}. Check the DB_* settings (or DB_URL)."


def _positive(name: str, value: Any) -> int:
    """A count setting (WORKERS, THREADS, PORT) as a positive integer, or a clear error."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise click.ClickException(f"{name} must be a positive integer, not {value!r}.")
    return number


def _check_port_free(host: str, port: int) -> None:
    """Fail with one clear line when the address is taken, before anything is claimed."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise click.ClickException(
                    f"port {port} on {host} is already in use: stop the other server or "
                    "choose another PORT.") from None
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}. "
                                       "Check HOST and PORT.") from None


def _announce(summary: str) -> Any:
    """gunicorn ``when_ready``: the address is printed once it is really listened on."""
    def when_ready(server: Any) -> None:
        for listener in server.LISTENERS:
            click.echo(f"Transom is running at {listener} ({summary})")
        sys.stdout.flush()
    return when_ready


def _bootstrap(app: Any) -> dict[str, Any]:
    try:
        return run_bootstrap(app.extensions["transom"])
    except DBAPIError as exc:
        raise click.ClickException(_database_problem(exc)) from None


def _print_bootstrap(result: dict[str, Any]) -> None:
    for version in result.get("migrations", []):
        click.echo(f"applied migration {version}")
    admin = result.get("admin")
    if admin:
        click.echo(f"created admin user {admin['email']}")
        if admin.get("generated_password"):
            click.echo(f"  password: {admin['generated_password']}  (generated: keep it safe)")


def _mark_worker_dead(server: Any, worker: Any) -> None:
    """gunicorn ``child_exit``: drop a dead worker's live gauges from the metrics folder."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        try:  # lazy: prometheus_client is optional (the metrics plugin brings it)
            from prometheus_client import multiprocess
        except ImportError:
            return
        multiprocess.mark_process_dead(worker.pid, folder)


def _fork_ready(app: Any) -> bool:
    """Whether the workers may inherit ``app`` (built and bootstrapped by the master, not
    started) instead of each building its own (~0.2-0.3 s of every cold start).

    A fork copies only the calling thread: any other thread alive now (a listener's pool,
    a plugin's poller) would be missing in the workers while its state was copied, so then
    each worker builds its own app, as before. So too with WebSockets on: their plugin
    chains its SIGTERM handler in ``init_app`` only inside a gunicorn worker."""
    cms = app.extensions["transom"]
    return threading.active_count() == 1 and not cms.config.get("WEBSOCKETS_ENABLED")


def _before_fork(app: Any) -> None:
    """In the master, once: no database connection crosses the fork (each worker opens its
    own), and what start-up made is frozen before the workers copy it (so their collector
    never walks, hence never copies, those pages). Frozen without a collection first: that
    would cost ~0.1 s of every start to free ~1 MB (7,000 objects, mostly SQLAlchemy
    tables built twice), which the workers then share."""
    cms = app.extensions["transom"]
    cms.messenger.sync()  # the master's own bootstrap messages are not replayed by workers
    _dispose_engines(cms, close=True)
    gc.freeze()


def _dispose_engines(cms: Any, close: bool) -> None:
    """Empty the pools of the primary and of every replica (``close=False`` in a forked
    child: forget the parent's connections without touching them)."""
    engines = [cms.engine]
    if cms.replicas is not None:
        engines += [replica.engine for replica in cms.replicas.replicas]
    for engine in engines:
        engine.dispose(close=close)


def _adopt(app: Any) -> Any:
    """In a worker forked from the master right after it built ``app``: make the inherited
    app this process's own, then start what serving needs (threads, listeners:
    ``start_app``)."""
    cms = app.extensions["transom"]
    _dispose_engines(cms, close=False)  # never touch the parent's connections (none left)
    # its own identity on the bus: workers skip the messages of their own origin
    cms.messenger.origin = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    start_app(app)
    return app


def _serving_app(prebuilt: Any = None) -> Any:
    """A worker's app (``prebuilt``: the master's, adopted), with what start-up made
    (modules, plugins, the schema: about 200,000 objects) moved out of the cyclic garbage
    collector's reach. They live as long as the worker, and every full collection would
    otherwise walk all of them again: a read of 66,000 rows (the m2m of
    ``bench/scale.py``) spent 60 % of its CPU there (423 -> 172 ms in process,
    docs/performance.md)."""
    app = _make_app(serving=True) if prebuilt is None else _adopt(prebuilt)
    gc.collect()  # start-up's own garbage is freed, not frozen
    gc.freeze()
    return app


class _Server:
    """Gunicorn, started in-process. Each worker adopts ``prebuilt`` (the master's app,
    built but not started) or, without one, builds its own; either way its own engine
    pool, threads and bus identity."""

    def __init__(self, host: str, port: int, workers: int, threads: int,
                 sockets: int = 0, prebuilt: Any = None) -> None:
        summary = f"{workers} workers x {threads} threads"
        self.prebuilt = prebuilt
        self.workers = workers
        self.forks = 0
        # a WebSocket holds one gthread thread while open (``sockets``: the most a worker
        # accepts): reserve them on top of the request threads, so HTTP is never starved
        if sockets:
            threads += sockets
        self.options = {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_connections": max(1000, 2 * threads),
            # gunicorn's workers, answering the requests they cannot parse in the JSON envelope
            "worker_class": "transom.http.front_workers."
                            + ("EnvelopeThreadWorker" if threads > 1 else "EnvelopeSyncWorker"),
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "timeout": 60,
            # not gunicorn's preload: the app is built before gunicorn, and a worker starts
            # it in ``load``, after gunicorn installed the worker's signal handlers
            "preload_app": False,
            "pre_fork": self._count_fork,
            "child_exit": _mark_worker_dead,
            "when_ready": _announce(summary),
            # gunicorn's own limits answer in HTML: raise them far above MAX_URL_LENGTH and
            # MAX_HEADERS_SIZE, which the app enforces with the JSON envelope
            "limit_request_line": 0,
            "limit_request_field_size": 65536,
            "limit_request_fields": 1000,
        }

    def run(self) -> None:
        # lazy: only `start` serves; other commands need not load the server
        from gunicorn.app.base import BaseApplication

        options = self.options
        server = self

        class App(BaseApplication):  # type: ignore[misc]
            def load_config(self) -> None:
                for key, value in options.items():
                    self.cfg.set(key, value)

            def load(self) -> Any:
                # a worker that replaces another (or one added later) builds its own: the
                # master's app may be hours old, its schema and caches stale
                return _serving_app(server.prebuilt if server.forks <= server.workers
                                    else None)

        App().run()

    def _count_fork(self, arbiter: Any, worker: Any) -> None:
        """gunicorn ``pre_fork`` (in the master): the first ``workers`` forks are the
        start; any later one replaces a worker, long after the app was built."""
        self.forks += 1


@click.command()
def bootstrap() -> None:
    """Create or migrate the system tables and the first admin (idempotent)."""
    app = _make_app()
    try:
        _print_bootstrap(_bootstrap(app))
    finally:
        app.extensions["transom"].close()
    click.echo("bootstrap complete")


@click.command()
@click.option("--host", default=None, help="Address to bind (HOST).")
@click.option("--port", type=int, default=None, help="Port (PORT, default 8055).")
@click.option("--workers", type=int, default=None, help="Worker processes (WORKERS).")
@click.option("--threads", type=int, default=None, help="Threads per worker (THREADS).")
def start(host: str | None, port: int | None, workers: int | None,
          threads: int | None) -> None:
    """Bootstrap on first start, then serve with the production server."""
    set_log_stream("stdout")  # servers log to stdout, as Directus does
    # the server's own settings first: a bad count or a taken port fails before bootstrap
    raw = Config.load(env_file=os.environ.get("CONFIG_ENV_FILE", ".env"))
    host = host or raw.get("HOST", "0.0.0.0")
    port = _positive("PORT", port if port is not None else raw.get("PORT", 8055))
    workers = _positive("WORKERS", workers if workers is not None else raw.get("WORKERS", 2))
    threads = _positive("THREADS", threads if threads is not None else raw.get("THREADS", 8))
    _check_port_free(host, port)
    # Before the app is built: the workers inherit it (or build theirs from this environment)
    if not raw.get("SECRET"):
        # Every worker must sign and check tokens with the same key: make one here, before
        # the workers fork, instead of one per worker (tokens still end with this process).
        os.environ["SECRET"] = secrets.token_urlsafe(48)
        click.echo("warning: SECRET is not set; tokens end when this server stops. Set SECRET "
                   "to keep them.", err=True)
    if _flag(raw.get("METRICS_ENABLED")):
        _metrics_folder()
    # The serving app, not started (no thread, listener or scheduled job runs in the
    # master), which the workers inherit; with WebSockets on (see _fork_ready), a command
    # app that bootstraps and closes, as each worker builds its own. Building makes ~200,000
    # objects that live on: no collection walks them meanwhile; they are frozen before the
    # fork (or collected as usual once collection is back on).
    share = not _flag(raw.get("WEBSOCKETS_ENABLED"))
    gc.disable()
    try:
        app = _make_app(serving=share, start=not share)
        cms = app.extensions["transom"]
        _print_bootstrap(_bootstrap(app))
    except BaseException:
        gc.enable()
        raise
    cfg = cms.config
    prebuilt = app if share and _fork_ready(app) else None
    if cfg.get("METRICS_ENABLED") and _metrics_folder():
        prebuilt = None  # its metrics were made without the folder: workers make their own
    if prebuilt is None:
        cms.close()
    else:
        _before_fork(prebuilt)
    gc.enable()
    sockets = int(cfg.get("WEBSOCKETS_MAX_CONNECTIONS") or 1000) \
        if cfg.get("WEBSOCKETS_ENABLED") else 0
    _Server(host, port, workers, threads, sockets, prebuilt).run()


def _metrics_folder() -> bool:
    """Workers count into files in one folder; a scrape answered by any worker adds them
    all up. True when this made the folder (it was not set)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return False
    folder = tempfile.mkdtemp(prefix="transom-prometheus-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    owner = os.getpid()  # only the master removes it, never an exiting worker
    atexit.register(lambda: os.getpid() == owner and shutil.rmtree(folder, True))
    return True


def _flag(value: Any) -> bool:
    """A boolean setting read before the settings are declared (``raw`` config)."""
    try:
        return parse_bool(value) if value is not None else False
    except ValueError:
        return False  # the app's own declaration reports the bad value


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_cmd(as_json: bool) -> None:
    """List the loaded plugins with their versions and hooks."""
    app = _make_app()
    cms = app.extensions["transom"]
    items = [p.to_dict() for p in cms.plugins.values()]
    cms.close()
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for p in items:
        origin = p["distribution"] or p["module"]
        click.echo(f"{p['name']:<22} {origin} {p['version'] or ''}".rstrip())
        click.echo(f"    hooks: {', '.join(p['hooks']) or '-'}")


@click.command("settings")
def settings_cmd() -> None:
    """List every declared setting, its value (secrets hidden) and meaning."""
    app = _make_app()
    app.extensions["transom"].close()  # only its declared settings are read
    cfg = app.extensions["transom"].config
    for name, setting in sorted(cfg.declared().items()):
        value = cfg.get(name)
        if value is not None and any(w in name for w in ("PASSWORD", "SECRET", "TOKEN", "KEY")):
            value = "********"
        click.echo(f"{name:<28} {value!s:<24} {setting.description}")


@click.group()
def schema() -> None:
    """Work with the database schema."""


@schema.command("refresh")
def schema_refresh() -> None:
    """Re-read the database's schema and print what Transom sees."""
    app = _make_app()
    try:
        snap = app.extensions["transom"].refresh_schema()
    finally:
        app.extensions["transom"].close()
    user = [c for c in snap.collections.values() if not c.is_system]
    click.echo(f"schema {snap.version}: {len(snap.collections)} collections "
               f"({len(user)} user), {len(snap.relations)} relations")
    for c in sorted(user, key=lambda c: c.collection):
        kind = "view" if c.is_view else ("folder" if c.is_folder else "table")
        click.echo(f"  {c.collection} ({kind}, {len(c.fields)} fields)")


def _read_document(path: str) -> Any:
    """A JSON or YAML file (snapshots and diffs), or a click error saying what is wrong."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except ValueError:
        pass
    import yaml  # lazy: only the schema commands read or write YAML (not `start`)

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise click.ClickException(f"{path} is neither valid JSON nor valid YAML") from exc


def _schema_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a schema-sync function, turning its 400s into click errors."""
    try:
        return fn(*args, **kwargs)
    except TransomError as exc:
        raise click.ClickException(exc.message) from exc


def _plan_of(cms: Any, document: Any, force: bool) -> tuple[Any, list[str]]:
    """The diff and plan of a snapshot file, or of a saved ``{hash, diff}`` file (which is
    refused when the schema changed since it was made)."""
    if isinstance(document, dict) and isinstance(document.get("data"), dict) \
            and "hash" in document["data"]:
        document = document["data"]
    if isinstance(document, dict) and "hash" in document and "diff" in document:
        return document, _schema_call(apply, cms, document, dry_run=True)
    return _schema_call(plan, cms, document, force=force)


def _echo_plan(steps: list[str]) -> None:
    for step in steps:
        click.echo(f"  - {step}")


@schema.command("snapshot")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["json", "yaml"]), default=None,
              help="Output format (default: from the file extension, else json).")
def schema_snapshot(path: str | None, fmt: str | None) -> None:
    """Write the user schema as a Directus snapshot (stdout without PATH)."""
    if fmt is None:
        fmt = "yaml" if path and path.lower().endswith((".yaml", ".yml")) else "json"
    app = _make_app()
    cms = app.extensions["transom"]
    try:
        data = snapshot(cms, refresh=True)
    finally:
        cms.close()
    if fmt == "yaml":
        import yaml  # lazy, as in _read_document

        text = yaml.safe_dump(json.loads(json.dumps(data, default=str)), sort_keys=False,
                              allow_unicode=True)
    else:
        text = json.dumps(data, indent=2, default=str) + "\n"
    if path is None:
        click.echo(text, nl=False)
        return
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    click.echo(f"snapshot written to {path} ({len(data['collections'])} collections, "
               f"{len(data['fields'])} fields, {len(data['relations'])} relations)", err=True)


@schema.command("diff")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Accept another snapshot format version.")
@click.option("--json", "as_json", is_flag=True, help="Print the diff itself as JSON.")
def schema_diff(path: str, force: bool, as_json: bool) -> None:
    """Show what applying the snapshot (or saved diff) in PATH would change."""
    app = _make_app()
    cms = app.extensions["transom"]
    try:
        result, steps = _plan_of(cms, _read_document(path), force)
    finally:
        cms.close()
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
        return
    if result is None:
        click.echo("no differences: the database matches the snapshot")
        return
    click.echo(f"{len(steps)} change(s) to apply:")
    _echo_plan(steps)


@schema.command("apply")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Apply without asking.")
@click.option("--force", is_flag=True, help="Accept another snapshot format version.")
def schema_apply(path: str, dry_run: bool, yes: bool, force: bool) -> None:
    """Make the database match the snapshot in PATH (diff, show the plan, apply).

    PATH may also hold a diff saved from /schema/diff; it is refused if the schema changed
    since it was made."""
    app = _make_app()
    cms = app.extensions["transom"]
    try:
        result, steps = _plan_of(cms, _read_document(path), force)
        if result is None:
            click.echo("no differences: nothing to apply")
            return
        click.echo(f"{len(steps)} change(s){' (dry run)' if dry_run else ''}:")
        _echo_plan(steps)
        if dry_run:
            return
        if not yes and not click.confirm("Apply these changes?", default=False):
            raise click.ClickException("aborted")
        # a bar on a terminal (click prints only the label when stderr is not one)
        with click.progressbar(length=len(steps), label="applying", file=sys.stderr,
                               show_pos=True, item_show_func=lambda s: s) as bar:
            _schema_call(apply, cms, result, progress=lambda step: bar.update(1, step))
        click.echo("schema applied")
    finally:
        cms.close()


def command_app(**overrides: Any) -> Any:
    """The app of a command: no scheduler (only serving workers run jobs)."""
    overrides.setdefault("SCHEDULER", "false")
    try:
        return create_app(overrides)
    except StartupError as exc:
        raise click.ClickException(str(exc)) from exc


@contextmanager
def _cms() -> Iterator[Any]:
    """The kernel of a one-shot command, closed at the end (its watcher thread too)."""
    cms = command_app().extensions["transom"]
    try:
        yield cms
    finally:
        cms.close()


def _fail(exc: TransomError) -> click.ClickException:
    return click.ClickException(f"{exc.code}: {exc.message}")


def _role_id(cms: Any, role: str | None) -> Any:
    """A role given by id or by name (case-insensitive); None for no role."""
    if not role:
        return None
    rows = ItemsService(cms, "directus_roles").read_by_query(
        {"fields": ["id", "name"], "limit": -1})
    for row in rows:
        if str(row["id"]) == role or str(row.get("name", "")).lower() == role.lower():
            return row["id"]
    raise click.ClickException(f"no role {role!r} (give its id or its name)")


@click.group("users")
def users() -> None:
    """Create users and change passwords."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", default=None, help="Role id or name.")
def users_create(email: str, password: str, role: str | None) -> None:
    """Create an active user."""
    with _cms() as cms:
        try:
            user_id = UsersService(cms).create_user(email, password, _role_id(cms, role))
        except TransomError as exc:
            raise _fail(exc) from exc
    click.echo(str(user_id))


@users.command("passwd")
@click.option("--email", required=True)
@click.option("--password", required=True)
def users_passwd(email: str, password: str) -> None:
    """Set a user's password."""
    with _cms() as cms:
        service = UsersService(cms)
        user = service.read_by_email(email, {"fields": ["id"]})
        if user is None:
            raise click.ClickException(f"no user with the email {email!r}")
        try:
            service.set_password(user["id"], password)
        except TransomError as exc:
            raise _fail(exc) from exc
    click.echo(f"password of {email} changed")


@click.group("roles")
def roles() -> None:
    """Create roles."""


@roles.command("create")
@click.option("--role", "name", required=True, help="The role's name.")
@click.option("--admin", is_flag=True, help="Give it administrator access.")
def roles_create(name: str, admin: bool) -> None:
    """Create a role with a policy of its own (admin and app access with ``--admin``),
    as Directus 11 does: access belongs to policies, a role holds them."""
    with _cms() as cms:
        try:
            with cms.begin() as conn:
                role_id = ItemsService(cms, "directus_roles", connection=conn).create_one(
                    {"name": name, "icon": "supervised_user_circle"})
                policy_id = ItemsService(cms, "directus_policies", connection=conn
                                         ).create_one({"name": name, "icon": "badge",
                                                       "admin_access": admin,
                                                       "app_access": admin})
                ItemsService(cms, "directus_access", connection=conn).create_one(
                    {"role": role_id, "policy": policy_id})
        except TransomError as exc:
            raise _fail(exc) from exc
        cms.access_changed()
    click.echo(str(role_id))


@click.command("count")
@click.argument("collection")
def count(collection: str) -> None:
    """Print the number of items of a collection."""
    with _cms() as cms:
        if collection not in cms.schema.collections:
            raise click.ClickException(f"no collection {collection!r}")
        rows = ItemsService(cms, collection).read_by_query({"aggregate": {"count": ["*"]}})
    click.echo(str(rows[0]["count"] if rows else 0))


@click.group("database")
def database() -> None:
    """Install or migrate the system tables."""


@database.command("install")
def database_install() -> None:
    """Create the system tables and the first admin (as ``bootstrap``)."""
    _migrate()


@database.command("migrate:latest")
def migrate_latest() -> None:
    """Apply every pending migration of the core and of the installed plugins."""
    _migrate()


def _pending(cms: Any) -> list[mig.Migration]:
    with cms.engine.connect() as conn:
        return mig.pending_migrations(conn, all_migrations(cms))


def _migrate() -> None:
    """Pending migrations one by one behind a progress bar, then the first admin."""
    with _cms() as cms:
        pending = _pending(cms)
        with click.progressbar(pending, label="migrating", file=sys.stderr, show_pos=True,
                               item_show_func=lambda m: m.version if m else "") as bar:
            for migration in bar:
                mig.run_migrations(cms.engine, [migration], cms.dialect)
        result = run_bootstrap(cms)  # nothing left to migrate: seeds the first admin
    for migration in pending:
        click.echo(f"applied migration {migration.version}")
    if not pending:
        click.echo("the database is up to date")
    admin = result.get("admin")
    if admin:
        click.echo(f"created admin user {admin['email']}")


@database.command("migrate:up")
def migrate_up() -> None:
    """Apply the next pending migration only (as Directus's ``migrate:up``)."""
    with _cms() as cms:
        pending = _pending(cms)
        if not pending:
            click.echo("the database is up to date")
            return
        mig.run_migrations(cms.engine, [pending[0]], cms.dialect)
        cms.schema_changed()
    click.echo(f"applied migration {pending[0].version} ({pending[0].name})")


@database.command("migrate:down")
def migrate_down() -> None:
    """Undo the latest applied migration (as Directus's ``migrate:down``)."""
    with _cms() as cms:
        known = {m.version: m for m in all_migrations(cms)}
        with cms.engine.connect() as conn:
            done = sorted(mig.applied_versions(conn))
        if not done:
            raise click.ClickException("no migration has been applied")
        latest = done[-1]
        migration = known.get(latest)
        if migration is None:
            raise click.ClickException(f"migration {latest} is not one of the installed "
                                       "core's or plugins' migrations: cannot undo it")
        if migration.down is None:
            raise click.ClickException(f"migration {latest} ({migration.name}) cannot be "
                                       "undone")
        table = system_metadata().tables[mig.MIGRATIONS_TABLE]
        with cms.engine.begin() as conn:
            migration.down(conn, cms.dialect)
            conn.execute(sa.delete(table).where(table.c.version == latest))
        cms.schema_changed()
    click.echo(f"reverted migration {latest} ({migration.name})")


@click.command("import")
@click.argument("collection")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_cmd(collection: str, path: str) -> None:
    """Import a CSV or JSON file into a collection (as ``POST /utils/import``)."""
    with _cms() as cms:
        if collection not in cms.schema.collections:
            raise click.ClickException(f"no collection {collection!r}")
        size = os.path.getsize(path)
        with click.progressbar(length=size, label=f"importing {os.path.basename(path)}",
                               file=sys.stderr) as bar, open(path, "rb") as fh:
            try:
                count = import_file(cms, None, collection, fh,
                                    progress=lambda _n: bar.update(fh.tell() - bar.pos))
            except TransomError as exc:
                raise _fail(exc) from exc
    click.echo(f"imported {count} items into {collection}")


#: Directus's database clients -> the questions ``init`` asks for them
CLIENTS = ("sqlite3", "pg", "mysql", "mssql", "oracledb")
DEFAULT_PORTS = {"pg": 5432, "mysql": 3306, "mssql": 1433, "oracledb": 1521}


def _ask(value: Any, text: str, **kwargs: Any) -> Any:
    return value if value is not None else click.prompt(text, **kwargs)


def _env_line(name: str, value: Any) -> str:
    text = str(value)
    if any(c in text for c in " #\"'\n") or text == "":
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name}={text}"


@click.command("init")
@click.option("--client", type=click.Choice(CLIENTS), default=None,
              help="Database client (asked when missing).")
@click.option("--filename", default=None, help="SQLite file (sqlite3).")
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@click.option("--database", "dbname", default=None)
@click.option("--user", default=None)
@click.option("--password", "db_password", default=None, help="Database password.")
@click.option("--admin-email", default=None)
@click.option("--admin-password", default=None)
@click.option("--path", "env_path", default=".env", show_default=True,
              help="Where to write the settings.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option("--skip-install", is_flag=True, help="Write the file only (no tables, no admin).")
def init(client: str | None, filename: str | None, host: str | None, port: int | None,
         dbname: str | None, user: str | None, db_password: str | None,
         admin_email: str | None, admin_password: str | None, env_path: str,
         force: bool, skip_install: bool) -> None:
    """Ask Directus's set-up questions, write ``.env``, create the tables and the admin."""
    if os.path.exists(env_path) and not force:
        raise click.ClickException(f"{env_path} exists: remove it or pass --force")
    client = _ask(client, "Database client", type=click.Choice(CLIENTS), default="sqlite3")
    env: dict[str, Any] = {"KEY": secrets.token_hex(16), "SECRET": secrets.token_urlsafe(48),
                           "DB_CLIENT": client}
    if client == "sqlite3":
        env["DB_FILENAME"] = _ask(filename, "Database file path", default="./data/data.db")
    else:
        env["DB_HOST"] = _ask(host, "Database host", default="127.0.0.1")
        env["DB_PORT"] = _ask(port, "Port", type=int, default=DEFAULT_PORTS[client])
        env["DB_DATABASE"] = _ask(dbname, "Database name", default="directus")
        env["DB_USER"] = _ask(user, "Database user")
        env["DB_PASSWORD"] = _ask(db_password, "Database password", default="",
                                  hide_input=True, show_default=False)
    env["ADMIN_EMAIL"] = _ask(admin_email, "Email", default="admin@example.com")
    env["ADMIN_PASSWORD"] = _ask(admin_password, "Password", hide_input=True,
                                 confirmation_prompt=True)
    folder = os.path.dirname(os.path.abspath(env_path))
    os.makedirs(folder, exist_ok=True)
    if client == "sqlite3":
        db_folder = os.path.dirname(os.path.join(folder, env["DB_FILENAME"]))
        os.makedirs(db_folder, exist_ok=True)
    with open(env_path, "w", encoding="utf-8") as fh:
        fh.write("".join(_env_line(k, v) + "\n" for k, v in env.items()))
    os.chmod(env_path, 0o600)  # it holds the secret and the passwords
    click.echo(f"settings written to {env_path}")
    if skip_install:
        return
    overrides = {k: v for k, v in env.items() if v not in (None, "")}
    if client == "sqlite3":
        overrides["DB_FILENAME"] = os.path.join(folder, env["DB_FILENAME"])
    cms = command_app(**overrides).extensions["transom"]
    try:
        result = run_bootstrap(cms)
    except DBAPIError as exc:
        raise click.ClickException(_database_problem(exc)) from None
    finally:
        cms.close()
    for version in result.get("migrations", []):
        click.echo(f"applied migration {version}")
    admin = result.get("admin")
    if admin:
        click.echo(f"created admin user {admin['email']}")
    click.echo("Transom is set up: run `transom start`")


def add_plugin_commands(cli: click.Group) -> None:
    """Let the plugins add their commands (``register_commands``) to ``cli``."""
    try:
        pm, _ = make_plugin_manager(Config.load(env_file=os.environ.get("CONFIG_ENV_FILE",
                                                                         ".env")))
    except (StartupError, pluggy.PluginValidationError) as exc:
        click.echo(f"warning: plugin commands not loaded: {exc}", err=True)
        return
    pm.hook.register_commands(cli=cli)
