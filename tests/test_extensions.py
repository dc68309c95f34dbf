"""Drop-in extensions from ``EXTENSIONS_PATH`` and the ``transom.api`` surface they use."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from transom.errors import StartupError

pytestmark = pytest.mark.backends("sqlite")

#: The issue's example, a /stats/visits endpoint in a dozen lines, as a drop-in file.
VISITS = '''
from flask import Blueprint
from transom.api import current_context, hookimpl

bp = Blueprint("stats_visits", __name__)

@bp.get("/stats/visits")
def visits():
    items = current_context().services.items("page_visits").read_by_query(
        {"fields": ["count"], "limit": -1})
    return {"data": {"total": sum(i["count"] or 0 for i in items)}}

@hookimpl
def register_blueprints(cms):
    return bp
'''

#: A package with a relative import, a filter and a listener.
PACKAGE_INIT = '''
from transom.api import Filter, InvalidPayloadError, Listener, hookimpl
from .rules import check

SEEN = []

@hookimpl
def register_filters(cms):
    return [Filter("page_visits.items.create", check)]

@hookimpl
def register_listeners(cms):
    return [Listener("page_visits.items.create", lambda meta, ctx: SEEN.append(meta["key"]))]
'''

PACKAGE_RULES = '''
from transom.api import InvalidPayloadError

def check(payload, meta, context):
    if (payload.get("count") or 0) < 0:
        raise InvalidPayloadError("count must not be negative")
    return payload
'''


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def make_visits(app: Any) -> None:
    cms = app.extensions["transom"]
    md = sa.MetaData()
    sa.Table("page_visits", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("path", sa.String(200)), sa.Column("count", sa.Integer))
    with cms.engine.begin() as conn:
        md.create_all(conn)
        conn.execute(md.tables["page_visits"].insert(), [
            {"id": 1, "path": "/", "count": 10}, {"id": 2, "path": "/about", "count": 5}])
    cms.refresh_schema()


@pytest.fixture
def ext_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "extensions"
    folder.mkdir()
    return folder


def test_file_and_package_extensions_are_loaded(make_app, ext_dir, admin_headers):
    write(ext_dir, "visits.py", VISITS)
    write(ext_dir, "rules/__init__.py", PACKAGE_INIT)
    write(ext_dir, "rules/rules.py", PACKAGE_RULES)
    write(ext_dir, "_draft.py", "raise RuntimeError('never imported')")
    write(ext_dir, "notes.txt", "not python")
    (ext_dir / "empty_folder").mkdir()

    app = make_app({"EXTENSIONS_PATH": str(ext_dir)})
    make_visits(app)
    cms = app.extensions["transom"]
    assert {"ext_visits", "ext_rules"} <= set(cms.plugins)
    assert cms.plugins["ext_visits"].hooks == ["register_blueprints"]
    client = app.test_client()

    assert client.get("/stats/visits", headers=admin_headers).get_json() == {
        "data": {"total": 15}}
    # as the caller: the anonymous public policy may not read page_visits
    assert client.get("/stats/visits").status_code == 403

    resp = client.post("/items/page_visits", json={"id": 3, "count": -1}, headers=admin_headers)
    assert resp.status_code == 400 and "negative" in resp.get_json()["errors"][0]["message"]
    resp = client.post("/items/page_visits", json={"id": 3, "count": 2}, headers=admin_headers)
    assert resp.status_code == 200
    rules = cms.pm.get_plugin("ext_rules")
    assert rules.SEEN == [3]
    assert client.get("/stats/visits", headers=admin_headers).get_json()["data"]["total"] == 17


def test_each_app_imports_its_extensions_afresh(make_app, ext_dir):
    write(ext_dir, "counter.py", """
        from transom import hookimpl
        STARTS = []

        @hookimpl
        def startup(cms):
            STARTS.append(cms)
    """)
    first = make_app({"EXTENSIONS_PATH": str(ext_dir)}, bootstrap=False)
    second = make_app({"EXTENSIONS_PATH": str(ext_dir)}, bootstrap=False)
    m1 = first.extensions["transom"].pm.get_plugin("ext_counter")
    m2 = second.extensions["transom"].pm.get_plugin("ext_counter")
    assert m1 is not m2 and len(m1.STARTS) == len(m2.STARTS) == 1


def test_no_folder_or_empty_path_loads_nothing(make_app, tmp_path):
    for path in ("", str(tmp_path / "missing")):
        cms = make_app({"EXTENSIONS_PATH": path}, bootstrap=False).extensions["transom"]
        assert not [n for n in cms.plugins if n.startswith("ext_")]


def test_a_disabled_extension_is_skipped(make_app, ext_dir):
    write(ext_dir, "visits.py", VISITS)
    app = make_app({"EXTENSIONS_PATH": str(ext_dir), "TRANSOM_DISABLE_PLUGINS": "ext_visits"},
                   bootstrap=False)
    assert "ext_visits" not in app.extensions["transom"].plugins


def test_broken_extensions(make_app, ext_dir, caplog):
    write(ext_dir, "needs_lib.py", "import a_module_that_is_not_installed\n")
    with caplog.at_level("WARNING", logger="transom.extensions"):
        app = make_app({"EXTENSIONS_PATH": str(ext_dir)}, bootstrap=False)
    assert "ext_needs_lib" not in app.extensions["transom"].plugins
    assert "a_module_that_is_not_installed" in caplog.text

    write(ext_dir, "typo.py", "def broken(:\n")
    with pytest.raises(StartupError, match="typo.py"):
        make_app({"EXTENSIONS_PATH": str(ext_dir)}, bootstrap=False)
    (ext_dir / "typo.py").unlink()

    write(ext_dir, "unknown_hook.py", """
        from transom import hookimpl

        @hookimpl
        def register_widgets(cms):
            return []
    """)
    with pytest.raises(StartupError, match="register_widgets"):
        make_app({"EXTENSIONS_PATH": str(ext_dir)}, bootstrap=False)


def test_extension_context_api(make_app, admin_headers):
    """``transom.api``: services bound to a caller or the system, transactions, emit."""
    from transom.api import (
        ExtensionContext,
        Filter,
        InvalidPayloadError,
        Listener,
        UsersService,
        hookimpl,
    )

    seen: list[Any] = []

    class Hooks:
        name = "api_user"

        @hookimpl
        def register_listeners(self, cms):
            return [Listener("visits.counted", lambda meta, ctx: seen.append(meta))]

        @hookimpl
        def register_filters(self, cms):
            def double(payload, meta, ctx):
                return {**payload, "n": payload["n"] * 2}
            return [Filter("visits.count", double)]

    app = make_app(plugins=[Hooks()])
    make_visits(app)
    ctx = ExtensionContext.for_app(app)
    assert ctx.accountability is None and ctx.schema.get("page_visits") is not None
    assert ctx.config.get("TESTING") is True
    assert ctx.settings()["project_name"]

    with ctx.transaction() as tx:
        tx.services.items("page_visits").create_one({"id": 7, "count": 1})
        assert tx.connection is not None
    with pytest.raises(InvalidPayloadError), ctx.transaction() as tx:
        tx.services.items("page_visits").create_one({"id": 8, "count": 1})
        raise InvalidPayloadError("changed my mind")
    keys = [i["id"] for i in ctx.services.items("page_visits").read_by_query({"sort": ["id"]})]
    assert keys == [1, 2, 7]  # 8 was rolled back with its transaction

    ctx.emit("visits.counted", {"total": 3})
    assert seen == [{"total": 3, "event": "visits.counted"}]
    assert ctx.emit_filter("visits.count", {"n": 2}) == {"n": 4}

    assert "page_visits" in {c["collection"] for c in ctx.services.collections().read_all()}
    assert {f["field"] for f in ctx.services.fields().read_all("page_visits")} == {
        "id", "path", "count"}
    assert isinstance(ctx.services.relations().read_all(), list)

    users = ctx.services.users()
    assert isinstance(users, UsersService)
    user_id = users.create_user("Editor@Example.com", "a-long-password")
    assert users.read_by_email("editor@example.com")["id"] == user_id
    assert users.verify_password("EDITOR@example.com", "a-long-password") == user_id
    assert users.verify_password("editor@example.com", "wrong") is None
    users.set_password(user_id, "another-password")
    assert users.verify_password("editor@example.com", "another-password") == user_id
    with pytest.raises(Exception, match="email"):
        users.create_user("not-an-email", "pw")

    with app.test_request_context("/", headers=admin_headers):
        from transom.api import current_context

        req = current_context()
        assert req.accountability.admin
        assert req.as_admin().accountability is None


def test_users_service_password_policy(make_app):
    from transom.api import ExtensionContext, FailedValidationError

    app = make_app()
    ctx = ExtensionContext.for_app(app)
    with ctx.database.begin() as conn:
        conn.execute(sa.text("UPDATE directus_settings SET auth_password_policy = :p"),
                     {"p": "/^.{12,}$/"})
    users = ctx.services.users()
    with pytest.raises(FailedValidationError, match="policy"):
        users.create_user("short@example.com", "short")
    assert users.create_user("long@example.com", "long-enough-password")
