"""Schema as code: ``/schema/snapshot``, ``/schema/diff``, ``/schema/apply`` and the
``transom schema`` commands, within one database and from SQLite to PostgreSQL/MariaDB."""

from __future__ import annotations

import copy
import io
import json
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from transom.cli import cli
from transom.services import schema_sync
from transom.testing.helpers import call, data, other_app
from transom.testing.plugin import ADMIN_TOKEN, base_config

pytestmark = pytest.mark.backends("sqlite")

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


# -- helpers ---------------------------------------------------------------------------------
def build_schema(client: Any) -> None:
    """Two collections with most field types, an m2o (articles.author) and its o2m alias
    (authors.articles), made through the API as an admin would."""
    call(client, "post", "/collections", {
        "collection": "authors", "meta": {"icon": "person", "note": "People who write"},
        "schema": {},
        "fields": [
            {"field": "id", "type": "integer",
             "schema": {"is_primary_key": True, "has_auto_increment": True},
             "meta": {"hidden": True, "readonly": True, "interface": "input"}},
            {"field": "name", "type": "string",
             "schema": {"max_length": 100, "is_nullable": False},
             "meta": {"interface": "input", "required": True, "width": "half"}},
            {"field": "bio", "type": "text", "meta": {"interface": "input-multiline"}},
            {"field": "age", "type": "integer", "schema": {"default_value": 0}},
            {"field": "salary", "type": "decimal",
             "schema": {"numeric_precision": 10, "numeric_scale": 2}},
            {"field": "active", "type": "boolean", "schema": {"default_value": True}},
            {"field": "profile", "type": "json", "meta": {"options": {"language": "json"}}},
            {"field": "born", "type": "timestamp"},
            {"field": "token", "type": "uuid", "schema": {"is_unique": True}},
            {"field": "status", "type": "string",
             "schema": {"default_value": "draft", "is_indexed": True}},
        ]})
    call(client, "post", "/collections", {
        "collection": "articles", "meta": {"icon": "article", "sort_field": None},
        "schema": {},
        "fields": [
            {"field": "id", "type": "uuid", "schema": {"is_primary_key": True}},
            {"field": "title", "type": "string", "meta": {"interface": "input"}},
            {"field": "created", "type": "dateTime",
             "schema": {"default_value": "CURRENT_TIMESTAMP"}},
        ]})
    call(client, "post", "/fields/articles", {
        "field": "author", "type": "integer",
        "meta": {"special": ["m2o"], "interface": "select-dropdown-m2o"}})
    call(client, "post", "/relations", {
        "collection": "articles", "field": "author", "related_collection": "authors",
        "meta": {"one_field": "articles"}, "schema": {"on_delete": "SET NULL"}})


def names(items: list[dict[str, Any]], *keys: str) -> set[Any]:
    return {tuple(i[k] for k in keys) if len(keys) > 1 else i[keys[0]] for i in items}


def kinds(entries: list[dict[str, Any]], *keys: str) -> dict[Any, str]:
    """``{key: N|D|E}`` of a diff section (E for any change inside an object)."""
    out = {}
    for e in entries:
        key = tuple(e[k] for k in keys) if len(keys) > 1 else e[keys[0]]
        ops = e["diff"]
        out[key] = ops[0]["kind"] if len(ops) == 1 and "path" not in ops[0] else "E"
    return out


