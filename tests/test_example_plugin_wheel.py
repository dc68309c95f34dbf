"""The plugin kit, end to end: examples/transom-example-visits and a plugin made from
``_template/`` are built into wheels, installed into a fresh virtual environment beside
Transom's own wheels, found through their entry points, and pass their own tests there.

Transom's wheels (core, SQLite dialect) are built from this checkout and installed from the
local files; third-party dependencies come from uv's cache, offline (``uv run`` has filled it
while syncing the workspace). Nothing is downloaded: without a usable cache the tests skip.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from transom.testing.databases import in_ci

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "transom-example-visits"
TEMPLATE = ROOT / "_template"
TEMPLATE_NAME = "kitcheck"

pytestmark = [pytest.mark.backends("sqlite"), pytest.mark.timeout(300)]


def _uv() -> str | None:
    found = shutil.which("uv")
    if found:
        return found
    sibling = Path(sys.executable).parent / "uv"
    return str(sibling) if sibling.exists() else None


def _run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
         timeout: int = 180) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def _clean_env(**extra: str) -> dict[str, str]:
    """No DB_*, CI or other Transom settings leaking from the test run into the venv."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    return {**{k: os.environ[k] for k in keep if k in os.environ}, **extra}


def _new_plugin_script() -> Any:
    spec = importlib.util.spec_from_file_location("new_plugin", ROOT / "scripts" / "new_plugin.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def render_template(dest: Path, name: str) -> Path:
    """Make a plugin from ``_template`` with scripts/new_plugin.py, as docs/writing-plugins.md
    tells (PLUGINNAME -> name, PLUGINUPPER -> NAME)."""
    return _new_plugin_script().render(name, dest, template=TEMPLATE)


def test_the_template_renders_upper_case_settings(tmp_path: Path):
    plugin = render_template(tmp_path, TEMPLATE_NAME)
    files = {p.relative_to(plugin).as_posix(): p.read_text() for p in plugin.rglob("*")
             if p.is_file()}
    assert f"src/transom_{TEMPLATE_NAME}/__init__.py" in files
    text = "\n".join(files.values())
    assert "PLUGINNAME" not in text and "PLUGINUPPER" not in text
    assert f"{TEMPLATE_NAME}_GREETING" not in text  # the old bug: a lower-case setting
    module = files[f"src/transom_{TEMPLATE_NAME}/__init__.py"]
    assert f'Setting("{TEMPLATE_NAME.upper()}_GREETING"' in module
    assert f'config.get("{TEMPLATE_NAME.upper()}_GREETING")' in module
    assert f'{TEMPLATE_NAME} = "transom_{TEMPLATE_NAME}"' in files["pyproject.toml"]


@pytest.mark.skipif(shutil.which("sed") is None or shutil.which("bash") is None,
                    reason="needs bash and GNU sed")
def test_the_documented_sed_steps_match_the_script(tmp_path: Path):
    """docs/writing-plugins.md's by-hand steps give the same plugin as the script."""
    doc = (ROOT / "docs" / "writing-plugins.md").read_text()
    steps = doc[doc.index("# or, by hand"):].split("```")[0].splitlines()[1:]
    steps = [s.split("  #")[0] for s in steps if s.strip()]
    assert any("sed" in s for s in steps), steps
    checkout = tmp_path / "transom"
    shutil.copytree(TEMPLATE, checkout / "_template")
    check = subprocess.run(["sed", "--version"], capture_output=True, text=True)
    if "GNU" not in check.stdout:
        pytest.skip("the documented sed -i form is GNU sed's")
    _run(["bash", "-ec", " && ".join(steps)], cwd=checkout)
    by_hand = tmp_path / "transom-visits"
    by_script = render_template(tmp_path / "script", "visits")
    for path in by_script.rglob("*"):
        if path.is_file() and path.name != "pyproject.toml":
            twin = by_hand / path.relative_to(by_script)
            assert twin.read_text() == path.read_text(), twin
    assert "VISITS_GREETING" in (by_hand / "src/transom_visits/__init__.py").read_text()


def install_wheels(uv: str, python: Path, wheels: list[str]) -> None:
    """Install ``wheels`` and pytest into the venv of ``python``: offline from uv's cache
    first; the cache may hold the locked wheels but not the index pages a fresh resolution
    reads, so then from the package registry (the one network this machine may reach)."""
    install = [uv, "pip", "install", "--quiet", "--offline", "--python", str(python), *wheels,
               "pytest>=8"]
    offline = subprocess.run(install, capture_output=True, text=True, timeout=180)
    if offline.returncode == 0:
        return
    online = subprocess.run([x for x in install if x != "--offline"],
                            capture_output=True, text=True, timeout=600)
    if online.returncode != 0:
        (pytest.fail if in_ci() else pytest.skip)(
            "the third-party wheels could not be installed, offline from uv's cache "
            f"({offline.stderr[-300:]}) nor from the registry ({online.stderr[-300:]})")


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    uv = _uv()
    if uv is None:
        (pytest.fail if in_ci() else pytest.skip)("uv is not installed")
    base = tmp_path_factory.mktemp("kit")
    dist = base / "dist"
    example = base / "example"
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns(
        "__pycache__", "dist", "build", ".pytest_cache", "*.egg-info"))
    template = render_template(base, TEMPLATE_NAME)
    for src in (ROOT / "core", ROOT / "dialects" / "sqlite", example, template):
        _run([uv, "build", "--wheel", "--quiet", "-o", str(dist), str(src)], cwd=base)
    wheels = sorted(str(w) for w in dist.glob("*.whl"))
    assert len(wheels) == 4, wheels

    venv = base / "venv"
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    install_wheels(uv, python, wheels)
    return {"base": base, "python": str(python), "example": example, "template": template}


