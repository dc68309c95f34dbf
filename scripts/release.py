#!/usr/bin/env python3
"""Build, check and publish every distribution of the workspace.

    uv run python scripts/release.py --check          # build + check, upload nothing
    uv run python scripts/release.py --check --no-build --out dist   # check existing files
    uv run python scripts/release.py --repository testpypi           # build, check, upload

Builds the sdist and the wheel of every workspace member (``[tool.uv.workspace] members`` of
the root pyproject.toml) into ``dist/`` with ``uv build`` (``python -m build`` without uv),
then checks each one:

* the wheel's METADATA has what PyPI shows: Name, Version, Summary, a Markdown long
  description (the README), License-Expression, License-File, Requires-Python, Author,
  Keywords, Classifiers (without the ``License ::`` ones PEP 639 replaces), Project-URLs;
* the license file is in the wheel (``.dist-info/licenses/``) and in the sdist;
* every plugin and dialect declares its ``transom.plugins`` entry point, and ``transom`` its
  ``transom`` command and ``pytest11`` plugin, in the wheel as in pyproject.toml;
* every dependency has a lower bound, and those on other members accept this release;
* every member has the same version, as do the ``__version__`` strings in their sources;
* the README renders as PyPI will render it (``twine check --strict``).

Prints one line per distribution and exits 1 when anything is wrong; uploads (``twine
upload``) only when everything passed and ``--check`` is not given.
"""

from __future__ import annotations

import argparse
import ast
import configparser
import email.message
import email.parser
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: METADATA fields every published wheel must carry (Metadata 2.4, as hatchling writes it)
REQUIRED_FIELDS = ("Name", "Version", "Summary", "Description-Content-Type",
                   "License-Expression", "License-File", "Requires-Python", "Keywords",
                   "Classifier", "Project-URL")
#: Project-URL labels every distribution links to
REQUIRED_URLS = ("Homepage", "Repository", "Issues")
LOWER_BOUND = re.compile(r"(>=|==|~=|>|===)\s*\d")


@dataclass
class Member:
    path: Path
    project: dict

    @property
    def name(self) -> str:
        return self.project["name"]

    @property
    def version(self) -> str:
        return self.project["version"]

    @property
    def stem(self) -> str:
        """The file-name form of the name (PEP 427/625): ``transom_auth_jwt``."""
        return re.sub(r"[-_.]+", "_", self.name).lower()

    def wheel(self, out: Path) -> Path:
        return out / f"{self.stem}-{self.version}-py3-none-any.whl"

    def sdist(self, out: Path) -> Path:
        return out / f"{self.stem}-{self.version}.tar.gz"


@dataclass
class Report:
    member: Member
    problems: list[str] = field(default_factory=list)


def members(root: Path = ROOT) -> list[Member]:
    """The workspace members, in the order of the root pyproject's ``members`` globs."""
    config = tomllib.loads((root / "pyproject.toml").read_text())
    found: list[Member] = []
    for pattern in config["tool"]["uv"]["workspace"]["members"]:
        for pyproject in sorted(root.glob(f"{pattern}/pyproject.toml")):
            project = tomllib.loads(pyproject.read_text())["project"]
            found.append(Member(pyproject.parent, project))
    return found


def _uv() -> str | None:
    found = shutil.which("uv")
    if found:
        return found
    sibling = Path(sys.executable).parent / "uv"
    return str(sibling) if sibling.exists() else None


def build(selected: list[Member], out: Path, root: Path = ROOT) -> None:
    """Build an sdist and a wheel of each member into ``out`` (old files of theirs removed)."""
    out.mkdir(parents=True, exist_ok=True)
    for member in selected:
        for old in (member.wheel(out), member.sdist(out)):
            old.unlink(missing_ok=True)
    uv = _uv()
    if uv is not None:
        cmd = [uv, "build", "--quiet", "--sdist", "--wheel", "-o", str(out)]
        if {m.name for m in selected} == {m.name for m in members(root)}:
            commands = [[*cmd, "--all-packages"]]
        else:
            commands = [[*cmd, "--package", m.name] for m in selected]
    else:
        commands = [[sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out),
                     str(member.path)] for member in selected]
    for cmd in commands:
        result = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")


def read_wheel(wheel: Path) -> tuple[email.message.Message, dict[str, dict[str, str]], list[str]]:
    """METADATA, entry points ({group: {name: value}}) and file names of a wheel."""
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(zf.read(f"{dist_info}/METADATA").decode())
        entry_points: dict[str, dict[str, str]] = {}
        if f"{dist_info}/entry_points.txt" in names:
            parser = configparser.ConfigParser(interpolation=None)
            parser.optionxform = str  # type: ignore[assignment,method-assign]
            parser.read_string(zf.read(f"{dist_info}/entry_points.txt").decode())
            entry_points = {s: dict(parser[s]) for s in parser.sections()}
    return metadata, entry_points, names