# -- snapshot --------------------------------------------------------------------------------
def test_snapshot_shape(app, client):
    build_schema(client)
    with app.extensions["transom"].engine.begin() as conn:  # a table without any metadata
        conn.exec_driver_sql("CREATE TABLE legacy (id INTEGER PRIMARY KEY, code VARCHAR(10))")
    snap = data(call(client, "get", "/schema/snapshot"))
    assert snap["version"] == 1 and snap["directus"] == "11.0.0-transom"
    assert snap["vendor"] == "sqlite"
    assert [c["collection"] for c in snap["collections"]] == ["articles", "authors", "legacy"]
    legacy = next(c for c in snap["collections"] if c["collection"] == "legacy")
    assert legacy["meta"] is None and legacy["schema"] == {"name": "legacy"}
    assert ("legacy", "code") in names(snap["fields"], "collection", "field")
    assert not any(c["collection"].startswith("directus_") for c in snap["collections"])
    keys = [(f["collection"], f["field"]) for f in snap["fields"]]
    assert keys == sorted(keys)
    for f in snap["fields"]:
        assert set(f) == {"collection", "field", "type", "meta", "schema"}
        assert f["meta"] is None or "id" not in f["meta"]
    alias = next(f for f in snap["fields"] if f["field"] == "articles")
    assert alias["type"] == "alias" and alias["schema"] is None
    assert alias["meta"]["special"] == ["o2m"]
    [rel] = snap["relations"]
    assert (rel["collection"], rel["field"], rel["related_collection"]) == (
        "articles", "author", "authors")
    assert "id" not in rel["meta"] and rel["meta"]["one_field"] == "articles"
    # deterministic: the same schema gives the same snapshot and hash
    again = data(call(client, "get", "/schema/snapshot"))
    assert again == snap
    assert schema_sync.schema_hash(again) == schema_sync.schema_hash(snap)


def test_admin_only(client):
    for method, url in (("get", "/schema/snapshot"), ("post", "/schema/diff"),
                        ("post", "/schema/apply")):
        resp = getattr(client, method)(url, json={})
        assert resp.status_code == 403
        assert resp.get_json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_export_downloads(client):
    build_schema(client)
    resp = call(client, "get", "/schema/snapshot?export=yaml")
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="snapshot-')
    assert resp.headers["Content-Disposition"].endswith('.yaml"')
    from_yaml = yaml.safe_load(resp.get_data(as_text=True))
    resp = call(client, "get", "/schema/snapshot?export=json")
    from_json = json.loads(resp.get_data(as_text=True))
    assert from_yaml == from_json == data(call(client, "get", "/schema/snapshot"))
    call(client, "get", "/schema/snapshot?export=xml", status=400)


