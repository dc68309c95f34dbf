"""Every workspace member is a real, separately publishable distribution."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


HAS_UV = shutil.which("uv") is not None or (Path(sys.executable).parent / "uv").exists()
REPOSITORY = "https://github.com/transom-cms/transom"
#: distributions outside the workspace that are still distributions of their own
OTHER_DISTRIBUTIONS = [ROOT / "examples" / "transom-example-visits"]


def _release() -> Any:
    spec = importlib.util.spec_from_file_location("_transom_release",
                                                  ROOT / "scripts" / "release.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_transom_release", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


release = _release()


@pytest.mark.parametrize("member", MEMBERS + OTHER_DISTRIBUTIONS,
                         ids=[m.name for m in MEMBERS + OTHER_DISTRIBUTIONS])
def test_member_metadata_is_complete(member: Path):
    project = meta(member)
    for key in ("name", "version", "description", "readme", "license", "license-files",
                "requires-python", "authors", "classifiers", "keywords", "urls"):
        assert project.get(key), f"{member.name}: no {key}"
    assert project["readme"] == "README.md" and project["license-files"] == ["LICENSE"]
    assert project["requires-python"] == ">=3.11"
    assert not [c for c in project["classifiers"] if c.startswith("License ::")], \
        "PEP 639: the SPDX `license` replaces License classifiers"
    assert "Programming Language :: Python :: 3.11" in project["classifiers"]
    urls = project["urls"]
    assert {"Homepage", "Repository", "Issues", "Documentation"} <= set(urls)
    assert all(u.startswith(REPOSITORY) for u in urls.values()), urls
    assert urls["Repository"] == REPOSITORY
    # dependencies and extras: lower bounds, and one version for the whole workspace
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    for requirement in requirements:
        assert release.LOWER_BOUND.search(requirement), f"no lower bound: {requirement}"
    assert project["version"] == meta(ROOT / "core")["version"]


def test_template_metadata_is_complete():
    text = (ROOT / "_template" / "pyproject.toml").read_text()
    project = tomllib.loads(text)["project"]
    for key in ("description", "readme", "license", "license-files", "requires-python",
                "authors", "classifiers", "keywords", "urls", "dependencies"):
        assert project.get(key), f"_template: no {key}"
    assert project["version"] == meta(ROOT / "core")["version"]
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sdist and one wheel of every member, built once for every test below."""
    if not HAS_UV:
        pytest.skip("uv not installed")
    out = tmp_path_factory.mktemp("dist")
    release.build(release.members(ROOT), out, ROOT)
    return out


def test_every_member_builds_a_wheel(built: Path):
    wheels = {w.name.split("-")[0] for w in built.glob("*.whl")}
    assert wheels == {meta(m)["name"].replace("-", "_") for m in MEMBERS}
    assert len(list(built.glob("*.tar.gz"))) == len(MEMBERS)
    for wheel in built.glob("*.whl"):
        with zipfile.ZipFile(wheel) as zf:
            text = "\n".join(zf.read(n).decode() for n in zf.namelist()
                             if n.endswith(("METADATA", "entry_points.txt")))
        assert "Apache-2.0" in text, wheel.name
        if wheel.name.split("-")[0] != "transom":  # every plugin and dialect
            assert "[transom.plugins]" in text, wheel.name


def test_release_check_passes_and_uploads_nothing(built: Path, capsys, monkeypatch):
    commands: list[list[str]] = []
    real_run = subprocess.run

    def run(cmd, *args, **kwargs):  # type: ignore[no-untyped-def]
        commands.append([str(c) for c in cmd])
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(release.subprocess, "run", run)
    code = release.main(["--check", "--no-build", "--out", str(built)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "all checks passed" in out
    for member in MEMBERS:
        assert re.search(rf"^{re.escape(meta(member)['name'])} .* ok$", out, re.M), out
    assert not any("upload" in cmd for cmd in commands), commands
    if importlib.util.find_spec("twine") is not None:  # the dev group has it
        assert any("check" in cmd and "--strict" in cmd for cmd in commands), commands


def _rewrite_wheel(src: Path, dest: Path, edit: Callable[[str, bytes], bytes | None]) -> Path:
    """Copy a wheel, passing each member through ``edit`` (None drops it)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for name in zin.namelist():
            data = edit(name, zin.read(name))
            if data is not None:
                zout.writestr(name, data)
    return dest


def test_release_check_finds_broken_metadata(built: Path, tmp_path: Path):
    member = next(m for m in release.members(ROOT) if m.name == "transom-metrics")
    out = tmp_path / "dist"
    out.mkdir()
    shutil.copy(member.sdist(built), member.sdist(out))

    def edit(name: str, data: bytes) -> bytes | None:
        if name.endswith("/licenses/LICENSE") or name.endswith("entry_points.txt"):
            return None
        if name.endswith(".dist-info/METADATA"):
            head, _, body = data.decode().partition("\n\n")
            kept = [line for line in head.splitlines()
                    if not line.startswith(("Project-URL:", "Keywords:", "Requires-Dist"))]
            kept += ["Classifier: License :: OSI Approved :: Apache Software License",
                     "Requires-Dist: prometheus-client"]
            return ("\n".join(kept) + "\n\n" + body).encode()
        return data

    _rewrite_wheel(member.wheel(built), member.wheel(out), edit)
    workspace = {m.name: m.version for m in release.members(ROOT)}
    problems = "\n".join(release.check_member(member, out, workspace))
    for expected in ("no Keywords", "no Project-URL Homepage", "License :: classifier",
                     "lacks LICENSE", "no transom.plugins entry point",
                     "without a lower bound: prometheus-client"):
        assert expected in problems, problems


def test_release_check_finds_a_readme_pypi_cannot_render(built: Path, tmp_path: Path):
    if importlib.util.find_spec("twine") is None:
        pytest.skip("twine is not installed (dev group)")
    member = next(m for m in release.members(ROOT) if m.name == "transom-i18n")

    def edit(name: str, data: bytes) -> bytes | None:
        if name.endswith(".dist-info/METADATA"):
            text = data.decode().replace("Description-Content-Type: text/markdown",
                                         "Description-Content-Type: text/x-rst")
            head, _, _ = text.partition("\n\n")
            return (head + "\n\n" + "Title\n=\n\n.. bogus-directive::\n\n`unclosed\n").encode()
        return data

    wheel = _rewrite_wheel(member.wheel(built), tmp_path / member.wheel(built).name, edit)
    failures = release.twine_check([wheel, member.wheel(built)])
    assert set(failures) == {wheel.name}, failures


def test_release_check_wants_one_version(built: Path):
    members = release.members(ROOT)
    metrics = next(m for m in members if m.name == "transom-metrics")
    other = release.Member(metrics.path, {**metrics.project, "version": "9.9.9"})
    _, general = release.check([metrics], built, [m if m is not metrics else other
                                                  for m in members])
    assert any("different versions" in p for p in general), general
