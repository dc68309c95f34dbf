"""Directus's administration commands: ``users create|passwd``, ``roles create``,
``count <collection>`` and ``database migrate:latest``.

They act as the system (no permission checks) through the same services as the API, so
the password policy, hashing, validation and hooks are the ones a request gets.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from .api import ItemsService, UsersService
from .app import create_app
from .errors import StartupError, TransomError
from .system.bootstrap import bootstrap as run_bootstrap


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


def _migrate() -> None:
    with _cms() as cms:
        result = run_bootstrap(cms)
    for version in result.get("migrations", []):
        click.echo(f"applied migration {version}")
    if not result.get("migrations"):
        click.echo("the database is up to date")


def add_admin_commands(cli: click.Group) -> None:
    for command in (users, roles, count, database):
        cli.add_command(command)