# -- diff and apply --------------------------------------------------------------------------
def test_diff_detects_and_apply_makes_changes(app, client):
    build_schema(client)
    base = data(call(client, "get", "/schema/snapshot"))
    call(client, "post", "/schema/diff", base, status=204)  # nothing differs

    want = copy.deepcopy(base)
    # a new collection with its fields, and a new m2o from it to authors
    want["collections"].append({"collection": "tags", "meta": {"icon": "label", "note": None},
                                "schema": {"name": "tags"}})
    want["fields"] += [
        {"collection": "tags", "field": "id", "type": "integer", "meta": None,
         "schema": {"is_primary_key": True, "has_auto_increment": True, "is_nullable": False}},
        {"collection": "tags", "field": "label", "type": "string",
         "meta": {"interface": "input", "note": "shown in lists"},
         "schema": {"max_length": 40, "is_nullable": True, "default_value": "new"}},
        {"collection": "tags", "field": "owner", "type": "integer",
         "meta": {"special": ["m2o"], "interface": "select-dropdown-m2o"},
         "schema": {"is_nullable": True}},
        {"collection": "authors", "field": "nickname", "type": "string",
         "meta": {"interface": "input"}, "schema": {"max_length": 30}},
    ]
    want["relations"].append({"collection": "tags", "field": "owner",
                              "related_collection": "authors",
                              "meta": {"one_field": None, "one_deselect_action": "nullify"},
                              "schema": None})
    # changed: collection meta, a field's length and note; removed: a field, the relation
    want["collections"][1]["meta"]["note"] = "Writers"
    name = next(f for f in want["fields"] if f["field"] == "name")
    name["schema"]["max_length"] = 150
    name["meta"]["note"] = "Full name"
    want["fields"] = [f for f in want["fields"] if f["field"] not in ("bio", "articles")]
    want["relations"] = [r for r in want["relations"] if r["field"] != "author"]

    result = data(call(client, "post", "/schema/diff", want))
    diff = result["diff"]
    assert len(result["hash"]) == 64
    assert kinds(diff["collections"], "collection") == {"tags": "N", "authors": "E"}
    fields = kinds(diff["fields"], "collection", "field")
    assert fields == {("tags", "id"): "N", ("tags", "label"): "N", ("tags", "owner"): "N",
                      ("authors", "nickname"): "N", ("authors", "name"): "E",
                      ("authors", "bio"): "D", ("authors", "articles"): "D"}
    name_ops = next(e for e in diff["fields"] if e["field"] == "name")["diff"]
    assert {"kind": "E", "path": ["schema", "max_length"], "lhs": 100, "rhs": 150} in name_ops
    assert {"kind": "E", "path": ["meta", "note"], "lhs": None, "rhs": "Full name"} in name_ops
    assert kinds(diff["relations"], "collection", "field") == {
        ("tags", "owner"): "N", ("articles", "author"): "D"}

    # a dry run answers the plan and changes nothing
    before = data(call(client, "get", "/schema/snapshot"))
    plan = data(call(client, "post", "/schema/apply?dry_run=true", result))["plan"]
    assert plan[0].startswith("create collection tags")
    assert any(p.startswith("update field authors.name") for p in plan)
    assert plan[-3:] == ["delete relation articles.author", "delete field authors.articles",
                         "delete field authors.bio"]
    assert data(call(client, "get", "/schema/snapshot")) == before

    call(client, "post", "/schema/apply", result, status=204)
    fields_now = {f["field"]: f for f in data(call(client, "get", "/fields/authors"))}
    assert "bio" not in fields_now and "articles" not in fields_now
    assert fields_now["name"]["schema"]["max_length"] == 150
    assert fields_now["name"]["meta"]["note"] == "Full name"
    assert fields_now["nickname"]["schema"]["max_length"] == 30
    assert data(call(client, "get", "/collections/authors"))["meta"]["note"] == "Writers"
    tags = {f["field"]: f for f in data(call(client, "get", "/fields/tags"))}
    assert tags["label"]["schema"]["default_value"] == "new"
    assert tags["label"]["meta"]["note"] == "shown in lists"
    assert tags["id"]["meta"] is None  # a column without metadata stays without
    rels = names(data(call(client, "get", "/relations")), "collection", "field")
    assert ("tags", "owner") in rels and ("articles", "author") not in rels

    # the same diff again is stale; a fresh diff of the same snapshot is empty
    resp = call(client, "post", "/schema/apply", result, status=400)
    assert "stale diff" in resp.get_json()["errors"][0]["message"]
    call(client, "post", "/schema/diff", want, status=204)
    # and the items work through the new relation
    author = data(call(client, "post", "/items/authors", {"name": "Ada"}))["id"]
    tag = data(call(client, "post", "/items/tags", {"owner": author}))
    assert tag["label"] == "new"
    got = data(call(client, "get", f"/items/tags/{tag['id']}?fields=label,owner.name"))
    assert got == {"label": "new", "owner": {"name": "Ada"}}


def test_apply_refuses_a_diff_made_before_a_change(client):
    build_schema(client)
    want = data(call(client, "get", "/schema/snapshot"))
    want["fields"].append({"collection": "authors", "field": "x", "type": "integer",
                           "meta": None, "schema": {}})
    result = data(call(client, "post", "/schema/diff", want))
    call(client, "post", "/fields/authors", {"field": "y", "type": "string"})
    for url in ("/schema/apply", "/schema/apply?dry_run=true"):
        resp = call(client, "post", url, result, status=400)
        assert schema_sync.STALE_MESSAGE in resp.get_json()["errors"][0]["message"]
    call(client, "post", "/schema/apply", {"diff": result["diff"]}, status=400)  # no hash


def test_version_needs_force_and_envelope_is_accepted(client):
    build_schema(client)
    snap = data(call(client, "get", "/schema/snapshot"))
    future = {**snap, "version": 2}
    resp = call(client, "post", "/schema/diff", future, status=400)
    assert "force" in resp.get_json()["errors"][0]["message"]
    call(client, "post", "/schema/diff?force", future, status=204)
    call(client, "post", "/schema/diff?force=true", future, status=204)
    other_vendor = {**snap, "vendor": "postgres", "directus": "11.5.0"}
    call(client, "post", "/schema/diff", other_vendor, status=204)  # vendors may differ
    # the snapshot still in its {data: ...} envelope is understood too
    call(client, "post", "/schema/diff", {"data": snap}, status=204)
    call(client, "post", "/schema/diff", {"collections": "nope"}, status=400)


