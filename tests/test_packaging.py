"""Every workspace member is a real, separately publishable distribution."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOT_PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
MEMBERS = sorted(
    p.parent for pattern in ROOT_PYPROJECT["tool"]["uv"]["workspace"]["members"]
    for p in ROOT.glob(f"{pattern}/pyproject.toml")
)


def meta(member: Path) -> dict:
    return tomllib.loads((member / "pyproject.toml").read_text())["project"]


def test_members_found():
    names = {meta(m)["name"] for m in MEMBERS}
    assert {"transom", "transom-auth-jwt", "transom-graphql", "transom-cache-redis",
            "transom-metrics", "transom-i18n"} <= names
    for db in ("sqlite", "postgres", "mysql", "mssql", "oracle"):
        assert f"transom-dialect-{db}" in names


@pytest.mark.parametrize("member", MEMBERS, ids=[m.name for m in MEMBERS])
def test_member_layout(member: Path):
    project = meta(member)
    assert project["license"] == "Apache-2.0"
    assert (member / "LICENSE").is_file() and (member / "README.md").is_file()
    assert (member / "tests").is_dir() or member.name == "core"
    name = project["name"]
    if name == "transom":
        assert project["scripts"]["transom"] == "transom.cli:main"
        return
    import_name = name.replace("-", "_")
    assert (member / "src" / import_name / "__init__.py").is_file(), import_name
    eps = project["entry-points"]["transom.plugins"]
    assert list(eps.values()) == [import_name]
    assert any(d.startswith("transom") for d in project["dependencies"])


def test_requirements_dev_lists_every_member():
    lines = (ROOT / "requirements-dev.txt").read_text().splitlines()
    listed = {line.split(None, 1)[1].strip().lstrip("./") for line in lines
              if line.startswith("-e ")}
    assert listed == {str(m.relative_to(ROOT)) for m in MEMBERS}


@pytest.mark.skipif(shutil.which("uv") is None and not (Path(sys.executable).parent / "uv")
                    .exists(), reason="uv not installed")
def test_every_member_builds_a_wheel(tmp_path: Path):
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    out = tmp_path / "dist"
    result = subprocess.run([uv, "build", "--all-packages", "--wheel", "-o", str(out),
                             "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    wheels = {w.name.split("-")[0] for w in out.glob("*.whl")}
    assert wheels == {meta(m)["name"].replace("-", "_") for m in MEMBERS}
    for wheel in out.glob("*.whl"):
        with zipfile.ZipFile(wheel) as zf:
            text = "\n".join(zf.read(n).decode() for n in zf.namelist()
                             if n.endswith(("METADATA", "entry_points.txt")))
        assert "Apache-2.0" in text, wheel.name
        if wheel.name.split("-")[0] != "transom":  # every plugin and dialect
            assert "[transom.plugins]" in text, wheel.name