def source_versions(member: Member) -> dict[str, str]:
    """``__version__ = "..."`` literals in the member's ``src/`` (file -> version)."""
    found: dict[str, str] = {}
    for path in sorted((member.path / "src").rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError:
            continue
        for node in tree.body:
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                    and isinstance(node.value.value, str)
                    and any(isinstance(t, ast.Name) and t.id == "__version__"
                            for t in node.targets)):
                found[str(path.relative_to(member.path))] = node.value.value
    return found


def _requirement_name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\s\[<>=!~;(@]", requirement, maxsplit=1)[0]).lower()


def _accepts(requirement: str, version: str) -> bool:
    try:
        from packaging.requirements import Requirement
    except ImportError:  # packaging comes with build/pytest/twine; without it, don't judge
        return True
    return Requirement(requirement.split(";")[0]).specifier.contains(version, prereleases=True)


def check_member(member: Member, out: Path, workspace: dict[str, str]) -> list[str]:
    """Everything wrong with the built files of ``member`` (``workspace``: name -> version)."""
    problems: list[str] = []
    wheel, sdist = member.wheel(out), member.sdist(out)
    for built in (wheel, sdist):
        if not built.is_file():
            problems.append(f"{built.name} was not built")
    if problems:
        return problems

    metadata, entry_points, files = read_wheel(wheel)
    for name in REQUIRED_FIELDS:
        if not metadata.get_all(name):
            problems.append(f"METADATA has no {name}")
    if not (metadata.get("Author") or metadata.get("Author-email")):
        problems.append("METADATA has no Author or Author-email")
    if metadata.get("Name") != member.name or metadata.get("Version") != member.version:
        problems.append(f"METADATA is {metadata.get('Name')} {metadata.get('Version')}, "
                        f"pyproject.toml says {member.name} {member.version}")
    if metadata.get("Description-Content-Type", "").split(";")[0] != "text/markdown":
        problems.append("the long description is not Markdown (readme = \"README.md\")")
    readme = member.path / "README.md"
    body = str(metadata.get_payload() or "").strip()
    if not body:
        problems.append("the long description (README) is empty")
    elif readme.is_file() and readme.read_text().strip().splitlines()[0] not in body:
        problems.append("the long description is not the README")
    if any(c.startswith("License ::") for c in metadata.get_all("Classifier") or []):
        problems.append("a License :: classifier beside License-Expression (PEP 639: drop it)")
    labels = {u.split(",")[0].strip().lower() for u in metadata.get_all("Project-URL") or []}
    for label in REQUIRED_URLS:
        if label.lower() not in labels:
            problems.append(f"no Project-URL {label}")

    # the license, in both files
    dist_info = next(n.split("/")[0] for n in files if n.endswith(".dist-info/METADATA"))
    for license_file in metadata.get_all("License-File") or []:
        if f"{dist_info}/licenses/{license_file}" not in files:
            problems.append(f"the wheel lacks {license_file}")
    with tarfile.open(sdist) as tf:
        sdist_files = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    for license_file in member.project.get("license-files", []):
        if license_file not in sdist_files:
            problems.append(f"the sdist lacks {license_file}")
    if "README.md" not in sdist_files:
        problems.append("the sdist lacks README.md")

    # entry points: the wheel's are pyproject.toml's, and every plugin/dialect has one
    declared = dict(member.project.get("entry-points", {}))
    if member.project.get("scripts"):
        declared["console_scripts"] = member.project["scripts"]
    for group, entries in declared.items():
        if entry_points.get(group) != entries:
            problems.append(f"entry points [{group}] are {entry_points.get(group)}, "
                            f"pyproject.toml says {entries}")
    if member.name == "transom":
        if "transom" not in entry_points.get("console_scripts", {}):
            problems.append("no `transom` command")
        if "pytest11" not in entry_points:
            problems.append("no pytest11 entry point (transom.testing)")
    elif not entry_points.get("transom.plugins"):
        problems.append("no transom.plugins entry point")

    # dependencies: lower bounds; those on members accept the versions released together
    for requirement in metadata.get_all("Requires-Dist") or []:
        name = _requirement_name(requirement)
        if not LOWER_BOUND.search(requirement.split(";")[0]):
            problems.append(f"dependency without a lower bound: {requirement}")
        elif name in workspace and not _accepts(requirement, workspace[name]):
            problems.append(f"{requirement} excludes {name} {workspace[name]} of this release")

    for path, version in source_versions(member).items():
        if version != member.version:
            problems.append(f"{path}: __version__ = {version!r}, pyproject.toml: "
                            f"{member.version}")
    return problems


def twine_check(files: list[Path]) -> dict[str, str]:
    """``twine check --strict``: {file name: its complaint} for the files that fail, or
    {"*": why} when twine could not judge them."""
    try:
        import twine  # noqa: F401
    except ImportError:
        return {"*": "twine is not installed (uv sync --group dev): README rendering unchecked"}
    failures: dict[str, str] = {}
    # one line per message: rich, which twine prints through, wraps at COLUMNS otherwise
    env = {**os.environ, "COLUMNS": "100000", "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-m", "twine", "--no-color", "check", "--strict",
                             *map(str, files)], capture_output=True, text=True, env=env)
    if result.returncode == 0:
        return failures
    current = None
    for line in (result.stdout + result.stderr).splitlines():
        m = re.match(r"Checking (.+): (PASSED|FAILED|WARNING)\b", line.strip())
        if m:
            current = Path(m.group(1)).name
            if m.group(2) != "PASSED":
                failures[current] = m.group(2)
        elif current in failures and line.strip():
            failures[current] += " " + " ".join(line.split())
    return failures or {"*": (result.stdout + result.stderr).strip()[-2000:]}