def test_yaml_round_trip_to_a_fresh_database(client, tmp_path):
    build_schema(client)
    set_app_only_meta(client)
    exported = call(client, "get", "/schema/snapshot?export=yaml").get_data()
    with other_app("sqlite", tmp_path) as target:
        tc = target.test_client()
        upload = {"file": (io.BytesIO(exported), "snapshot.yaml")}
        result = data(call(tc, "post", "/schema/diff", data=upload,
                           content_type="multipart/form-data"))
        assert kinds(result["diff"]["collections"], "collection") == {
            "articles": "N", "authors": "N"}
        call(tc, "post", "/schema/apply", result, status=204)
        upload = {"file": (io.BytesIO(exported), "snapshot.yaml")}
        call(tc, "post", "/schema/diff", data=upload, content_type="multipart/form-data",
             status=204)
        source = data(call(client, "get", "/schema/snapshot"))
        copied = data(call(tc, "get", "/schema/snapshot"))
        assert copied == source


def set_app_only_meta(client: Any) -> None:
    """Metadata that only the app sets (JSON, booleans) must survive the trip too."""
    call(client, "patch", "/collections/authors", {"meta": {
        "translations": [{"language": "fr-FR", "translation": "Auteurs"}],
        "hidden": True, "display_template": "{{name}}"}})


# -- across databases ------------------------------------------------------------------------
@pytest.mark.parametrize("target_backend", ["postgres", "mysql"])
def test_sqlite_snapshot_applies_to_other_databases(client, tmp_path, target_backend):
    build_schema(client)
    snap = data(call(client, "get", "/schema/snapshot"))
    with other_app(target_backend, tmp_path) as target:
        tc = target.test_client()
        result = data(call(tc, "post", "/schema/diff", snap))
        plan = data(call(tc, "post", "/schema/apply?dry_run=1", result))["plan"]
        assert any("articles.author -> authors" in p and "foreign key" in p for p in plan)
        call(tc, "post", "/schema/apply", result, status=204)
        # no spurious vendor differences afterwards, in either direction
        call(tc, "post", "/schema/diff", snap, status=204)
        target_snap = data(call(tc, "get", "/schema/snapshot"))
        assert target_snap["vendor"] == ("postgres" if target_backend == "postgres"
                                         else "mysql")
        call(client, "post", "/schema/diff", target_snap, status=204)

        fields = {f["field"]: f for f in data(call(tc, "get", "/fields/authors"))}
        assert {k: fields[k]["type"] for k in ("name", "bio", "age", "salary", "active",
                                               "profile", "born", "token", "articles")} == {
            "name": "string", "bio": "text", "age": "integer", "salary": "decimal",
            "active": "boolean", "profile": "json", "born": "timestamp",
            "token": "uuid",
            "articles": "alias"}
        assert fields["salary"]["schema"]["numeric_scale"] == 2
        assert fields["name"]["schema"]["is_nullable"] is False
        [rel] = data(call(tc, "get", "/relations/articles"))
        assert rel["related_collection"] == "authors"
        assert rel["schema"]["on_delete"] == "SET NULL"  # a real foreign key here
        assert rel["meta"]["one_field"] == "articles"

        author = data(call(tc, "post", "/items/authors", {
            "name": "Grace", "salary": "1234.50", "profile": {"langs": ["COBOL"]},
            "born": "1992-01-01T00:00:00Z"}))
        assert author["active"] is True and author["age"] == 0
        article = data(call(tc, "post", "/items/articles", {"title": "Compilers",
                                                            "author": author["id"]}))
        assert len(article["id"]) == 36 and article["created"]
        got = data(call(tc, "get", f"/items/articles/{article['id']}"
                                   "?fields=title,author.name,author.profile"))
        assert got == {"title": "Compilers",
                       "author": {"name": "Grace", "profile": {"langs": ["COBOL"]}}}
        back = data(call(tc, "get", f"/items/authors/{author['id']}"
                                    "?fields=name,articles.title"))
        assert back == {"name": "Grace", "articles": [{"title": "Compilers"}]}


