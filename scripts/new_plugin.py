#!/usr/bin/env python3
"""Make a new Transom plugin from ``_template/``.

    python scripts/new_plugin.py visits                # -> ./transom-visits
    python scripts/new_plugin.py visits ../somewhere   # -> ../somewhere/transom-visits

NAME is the plugin's name: a lower-case Python identifier (``visits``, ``page_stats``). The
template has two placeholders, replaced in every file's text and in file and folder names:

* ``PLUGINNAME``  -> NAME, lower case: distribution ``transom-NAME``, import ``transom_NAME``,
  entry point, URL prefix, blueprint;
* ``PLUGINUPPER`` -> NAME in upper case: the plugin's settings (``VISITS_GREETING``), which are
  environment variables and therefore upper-case.

Only the standard library is used, so any Python 3.11+ can run it, in or out of the checkout.
"""

from __future__ import annotations

import argparse
import keyword
import re
import shutil
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1] / "_template"
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "dist", "build",
                                ".pytest_cache", ".venv")
NAME_RE = re.compile(r"[a-z][a-z0-9_]*")


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name) or keyword.iskeyword(name) or name.endswith("_"):
        raise ValueError(f"{name!r}: use a lower-case Python identifier, e.g. 'visits'")
    return name


def substitute(text: str, name: str) -> str:
    return text.replace("PLUGINUPPER", name.upper()).replace("PLUGINNAME", name)


def render(name: str, dest: Path, template: Path = TEMPLATE) -> Path:
    """Copy ``template`` to ``dest/transom-<name>`` with the placeholders replaced."""
    check_name(name)
    target = Path(dest) / f"transom-{name.replace('_', '-')}"
    if target.exists():
        raise FileExistsError(f"{target} already exists")
    shutil.copytree(template, target, ignore=IGNORE)
    # deepest paths first, so renaming a folder never invalidates a path still to visit
    for path in sorted(target.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                text = None
            if text is not None and substitute(text, name) != text:
                path.write_text(substitute(text, name), encoding="utf-8")
        if substitute(path.name, name) != path.name:
            path.rename(path.with_name(substitute(path.name, name)))
    pyproject = target / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    if text.startswith("#") and "\n[build-system]" in text:  # the how-to-copy-me comment
        pyproject.write_text(text[text.index("[build-system]"):], encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the plugin's name, a lower-case identifier ('visits')")
    parser.add_argument("dest", nargs="?", default=".", help="parent folder (default: .)")
    args = parser.parse_args(argv)
    try:
        target = render(args.name, Path(args.dest))
    except (ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"created {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
