"""The administration commands against each database, checked through the API of a live
server: the first through the ``transom`` console script as users run it, the others
in-process (the same click commands, without a new interpreter each time)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from transom.testing.databases import fresh_database
from transom.testing.live_support import LIVE_ADMIN_TOKEN, database_env

TRANSOM = str(Path(sys.executable).with_name("transom"))


def script(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TRANSOM, *args], env=env, capture_output=True, text=True,
                          timeout=120)


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run(monkeypatch):
    from transom import logs
    from transom.cli import cli

    monkeypatch.setattr(logs, "_target", logs._target)  # the group moves logs to stderr

    def invoke(env: dict[str, str], *args: str) -> Ran:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        result = CliRunner().invoke(cli, list(args))
        return Ran(result.exit_code, result.stdout, result.stderr)

    return invoke


@pytest.fixture
def cli_env(backend, tmp_path):
    with fresh_database(backend, tmp_path) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
        env.update(database_env(url), CONFIG_ENV_FILE=str(tmp_path / "none.env"),
                   ADMIN_EMAIL="admin@example.com", ADMIN_PASSWORD="admin-pass-123",
                   ADMIN_TOKEN=LIVE_ADMIN_TOKEN,
                   HASH_MEMORY_COST="1024", HASH_TIME_COST="1", LOG_LEVEL="warn")
        yield env, url


def test_users_roles_count_and_migrate(cli_env, live_server, run):
    env, url = cli_env
    first = script(env, "database", "migrate:latest")
    assert first.returncode == 0, first.stderr
    assert "applied migration" in first.stdout
    again = run(env, "database", "migrate:latest")
    assert again.returncode == 0 and "up to date" in again.stdout

    role = run(env, "roles", "create", "--role", "Editors")
    assert role.returncode == 0, role.stderr
    role_id = role.stdout.strip()
    made = run(env, "users", "create", "--email", "ed@example.com", "--password",
               "first-pass-123", "--role", "editors")
    assert made.returncode == 0, made.stderr
    assert run(env, "count", "directus_users").stdout.strip() == "2"

    bad = run(env, "users", "create", "--email", "not-an-email", "--password", "x")
    assert bad.returncode != 0 and "FAILED_VALIDATION" in bad.stderr
    missing = run(env, "count", "no_such_collection")
    assert missing.returncode != 0 and "no collection 'no_such_collection'" in missing.stderr
    unknown = run(env, "users", "create", "--email", "x@example.com", "--password",
                  "abc-def-123", "--role", "nobody")
    assert unknown.returncode != 0 and "no role 'nobody'" in unknown.stderr

    changed = run(env, "users", "passwd", "--email", "ed@example.com", "--password",
                  "second-pass-456")
    assert changed.returncode == 0, changed.stderr

    server = live_server(database=url)
    status, _ = server.call("POST", "/auth/login", {"email": "ed@example.com",
                                                    "password": "first-pass-123"}, token=None)
    assert status == 401
    status, body = server.call("POST", "/auth/login", {"email": "ed@example.com",
                                                       "password": "second-pass-456"},
                               token=None)
    assert status == 200, body
    user = server.ok("GET", "/users?filter[email][_eq]=ed@example.com&fields=role.id,"
                     "role.name")[0]
    assert user["role"] == {"id": role_id, "name": "Editors"}
    access = server.ok("GET", f"/access?filter[role][_eq]={role_id}&fields=policy.admin_access")
    assert access == [{"policy": {"admin_access": False}}]