# -- outside changes and the CLI -------------------------------------------------------------
def cli_env(app: Any) -> dict[str, str]:
    cms = app.extensions["transom"]
    env = base_config(cms.url)
    env["LOG_LEVEL"] = "warn"
    return {k: str(v) for k, v in env.items()}


def test_outside_change_is_seen_after_refresh(app, client):
    build_schema(client)
    cms = app.extensions["transom"]
    before = {f["field"] for f in data(call(client, "get", "/fields/authors"))}
    with cms.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE authors ADD COLUMN twitter VARCHAR(50)")
    runner = CliRunner()
    result = runner.invoke(cli, ["--env-file", "/nonexistent", "schema", "refresh"],
                           env=cli_env(app))
    assert result.exit_code == 0, result.output
    assert f"authors (table, {len(before) + 1} fields)" in result.output
    cms.refresh_schema()
    fields = {f["field"]: f for f in data(call(client, "get", "/fields/authors"))}
    assert fields["twitter"]["schema"]["max_length"] == 50
    assert fields["twitter"]["meta"] is None
    snap = data(call(client, "get", "/schema/snapshot"))
    assert ("authors", "twitter") in names(snap["fields"], "collection", "field")


def test_cli_snapshot_diff_apply(app, client, tmp_path):
    build_schema(client)
    runner = CliRunner()
    path = tmp_path / "schema.yaml"
    result = runner.invoke(cli, ["--env-file", "/nonexistent", "schema", "snapshot",
                                 str(path)], env=cli_env(app))
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(path.read_text())["collections"][0]["collection"] == "articles"
    result = runner.invoke(cli, ["--env-file", "/nonexistent", "schema", "snapshot",
                                 "--format", "json"], env=cli_env(app))
    assert json.loads(result.stdout)["vendor"] == "sqlite"

    with other_app("sqlite", tmp_path) as target:
        env = cli_env(target)
        result = runner.invoke(cli, ["--env-file", "/nonexistent", "schema", "diff",
                                     str(path)], env=env)
        assert result.exit_code == 0, result.output
        assert "create collection authors" in result.output
        result = runner.invoke(cli, ["--env-file", "/nonexistent", "schema", "apply",
                                     str(path), "--dry-run"], env=env)
        assert "(dry run)" in result.output and "create relation articles.author" in (
            result.output)
        tcms = target.extensions["transom"]
        assert tcms.refresh_schema().get("authors") is None
        result = runner.invoke(cli, ["--env-file", "/nonexistent", "schema", "apply",
                                     str(path)], env=env, input="n\n")
        assert result.exit_code != 0 and tcms.refresh_schema().get("authors") is None
        saved = tmp_path / "diff.json"  # a diff saved before the apply goes stale after it
        saved.write_text(json.dumps(schema_sync.diff(tcms, yaml.safe_load(path.read_text()))))
        result = runner.invoke(cli, ["--env-file", "/nonexistent", "schema", "diff",
                                     str(saved)], env=env)
        assert "create collection authors" in result.output
        result = runner.invoke(cli, ["--env-file", "/nonexistent", "schema", "apply",
                                     str(path), "--yes"], env=env)
        assert result.exit_code == 0, result.output
        assert "schema applied" in result.output
        result = runner.invoke(cli, ["--env-file", "/nonexistent", "schema", "apply",
                                     str(saved), "--yes"], env=env)
        assert result.exit_code != 0 and "stale diff" in result.output
        assert tcms.refresh_schema().get("authors") is not None
        result = runner.invoke(cli, ["--env-file", "/nonexistent", "schema", "apply",
                                     str(path), "--yes"], env=env)
        assert "no differences" in result.output


