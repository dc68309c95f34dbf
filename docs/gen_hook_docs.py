"""Write docs/hooks/<name>.md for every hook spec, from the spec's signature and docstring.

The spec docstrings in ``transom.hookspecs`` are the only source of truth; run this after
changing one (``uv run python docs/gen_hook_docs.py``). ``tests/test_hooks_meta.py`` fails
when a page is missing or out of date.
"""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path

from transom import hookspecs

HERE = Path(__file__).parent / "hooks"

EXAMPLES: dict[str, str] = {
    "add_hookspecs": '''from transom import hookimpl
from . import my_hookspecs

@hookimpl
def add_hookspecs(pm):
    pm.add_hookspecs(my_hookspecs)''',
    "register_settings": '''from transom import hookimpl
from transom.config import Setting

@hookimpl
def register_settings():
    return [Setting("MY_PLUGIN_URL", None, "str", "Where my plugin sends things.")]''',
    "register_dialects": '''from transom import hookimpl
from .dialect import CockroachDialect

@hookimpl
def register_dialects():
    return [CockroachDialect]''',
    "prepare_connection": '''@hookimpl
def prepare_connection(cms, connection, dialect):
    if dialect.name == "sqlite":
        connection.create_function("reverse", 1, lambda s: s[::-1] if s else s)''',
    "extend_schema": '''@hookimpl
def extend_schema(cms, schema):
    return {"fields": [{"collection": "articles", "field": "body",
                        "interface": "input-rich-text-md"}]}''',
    "register_migrations": '''from transom.system.migrations import Migration

def _up(conn, dialect):
    conn.exec_driver_sql("CREATE TABLE my_plugin_log (id INTEGER PRIMARY KEY, msg TEXT)")

@hookimpl
def register_migrations(cms):
    return [Migration("20260101M", "my-plugin-log", _up)]''',
    "register_storage": '''from transom.api import LocalStorage

class ArchiveStorage(LocalStorage):
    """Files on a mounted archive volume, under STORAGE_<LOC>_ROOT."""

@hookimpl
def register_storage(cms):
    return {"archive": ArchiveStorage}  # STORAGE_COLD_DRIVER=archive''',
    "register_blueprints": '''from flask import Blueprint
bp = Blueprint("hello", __name__)

@bp.get("/hello")
def hello():
    return {"data": "hi"}

@hookimpl
def register_blueprints(cms):
    return bp''',
    "init_app": '''@hookimpl
def init_app(cms, app):
    app.extensions["transom_my_plugin"] = {"started": True}''',
    "accountability_from_request": '''from transom.accountability import Accountability

@hookimpl(tryfirst=True)
def accountability_from_request(cms, request):
    key = request.headers.get("X-Api-Key")
    if key == cms.config.get("MY_SERVICE_KEY"):
        return Accountability(admin=True, app=True)
    return None''',
    "register_auth_providers": '''@hookimpl
def register_auth_providers(cms):
    return [LdapProvider()]''',
    "permission_rules": '''from transom.permissions.rules import Rule

@hookimpl
def permission_rules(cms, accountability, action, collection):
    if collection == "articles" and action == "read":
        return Rule("articles", "read", {"status": {"_eq": "published"}}, "*",
                    reason="everyone reads published articles")''',
    "register_filters": '''from transom.events import Filter

def slugify(payload, meta, context):
    payload.setdefault("slug", payload.get("title", "").lower().replace(" ", "-"))
    return payload

@hookimpl
def register_filters(cms):
    return [Filter("articles.items.create", slugify)]''',
    "register_listeners": '''from transom.events import Listener

@hookimpl
def register_listeners(cms):
    return [Listener("items.create", lambda meta, context: print(meta["key"]))]''',
    "register_schedules": '''from transom.api import ExtensionContext, Schedule, hookimpl

def purge_old_visits(context):
    ctx = ExtensionContext.from_event(context)  # acts as the system
    ctx.services.items("page_visits").delete_by_query(
        {"filter": {"date": {"_lt": "$NOW(-90 days)"}}})
    ctx.logger.info("old visits purged at %s", context.extra["time"])

@hookimpl
def register_schedules(cms):
    return [Schedule("0 3 * * *", purge_old_visits, name="purge-old-visits")]''',
    "register_health_checks": '''from transom.health import HealthCheck

@hookimpl
def register_health_checks(cms):
    return HealthCheck("storage:local:responseTime", check_disk, "storage", required=False)''',
    "send_email": '''@hookimpl
def send_email(cms, message):
    my_mail_api.send(message.to, message.subject, message.text)
    return True''',
    "startup": '''@hookimpl
def startup(cms):
    cms.log.info("schema has %d collections", len(cms.schema.collections))''',
    "shutdown": '''@hookimpl
def shutdown(cms):
    my_client.close()''',
    "register_commands": '''import click

@hookimpl
def register_commands(cli):
    @cli.command()
    def hello():
        click.echo("hello")''',
    "handle_exception": '''@hookimpl
def handle_exception(cms, request, exception):
    if isinstance(exception, MyUpstreamTimeout):
        return {"errors": [{"message": "Upstream timed out",
                            "extensions": {"code": "SERVICE_UNAVAILABLE"}}]}, 503
    return None''',
}


def specs() -> list[tuple[str, inspect.Signature, str, dict]]:
    out = []
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        opts = getattr(fn, "transom_spec", None)
        if opts is None:
            continue
        out.append((name, inspect.signature(fn), inspect.getdoc(fn) or "", opts))
    return out


def heading(name: str, sig: inspect.Signature) -> str:
    return f"# {name}({', '.join(sig.parameters)})"


def render(name: str, sig: inspect.Signature, doc: str, opts: dict) -> str:
    kind = []
    if opts.get("firstresult"):
        kind.append("firstresult: the first non-None answer wins")
    if opts.get("historic"):
        kind.append("historic: replayed for plugins registered later")
    parts = [heading(name, sig), ""]
    if kind:
        parts += [f"*{'; '.join(kind)}*", ""]
    parts += [doc, ""]
    if name in EXAMPLES:
        parts += ["## Example", "", "```python", textwrap.dedent(EXAMPLES[name]), "```", ""]
    return "\n".join(parts)


def main() -> None:
    HERE.mkdir(exist_ok=True)
    index = ["# Hook reference", "",
             "Every hook Transom defines, generated from `transom.hookspecs`.", ""]
    for name, sig, doc, opts in specs():
        (HERE / f"{name}.md").write_text(render(name, sig, doc, opts))
        index.append(f"- [`{name}`]({name}.md): {doc.splitlines()[0] if doc else ''}")
    (HERE / "README.md").write_text("\n".join(index) + "\n")


if __name__ == "__main__":
    main()