def check(selected: list[Member], out: Path, all_members: list[Member] | None = None
          ) -> tuple[list[Report], list[str]]:
    """Per-member reports and release-wide problems (version consistency, twine)."""
    all_members = all_members or selected
    workspace = {_requirement_name(m.name): m.version for m in all_members}
    reports = [Report(m, check_member(m, out, workspace)) for m in selected]
    general: list[str] = []
    versions = sorted({m.version for m in all_members})
    if len(versions) > 1:
        general.append("members have different versions: " + ", ".join(
            f"{m.name} {m.version}" for m in all_members))
    built = [f for m in selected for f in (m.wheel(out), m.sdist(out)) if f.is_file()]
    failures = twine_check(built)
    for report in reports:
        for built_file in (report.member.wheel(out), report.member.sdist(out)):
            if built_file.name in failures:
                report.problems.append(f"twine check: {built_file.name}: "
                                       f"{failures[built_file.name]}")
    if "*" in failures:
        general.append(f"twine check: {failures['*']}")
    else:
        print(f"twine check --strict: {len(built) - len(failures)} of {len(built)} files passed")
    return reports, general


def summary(reports: list[Report], general: list[str], out: Path) -> str:
    width = max(len(r.member.name) for r in reports)
    lines = [f"{'distribution':<{width}}  version  files  result"]
    for report in reports:
        m = report.member
        files = sum(f.is_file() for f in (m.wheel(out), m.sdist(out)))
        lines.append(f"{m.name:<{width}}  {m.version:<7}  {files}/2    "
                     + ("ok" if not report.problems else f"{len(report.problems)} problem(s)"))
        lines += [f"    - {p}" for p in report.problems]
    lines += [f"! {p}" for p in general]
    bad = sum(bool(r.problems) for r in reports) + bool(general)
    lines.append(f"{len(reports)} distributions in {out}: "
                 + ("all checks passed" if not bad else "CHECKS FAILED"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="build and check; upload nothing")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="default: dist/")
    parser.add_argument("--no-build", action="store_true", help="check the files in --out")
    parser.add_argument("--package", action="append", metavar="NAME",
                        help="only this distribution (repeatable; default: every member)")
    parser.add_argument("--repository", default=None,
                        help="twine's --repository for the upload (e.g. testpypi)")
    args = parser.parse_args(argv)

    everything = members()
    selected = everything
    if args.package:
        unknown = set(args.package) - {m.name for m in everything}
        if unknown:
            parser.error(f"not workspace members: {', '.join(sorted(unknown))}")
        selected = [m for m in everything if m.name in args.package]
    out = args.out.resolve()
    if not args.no_build:
        build(selected, out)
    reports, general = check(selected, out, everything)
    print(summary(reports, general, out))
    if general or any(r.problems for r in reports):
        return 1
    if args.check:
        return 0
    files = [str(f) for m in selected for f in (m.sdist(out), m.wheel(out))]
    cmd = [sys.executable, "-m", "twine", "upload"]
    if args.repository:
        cmd += ["--repository", args.repository]
    return subprocess.run([*cmd, *files]).returncode


if __name__ == "__main__":
    sys.exit(main())
