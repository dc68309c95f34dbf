"""Field types as plugins (``register_field_types``): the ``color`` type of
examples/transom-example-color, end to end over REST, GraphQL and OpenAPI on every database,
and its wheel installed into a fresh virtual environment (reusing the helpers of
tests/test_example_plugin_wheel.py)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from transom.api import FieldType
from transom.errors import StartupError
from transom.schema.types import OPERATORS_BY_TYPE, field_type, operators_for
from transom.testing.databases import in_ci

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "transom-example-color"
sys.path.insert(0, str(EXAMPLE / "src"))  # the example is not a workspace member

import transom_example_color as color  # noqa: E402


def _wheel_helpers() -> Any:
    spec = importlib.util.spec_from_file_location(
        "example_plugin_wheel", ROOT / "tests" / "test_example_plugin_wheel.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def capp(make_app: Any) -> Any:
    return make_app(plugins=[color])


@pytest.fixture
def cclient(capp: Any) -> Any:
    return capp.test_client()


def _make_palette(client: Any, headers: dict[str, str]) -> None:
    resp = client.post("/collections", json={
        "collection": "palette",
        "fields": [{"field": "id", "type": "integer",
                    "schema": {"is_primary_key": True, "has_auto_increment": True}},
                   {"field": "name", "type": "string"},
                   {"field": "c", "type": "color"}]}, headers=headers)
    assert resp.status_code == 200, resp.get_json()


def _error(resp: Any) -> tuple[int, str, str]:
    err = resp.get_json()["errors"][0]
    return resp.status_code, err["extensions"]["code"], err["message"]


def test_hook_register_field_types(capp):
    cms = capp.extensions["transom"]
    assert "register_field_types" in cms.plugins["core_field_types"].hooks
    assert cms.field_types["color"] is color.COLOR
    assert isinstance(cms.field_types["string"], FieldType)
    assert {"string", "integer", "json", "uuid", "timestamp", "alias"} <= set(cms.field_types)
    assert field_type("color") is color.COLOR
    assert operators_for("color") == color.COLOR.operators
    assert operators_for("string") is OPERATORS_BY_TYPE["string"]  # core: unchanged
    assert cms.dialect.column_type("color").length == 7


def test_a_plugin_cannot_redefine_a_core_type(make_app):
    class Bad:
        name = "bad_string_type"

        @staticmethod
        def register_field_types(cms: Any) -> Any:
            return FieldType("string")

    from transom import hookimpl
    Bad.register_field_types = hookimpl(Bad.register_field_types)
    make_app()  # core's types registered
    with pytest.raises(StartupError, match="string"):
        make_app(plugins=[Bad()])


def test_color_field_over_rest(cclient, admin_headers):
    _make_palette(cclient, admin_headers)
    field = cclient.get("/fields/palette/c", headers=admin_headers).get_json()["data"]
    assert field["type"] == "color"
    assert field["meta"]["interface"] == "select-color"
    assert "color" in field["meta"]["special"]

    resp = cclient.post("/items/palette", json=[
        {"name": "a", "c": "#FF0000"}, {"name": "b", "c": "#abc"}, {"name": "c", "c": "navy"},
        {"name": "d", "c": None}], headers=admin_headers)
    assert resp.status_code == 200, resp.get_json()
    assert [i["c"] for i in resp.get_json()["data"]] == ["#ff0000", "#aabbcc", "#000080", None]

    got = cclient.get("/items/palette?sort=id&fields=name,c", headers=admin_headers)
    assert got.get_json()["data"] == [{"name": "a", "c": "#ff0000"},
                                      {"name": "b", "c": "#aabbcc"},
                                      {"name": "c", "c": "#000080"},
                                      {"name": "d", "c": None}]

    def names(flt: dict[str, Any]) -> list[str]:
        r = cclient.get("/items/palette", query_string={
            "filter": json.dumps(flt), "sort": "id", "fields": "name"}, headers=admin_headers)
        assert r.status_code == 200, r.get_json()
        return [i["name"] for i in r.get_json()["data"]]

    assert names({"c": {"_eq": "RED"}}) == ["a"]  # operands are normalised too
    assert names({"c": {"_neq": "#ff0000"}}) == ["b", "c"]
    assert names({"c": {"_in": ["#ABC", "navy"]}}) == ["b", "c"]
    assert names({"c": {"_nin": ["#ff0000"]}}) == ["b", "c"]
    assert names({"c": {"_null": True}}) == ["d"]
    assert names({"c": {"_nnull": True}}) == ["a", "b", "c"]

    bad = cclient.post("/items/palette", json={"name": "x", "c": "#12345z"},
                       headers=admin_headers)
    status, code, message = _error(bad)
    assert (status, code) == (400, "FAILED_VALIDATION")
    assert "color" in message
    bad = cclient.patch("/items/palette/1", json={"c": 12}, headers=admin_headers)
    assert _error(bad)[:2] == (400, "FAILED_VALIDATION")

    for op in ("_gt", "_contains", "_starts_with"):
        r = cclient.get("/items/palette", query_string={
            "filter": json.dumps({"c": {op: "#000000"}})}, headers=admin_headers)
        status, code, message = _error(r)
        assert (status, code) == (400, "INVALID_QUERY")
        assert message == (f'Invalid query. "color" field type does not contain the "{op}" '
                           "filter operator.")
    r = cclient.get("/items/palette", query_string={
        "filter": json.dumps({"c": {"_eq": "nope"}})}, headers=admin_headers)
    assert _error(r)[:2] == (400, "INVALID_QUERY")


def test_color_field_survives_a_schema_refresh(capp, cclient, admin_headers):
    _make_palette(cclient, admin_headers)
    cms = capp.extensions["transom"]
    cms.refresh_schema()
    assert cms.schema.collections["palette"].fields["c"].type == "color"


def test_color_field_over_graphql(cclient, admin_headers):
    _make_palette(cclient, admin_headers)

    def gql(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        r = cclient.post("/graphql", json={"query": query, "variables": variables or {}},
                         headers=admin_headers)
        return r.get_json()

    out = gql('mutation { create_palette_item(data: {name: "g", c: "#00FF00"}) { name c } }')
    assert out == {"data": {"create_palette_item": {"name": "g", "c": "#00ff00"}}}, out
    out = gql("mutation ($d: create_palette_input!) { create_palette_item(data: $d) { c } }",
              {"d": {"name": "h", "c": "blue"}})
    assert out["data"]["create_palette_item"]["c"] == "#0000ff", out
    out = gql('{ palette(filter: {c: {_eq: "LIME"}}) { name c } }')
    assert out == {"data": {"palette": [{"name": "g", "c": "#00ff00"}]}}, out
    out = gql('mutation { create_palette_item(data: {name: "x", c: "#12345z"}) { c } }')
    assert out["errors"][0]["extensions"]["code"] == "FAILED_VALIDATION", out

    schema = gql('{ __type(name: "HexColor") { kind name } }')
    assert schema["data"]["__type"] == {"kind": "SCALAR", "name": "HexColor"}
    fields = gql('{ __type(name: "palette") { fields { name type { name } } } }')
    types = {f["name"]: f["type"]["name"] for f in fields["data"]["__type"]["fields"]}
    assert types["c"] == "HexColor"
    assert types["name"] == "String"


def test_color_field_in_openapi(cclient, admin_headers):
    _make_palette(cclient, admin_headers)
    spec = cclient.get("/server/specs/oas", headers=admin_headers).get_json()
    props = spec["components"]["schemas"]["Itemspalette"]["properties"]
    assert props["c"] == {"type": "string", "pattern": "^#[0-9a-f]{6}$", "nullable": True}
    assert props["name"]["type"] == "string"


def test_the_color_type_normalises_and_validates():
    assert color.normalize("#ABCDEF") == "#abcdef"
    assert color.normalize(" Red ") == "#ff0000"
    assert color.normalize("#0f0") == "#00ff00"
    for bad in ("#12345z", "#1234", "bad", "", 12, None, ["#000000"]):
        with pytest.raises(ValueError):
            color.normalize(bad)


WHEEL_SCRIPT = r'''
import json, sys
from transom import create_app
from transom.system.bootstrap import bootstrap
import transom_example_color as color

app = create_app({
    "DB_CLIENT": "sqlite3", "DB_FILENAME": sys.argv[1], "SECRET": "s" * 40, "KEY": "k",
    "ADMIN_EMAIL": "admin@example.com", "ADMIN_PASSWORD": "Secret123", "ADMIN_TOKEN": "tok",
    "EXTENSIONS_PATH": "", "SCHEMA_REFRESH_INTERVAL": "0", "LOG_LEVEL": "warn",
    "HASH_TIME_COST": "1", "HASH_MEMORY_COST": "1024", "HASH_PARALLELISM": "1",
}, env_file=None)
cms = app.extensions["transom"]
bootstrap(cms)
client, auth = app.test_client(), {"Authorization": "Bearer tok"}
made = client.post("/collections", json={"collection": "palette", "fields": [
    {"field": "id", "type": "integer", "schema": {"is_primary_key": True,
                                                  "has_auto_increment": True}},
    {"field": "c", "type": "color"}]}, headers=auth)
created = client.post("/items/palette", json={"c": "#ABC"}, headers=auth)
bad = client.post("/items/palette", json={"c": "#12345z"}, headers=auth)
info = cms.plugins["example_color"]
cms.close()
print(json.dumps({
    "made": made.status_code, "created": created.get_json(), "bad": bad.status_code,
    "registered": cms.field_types.get("color") is color.COLOR,
    "distribution": info.distribution, "module": info.module, "hooks": info.hooks,
    "file": color.__file__,
}))
'''


@pytest.fixture(scope="module")
def color_kit(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    helpers = _wheel_helpers()
    uv = helpers._uv()
    if uv is None:
        (pytest.fail if in_ci() else pytest.skip)("uv is not installed")
    base = tmp_path_factory.mktemp("color")
    dist = base / "dist"
    import shutil
    example = base / "example"
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns(
        "__pycache__", "dist", "build", ".pytest_cache", "*.egg-info"))
    for src in (ROOT / "core", ROOT / "dialects" / "sqlite", example):
        helpers._run([uv, "build", "--wheel", "--quiet", "-o", str(dist), str(src)], cwd=base)
    wheels = sorted(str(w) for w in dist.glob("*.whl"))
    assert len(wheels) == 3, wheels
    venv = base / "venv"
    helpers._run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
    python = venv / "bin" / "python"
    helpers.install_wheels(uv, python, wheels)
    return {"base": base, "python": str(python), "example": example, "helpers": helpers}


@pytest.mark.backends("sqlite")
@pytest.mark.timeout(300)
def test_example_color_wheel_registers_its_type(color_kit):
    helpers = color_kit["helpers"]
    result = helpers._run([color_kit["python"], "-c", WHEEL_SCRIPT,
                           str(color_kit["base"] / "color.db")], cwd=color_kit["base"],
                          env=helpers._clean_env())
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["distribution"] == "transom-example-color"
    assert out["module"] == "transom_example_color"
    assert "register_field_types" in out["hooks"]
    assert "site-packages" in out["file"]
    assert out["registered"] is True
    assert out["made"] == 200
    assert out["created"]["data"]["c"] == "#aabbcc"
    assert out["bad"] == 400


@pytest.mark.backends("sqlite")
@pytest.mark.timeout(300)
def test_example_color_passes_its_own_tests(color_kit):
    helpers = color_kit["helpers"]
    helpers._run([color_kit["python"], "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                 cwd=color_kit["example"], env=helpers._clean_env())


def test_plugin_types_columns_stay_plain(capp):
    """The type's column: the plugin's ``column(dialect_name)``, on every database."""
    assert isinstance(capp.extensions["transom"].dialect.column_type("color"), sa.String)