def test_database_only_table_keeps_no_metadata(app, client, tmp_path):
    with app.extensions["transom"].engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE legacy (id INTEGER PRIMARY KEY AUTOINCREMENT, code VARCHAR(10) "
            "NOT NULL DEFAULT 'x', amount NUMERIC(8, 3))")
    snap = data(call(client, "get", "/schema/snapshot"))
    with other_app("sqlite", tmp_path) as target:
        tc = target.test_client()
        result = data(call(tc, "post", "/schema/diff", snap))
        call(tc, "post", "/schema/apply", result, status=204)
        call(tc, "post", "/schema/diff", snap, status=204)
        copied = data(call(tc, "get", "/schema/snapshot"))
        assert copied["collections"] == [{"collection": "legacy", "meta": None,
                                          "schema": {"name": "legacy"}}]
        assert all(f["meta"] is None for f in copied["fields"])
        # metadata added later (the "create by migration, then add meta" workflow)
        snap["collections"][0]["meta"] = {"collection": "legacy", "icon": "inventory",
                                          "note": "from the old system"}
        result = data(call(tc, "post", "/schema/diff", snap))
        assert result["diff"]["collections"][0]["diff"][0]["path"] == ["meta"]
        call(tc, "post", "/schema/apply", result, status=204)
        meta = data(call(tc, "get", "/collections/legacy"))["meta"]
        assert meta["icon"] == "inventory" and meta["note"] == "from the old system"
        call(tc, "post", "/schema/diff", snap, status=204)


def test_apply_takes_a_diff_written_by_directus(app, client):
    """Directus's own diffs carry its database's full ``schema`` objects; only the portable
    part is used (an expression default must not become a quoted literal)."""
    build_schema(client)
    hash_ = schema_sync.current_hash(app.extensions["transom"])
    field = {"collection": "authors", "field": "ref", "type": "uuid",
             "meta": {"collection": "authors", "field": "ref", "interface": "input",
                      "special": None},
             "schema": {"name": "ref", "table": "authors", "data_type": "uuid",
                        "default_value": "gen_random_uuid()", "is_nullable": True,
                        "foreign_key_table": None, "is_indexed": False}}
    body = {"hash": hash_, "diff": {"collections": [], "relations": [], "fields": [
        {"collection": "authors", "field": "ref", "diff": [{"kind": "N", "rhs": field}]}]}}
    call(client, "post", "/schema/apply", body, status=204)
    ref = data(call(client, "get", "/fields/authors/ref"))
    assert ref["schema"]["default_value"] is None and ref["meta"]["interface"] == "input"


# -- the pieces ------------------------------------------------------------------------------
def test_deep_diff_and_apply_ops_round_trip():
    a = {"x": 1, "meta": {"special": ["m2o"], "note": None, "gone": 1}, "keep": [1, 2, 3]}
    b = {"x": 2, "meta": {"special": ["m2o", "uuid"], "note": "n"}, "keep": [1], "new": True}
    ops = schema_sync.deep_diff(a, b)
    assert {"kind": "E", "path": ["x"], "lhs": 1, "rhs": 2} in ops
    assert {"kind": "D", "path": ["meta", "gone"], "lhs": 1} in ops
    assert {"kind": "A", "path": ["meta", "special"], "index": 1,
            "item": {"kind": "N", "rhs": "uuid"}} in ops
    assert {"kind": "N", "path": ["new"], "rhs": True} in ops
    assert schema_sync.apply_ops(a, ops) == b
    assert schema_sync.deep_diff(a, a) == []
    assert schema_sync.deep_diff(True, 1) == [{"kind": "E", "lhs": True, "rhs": 1}]


@pytest.mark.parametrize(("type_", "raw", "portable"), [
    ("integer", "nextval('authors_id_seq'::regclass)", None),
    ("string", "'draft'::character varying", "draft"),
    ("string", "draft", "draft"),
    ("boolean", "b'1'", True),
    ("boolean", 0, False),
    ("decimal", "10.50", "10.5"),
    ("dateTime", "now()", "CURRENT_TIMESTAMP"),
    ("timestamp", "current_timestamp()", "CURRENT_TIMESTAMP"),
    ("uuid", "gen_random_uuid()", None),
    ("json", '{"a": 1}', {"a": 1}),
    ("string", "NULL", None),
])
def test_portable_defaults(type_, raw, portable):
    assert schema_sync.portable_default(type_, raw) == portable
