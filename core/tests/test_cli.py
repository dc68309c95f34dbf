"""The ``transom`` command: a fast ``--help`` that still lists plugin commands, ``init``,
``database migrate:up|down`` and ``import`` with a progress bar."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from transom.testing.databases import fresh_database
from transom.testing.live_support import database_env

TRANSOM = str(Path(sys.executable).with_name("transom"))
EXTENSION = '''
import click
from transom import hookimpl


@hookimpl
def register_commands(cli):
    @cli.command("hello-ext")
    def hello():
        """Say hello from a drop-in extension."""
        click.echo("hello from an extension")
'''


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DB_", "ADMIN_", "TRANSOM_", "EXTENSIONS"))}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), CONFIG_ENV_FILE=str(tmp_path / "no.env"),
               HASH_MEMORY_COST="1024", HASH_TIME_COST="1", LOG_LEVEL="warn", **extra)
    return env


def script(env, *args, cwd=None, stdin=None):
    return subprocess.run([TRANSOM, *args], env=env, capture_output=True, text=True,
                          timeout=300, cwd=cwd, input=stdin)


def test_help_lists_builtin_and_cached_plugin_commands(tmp_path):
    ext = tmp_path / "extensions"
    ext.mkdir()
    (ext / "greeter.py").write_text(EXTENSION)
    env = _env(tmp_path, EXTENSIONS_PATH=str(ext), DB_CLIENT="sqlite3",
               DB_FILENAME=str(tmp_path / "x.db"))
    first = script(env, "--help")  # loads the plugins once and caches their commands
    assert first.returncode == 0, first.stderr
    cached = list((tmp_path / "cache" / "transom").glob("commands-*.json"))
    assert len(cached) == 1
    assert json.loads(cached[0].read_text()) == {
        "hello-ext": "Say hello from a drop-in extension."}
    second = script(env, "--help")  # from the cache
    for out in (first.stdout, second.stdout):
        for name in ("start", "init", "import", "database", "users", "schema", "hello-ext"):
            assert f"\n  {name} " in out, (name, out)
    ran = script(env, "hello-ext")
    assert ran.returncode == 0 and ran.stdout.strip() == "hello from an extension"
    unknown = script(env, "no-such-command")
    assert unknown.returncode == 2 and "No such command 'no-such-command'" in unknown.stderr
    # another configuration has its own cache entry: the command is not listed there
    other = script(_env(tmp_path, DB_CLIENT="sqlite3", DB_FILENAME=str(tmp_path / "x.db")),
                   "--help")
    assert "hello-ext" not in other.stdout and "\n  start " in other.stdout


def test_help_imports_neither_flask_nor_sqlalchemy(tmp_path):
    code = ("import sys; from transom.cli import cli\n"
            "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
            "print([m for m in ('flask', 'sqlalchemy', 'transom.app') if m in sys.modules])")
    (tmp_path / "cache" / "transom").mkdir(parents=True)
    env = _env(tmp_path)
    # an empty plugin cache for this configuration: nothing to load
    probe = subprocess.run([sys.executable, "-c", "from transom.cli import _cache_file; "
                            "print(_cache_file())"], env=env, capture_output=True, text=True,
                           cwd=tmp_path)
    Path(probe.stdout.strip()).write_text("{}")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_init_non_interactive_and_prompted(tmp_path):
    env = _env(tmp_path)
    made = script(env, "init", "--client", "sqlite3", "--filename", "./data/site.db",
                  "--admin-email", "boss@example.com", "--admin-password", "pass-123-456",
                  cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    text = (tmp_path / ".env").read_text()
    lines = dict(line.split("=", 1) for line in text.splitlines())
    assert lines["DB_CLIENT"] == "sqlite3" and lines["DB_FILENAME"] == "./data/site.db"
    assert lines["ADMIN_EMAIL"] == "boss@example.com" and len(lines["SECRET"]) > 40
    assert (tmp_path / ".env").stat().st_mode & 0o077 == 0
    assert "created admin user boss@example.com" in made.stdout
    env.pop("CONFIG_ENV_FILE")
    count = script(env, "count", "directus_users", cwd=tmp_path)  # reads ./.env
    assert count.returncode == 0, count.stderr
    assert count.stdout.strip() == "1"
    again = script(env, "init", cwd=tmp_path)
    assert again.returncode != 0 and "exists" in again.stderr

    # the questions, answered on stdin
    folder = tmp_path / "asked"
    folder.mkdir()
    asked = script(env, "init", cwd=folder,
                   stdin="sqlite3\n./db.sqlite\nme@example.com\nsecret-789\nsecret-789\n")
    assert asked.returncode == 0, asked.stderr
    for question in ("Database client", "Database file path", "Email", "Password"):
        assert question in asked.stdout + asked.stderr  # hidden input asks on the tty/stderr
    env_text = (folder / ".env").read_text()
    assert "DB_FILENAME=./db.sqlite" in env_text and "ADMIN_EMAIL=me@example.com" in env_text
    assert (folder / "db.sqlite").exists()


@pytest.fixture
def run(monkeypatch, tmp_path):
    from transom import logs
    from transom.cli import cli

    monkeypatch.setattr(logs, "_target", logs._target)  # the group moves logs to stderr
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CONFIG_ENV_FILE", str(tmp_path / "none.env"))
    for name in ("HASH_MEMORY_COST", "HASH_TIME_COST"):
        monkeypatch.setenv(name, "1024" if "MEMORY" in name else "1")

    def invoke(env, *args, stdin=None):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return CliRunner().invoke(cli, list(args), input=stdin)

    return invoke


@pytest.fixture
def fresh_env(backend, tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("DB_"):
            monkeypatch.delenv(name)
    with fresh_database(backend, tmp_path) as url:
        yield database_env(url), url


def _versions(url):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(r[0] for r in conn.execute(sa.text(
                "SELECT version FROM directus_migrations")))
    finally:
        engine.dispose()


def test_migrate_up_and_down(fresh_env, run):
    env, url = fresh_env
    up = run(env, "database", "migrate:up")
    assert up.exit_code == 0, up.output
    assert _versions(url) == ["20250101T"] and "applied migration 20250101T" in up.stdout
    latest = run(env, "database", "migrate:latest")
    assert latest.exit_code == 0, latest.output
    applied = _versions(url)
    assert len(applied) > 1
    down = run(env, "database", "migrate:down")
    assert down.exit_code == 0, down.output
    assert f"reverted migration {applied[-1]}" in down.stdout
    assert _versions(url) == applied[:-1]
    again = run(env, "database", "migrate:up")
    assert again.exit_code == 0 and f"applied migration {applied[-1]}" in again.stdout
    assert _versions(url) == applied
    done = run(env, "database", "migrate:up")
    assert done.exit_code == 0 and "up to date" in done.stdout


@pytest.mark.backends("postgres", "mysql")
def test_init_on_a_database_server(fresh_env, run, tmp_path, backend):
    _env_vars, url = fresh_env
    url = sa.make_url(url)
    client = {"postgres": "pg", "mysql": "mysql"}[backend]
    args = ["init", "--client", client, "--host", url.host, "--port", str(url.port),
            "--database", url.database, "--user", url.username,
            "--admin-email", "owner@example.com", "--admin-password", "pass-123-456",
            "--path", str(tmp_path / "site" / ".env")]
    if url.password:
        args += ["--password", url.password]
    made = run({}, *args, stdin="\n")  # an empty database password when none is given
    assert made.exit_code == 0, made.output
    settings = (tmp_path / "site" / ".env").read_text()
    assert f"DB_CLIENT={client}" in settings and f"DB_DATABASE={url.database}" in settings
    assert "20250101T" in _versions(url)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            emails = conn.execute(sa.text("SELECT email FROM directus_users")).scalars().all()
    finally:
        engine.dispose()
    assert emails == ["owner@example.com"]


def test_import_command(fresh_env, run, tmp_path):
    env, url = fresh_env
    assert run(env, "database", "migrate:latest").exit_code == 0
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(50) "
                             "NOT NULL, n INTEGER)"))
    engine.dispose()
    csv_path = tmp_path / "notes.csv"
    csv_path.write_text("id,body,n\n" + "".join(f"{i},note {i},{i * 2}\n"
                                                 for i in range(1, 1201)))
    done = run(env, "import", "notes", str(csv_path))
    assert done.exit_code == 0, done.output
    assert "imported 1200 items into notes" in done.stdout
    assert "importing notes.csv" in done.stderr  # the progress bar's label
    assert run(env, "count", "notes").stdout.strip() == "1200"
    bad = tmp_path / "bad.json"
    bad.write_text('[{"id": 5000, "body": "ok"}, {"id": 5001}]')
    failed = run(env, "import", "notes", str(bad))
    assert failed.exit_code != 0 and "Row 2" in failed.stderr
    assert run(env, "count", "notes").stdout.strip() == "1200"
    missing = run(env, "import", "nope", str(bad))
    assert missing.exit_code != 0 and "no collection 'nope'" in missing.stderr