SCRIPT = r'''
import json, sys
import sqlalchemy as sa
from transom import create_app
from transom.system.bootstrap import bootstrap
import transom_example_visits as visits

app = create_app({
    "DB_CLIENT": "sqlite3", "DB_FILENAME": sys.argv[1], "SECRET": "s" * 40, "KEY": "k",
    "ADMIN_EMAIL": "admin@example.com", "ADMIN_PASSWORD": "Secret123", "ADMIN_TOKEN": "tok",
    "EXTENSIONS_PATH": "", "SCHEMA_REFRESH_INTERVAL": "0", "LOG_LEVEL": "warn",
    "HASH_TIME_COST": "1", "HASH_MEMORY_COST": "1024", "HASH_PARALLELISM": "1",
}, env_file=None)
cms = app.extensions["transom"]
bootstrap(cms)
with cms.engine.begin() as conn:
    conn.exec_driver_sql("CREATE TABLE page_visits (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                         "path VARCHAR(255), count INTEGER)")
cms.refresh_schema()
client, auth = app.test_client(), {"Authorization": "Bearer tok"}
created = client.post("/items/page_visits", json=[{"path": "/", "count": 3},
                                                  {"path": "/a", "count": 4}], headers=auth)
negative = client.post("/items/page_visits", json={"path": "/b", "count": -2}, headers=auth)
stats = client.get("/stats/visits", headers=auth)
anonymous = client.get("/stats/visits")
info = cms.plugins["example_visits"]
cms.close()  # waits for the listeners' thread pool: the action hooks have run
print(json.dumps({
    "created": created.status_code, "negative": negative.status_code,
    "negative_code": negative.get_json()["errors"][0]["extensions"]["code"],
    "stats": stats.get_json(), "anonymous": anonymous.status_code,
    "distribution": info.distribution, "module": info.module, "hooks": info.hooks,
    "changes": visits.changes(cms), "file": visits.__file__,
}))
'''


def test_example_wheel_adds_its_endpoint_and_hooks(kit):
    db = kit["base"] / "visits.db"
    result = _run([kit["python"], "-c", SCRIPT, str(db)], cwd=kit["base"],
                  env=_clean_env())
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["distribution"] == "transom-example-visits"
    assert out["module"] == "transom_example_visits"
    assert {"register_blueprints", "register_filters", "register_listeners"} <= set(
        out["hooks"])
    assert "site-packages" in out["file"]  # the installed wheel, not this checkout
    assert out["created"] == 200
    assert (out["negative"], out["negative_code"]) == (400, "INVALID_PAYLOAD")
    assert out["stats"] == {"data": {"total": 7, "pages": 2}}
    assert out["anonymous"] == 403
    assert out["changes"] == 2  # two committed creates; the rejected one fired nothing


def test_example_plugin_passes_its_own_tests(kit):
    _run([kit["python"], "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=kit["example"],
         env=_clean_env())


def test_a_plugin_made_from_the_template_passes_its_tests(kit):
    result = _run([kit["python"], "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                  cwd=kit["template"], env=_clean_env())
    assert "5 passed" in result.stdout


TEMPLATE_SCRIPT = r'''
import json, sys
from transom import create_app
app = create_app({
    "DB_CLIENT": "sqlite3", "DB_FILENAME": sys.argv[1], "SECRET": "s" * 40, "KEY": "k",
    "EXTENSIONS_PATH": "", "SCHEMA_REFRESH_INTERVAL": "0", "LOG_LEVEL": "warn",
}, env_file=None)
cms = app.extensions["transom"]
name = sys.argv[2]
hello = app.test_client().get(f"/{name}/hello").get_json()
info = cms.plugins[name]
cms.close()
print(json.dumps({"greeting": hello["data"]["greeting"], "declared": sorted(cms.config.declared()),
                  "distribution": info.distribution,
                  "file": __import__(info.module).__file__}))
'''


def test_the_template_plugin_wheel_reads_its_upper_case_environment_variable(kit):
    """The wheel of a plugin made from the template, installed in a fresh venv, takes its
    setting from the upper-case environment variable (not from ``kitcheck_GREETING``)."""
    upper = f"{TEMPLATE_NAME.upper()}_GREETING"

    def greeting(**env: str) -> dict[str, Any]:
        result = _run([kit["python"], "-c", TEMPLATE_SCRIPT, str(kit["base"] / "tpl.db"),
                       TEMPLATE_NAME], cwd=kit["base"], env=_clean_env(**env))
        return json.loads(result.stdout.strip().splitlines()[-1])

    out = greeting(**{upper: "hello from the environment"})
    assert out["distribution"] == f"transom-{TEMPLATE_NAME}"
    assert "site-packages" in out["file"]  # the installed wheel, not the rendered folder
    assert upper in out["declared"]
    assert out["greeting"] == "hello from the environment"
    assert greeting()["greeting"] == "hello"  # the declared default
    assert greeting(**{f"{TEMPLATE_NAME}_GREETING": "ignored"})["greeting"] == "hello"
