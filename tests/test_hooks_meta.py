"""Every hook spec has a documentation page (up to date) and a ``test_hook_<name>`` test."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("gen_hook_docs", ROOT / "docs" / "gen_hook_docs.py")
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)

SPECS = gen.specs()


def _all_test_sources() -> str:
    files = [p for pattern in ("core/tests", "tests", "plugins/*/tests", "dialects/*/tests")
             for folder in ROOT.glob(pattern) for p in folder.rglob("test_*.py")]
    return "\n".join(p.read_text() for p in files)


TEST_SOURCES = _all_test_sources()


def test_there_are_specs():
    assert len(SPECS) >= 15


@pytest.mark.parametrize("name,sig,doc,opts", SPECS, ids=[s[0] for s in SPECS])
def test_hook_is_documented(name, sig, doc, opts):
    assert doc.strip(), f"hook spec {name} has no docstring"
    page = ROOT / "docs" / "hooks" / f"{name}.md"
    assert page.is_file(), f"docs/hooks/{name}.md is missing: run docs/gen_hook_docs.py"
    text = page.read_text()
    assert text.splitlines()[0] == gen.heading(name, sig)
    assert text == gen.render(name, sig, doc, opts), (
        f"docs/hooks/{name}.md is out of date: run uv run python docs/gen_hook_docs.py")


@pytest.mark.parametrize("name", [s[0] for s in SPECS])
def test_hook_has_a_test(name):
    assert re.search(rf"def test_hook_{name}\b", TEST_SOURCES), (
        f"no test named test_hook_{name} anywhere in the test suite")
