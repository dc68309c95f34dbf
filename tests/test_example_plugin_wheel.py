"""The plugin kit, end to end: examples/transom-example-visits and a plugin made from
``_template/`` are built into wheels, installed into a fresh virtual environment beside
Transom's own wheels, found through their entry points, and pass their own tests there.

Transom's wheels (core, SQLite dialect) are built from this checkout and installed from the
local files; third-party dependencies come from uv's cache (offline) or, failing that, PyPI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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


def render_template(dest: Path, name: str) -> Path:
    """Copy ``_template`` replacing PLUGINNAME, as docs/writing-plugins.md tells."""
    target = dest / f"transom-{name}"
    shutil.copytree(TEMPLATE, target, ignore=shutil.ignore_patterns(
        "__pycache__", "*.egg-info", "dist", "build", ".pytest_cache"))
    for path in sorted(target.rglob("*"), reverse=True):
        if path.is_file():
            text = path.read_text()
            if "PLUGINNAME" in text:
                path.write_text(text.replace("PLUGINNAME", name))
        if "PLUGINNAME" in path.name:
            path.rename(path.with_name(path.name.replace("PLUGINNAME", name)))
    return target


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    uv = _uv()
    if uv is None:
        pytest.skip("uv is not installed")
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
    install = [uv, "pip", "install", "--quiet", "--python", str(python), *wheels, "pytest>=8"]
    offline = subprocess.run([*install, "--offline"], capture_output=True, text=True,
                             timeout=180)
    if offline.returncode != 0:
        _run(install)
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
    assert "3 passed" in result.stdout
