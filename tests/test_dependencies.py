"""Declared = imported, for every distribution of the repository.

For each distribution (the workspace members, the example plugin and the plugin template), the
imports of ``src/**/*.py`` are read with ``ast`` (module level and inside functions, plus
``importlib.import_module("literal")``; imports under ``if TYPE_CHECKING:`` are left out,
since they never run) and compared with pyproject.toml:

* every imported third-party top-level module belongs to a distribution listed in
  ``dependencies`` (or in an extra: an import guarded by its extra is declared there);
* every distribution listed in ``dependencies`` is imported somewhere in ``src/``, except the
  commented entries of ``NOT_IMPORTED``.

Import names are mapped to distributions with ``importlib.metadata.packages_distributions()``
(the workspace venv has every dependency installed); the repository's own distributions are
mapped from their ``src/`` folders, since editable installs don't list their modules.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOT_PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DISTRIBUTIONS = sorted(
    p.parent for pattern in ROOT_PYPROJECT["tool"]["uv"]["workspace"]["members"]
    for p in ROOT.glob(f"{pattern}/pyproject.toml")
) + [ROOT / "examples" / "transom-example-visits", ROOT / "_template"]

#: Declared dependencies no ``import`` statement names, each for a stated reason.
NOT_IMPORTED: dict[str, dict[str, str]] = {
    "transom-dialect-mysql": {
        # the DBAPI driver: SQLAlchemy imports it itself for `mysql+pymysql://` URLs
        "pymysql": "loaded by SQLAlchemy through the mysql+pymysql URL",
    },
    "transom-dialect-mssql": {
        # the DBAPI driver: SQLAlchemy imports it itself for `mssql+pyodbc://` URLs
        "pyodbc": "loaded by SQLAlchemy through the mssql+pyodbc URL",
    },
    "transom-dialect-oracle": {
        # the DBAPI driver: SQLAlchemy imports it itself for `oracle+oracledb://` URLs
        "oracledb": "loaded by SQLAlchemy through the oracle+oracledb URL",
    },
}

#: Imported distributions that need not be declared, each for a stated reason. (An import
#: inside ``try: ... except ImportError`` is optional by construction and needs no entry.)
NOT_DECLARED: dict[str, dict[str, str]] = {
    "transom": {
        # transom.testing is the pytest plugin (entry point pytest11): only pytest loads it,
        # so pytest is always there when it runs; deployments must not pull pytest in
        "pytest": "transom.testing is loaded by pytest itself, through pytest11",
    },
}

#: Violations known and being fixed, by distribution: while one is still there its
#: distribution's test xfails, listing it; any OTHER violation fails the test. Delete an
#: entry once the fix has landed (none are pending now).
PENDING: dict[str, set[str]] = {}


def normalize(name: str) -> str:
    """PEP 503 form of a distribution name: ``Flask_Smorest`` -> ``flask-smorest``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return normalize(re.split(r"[\s\[<>=!~;(@]", requirement.strip(), maxsplit=1)[0])


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _catches_import_error(node: ast.Try) -> bool:
    names: set[str] = set()
    for handler in node.handlers:
        types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        names |= {t.id if isinstance(t, ast.Name) else getattr(t, "attr", "") for t in types
                  if t is not None}
    return bool(names & {"ImportError", "ModuleNotFoundError"})


def _walk(node: ast.AST, optional: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    """Every node below ``node`` with whether an ImportError there is handled, leaving out
    the bodies of ``if TYPE_CHECKING:`` (their ``else`` is kept)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other, optional
                yield from _walk(other, optional)
            continue
        if isinstance(child, ast.Try) and _catches_import_error(child):
            for other in child.body:
                yield other, True
                yield from _walk(other, True)
            for part in (child.handlers, child.orelse, child.finalbody):
                for other in part:
                    yield other, optional
                    yield from _walk(other, optional)
            continue
        yield child, optional
        yield from _walk(child, optional)


def imports(source: str) -> dict[str, bool]:
    """Top-level names of the absolute imports of ``source``, at any depth, each with
    whether it is required (False: only ever imported inside ``try/except ImportError``)."""
    found: dict[str, bool] = {}
    for node, optional in _walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name)
                       and node.func.id in ("import_module", "__import__")))
              and not node.args[0].value.startswith(".")):
            names = [node.args[0].value]
        for name in names:
            top = name.split(".")[0]
            found[top] = found.get(top, False) or not optional
    return found


def imported_modules(source: str) -> set[str]:
    return set(imports(source))


def project(dist: Path) -> dict:
    return tomllib.loads((dist / "pyproject.toml").read_text())["project"]


def _first_party() -> dict[str, str]:
    """Import name -> distribution, for the distributions of this repository."""
    modules: dict[str, str] = {}
    for dist in DISTRIBUTIONS:
        for package in (dist / "src").iterdir():
            if (package / "__init__.py").is_file() or package.suffix == ".py":
                modules[package.stem] = normalize(project(dist)["name"])
    return modules


FIRST_PARTY = _first_party()
THIRD_PARTY = {module: sorted({normalize(d) for d in dists})
               for module, dists in importlib.metadata.packages_distributions().items()}


def distributions_of(module: str) -> list[str] | None:
    """The distributions providing ``module``; [] for the standard library; None: unknown."""
    if module in sys.stdlib_module_names or module == "__future__":
        return []
    if module in FIRST_PARTY:
        return [FIRST_PARTY[module]]
    return THIRD_PARTY.get(module)


def violations(dist: Path) -> set[str]:
    meta = project(dist)
    own = normalize(meta["name"])
    declared = {requirement_name(r) for r in meta.get("dependencies", [])}
    extras = {requirement_name(r) for reqs in meta.get("optional-dependencies", {}).values()
              for r in reqs}
    modules: dict[str, bool] = {}
    for path in sorted((dist / "src").rglob("*.py")):
        for module, required in imports(path.read_text(encoding="utf-8")).items():
            modules[module] = modules.get(module, False) or required

    found: set[str] = set()
    used: set[str] = set()
    not_declared = NOT_DECLARED.get(own, {})
    for module, required in sorted(modules.items()):
        providers = distributions_of(module)
        if providers is None:
            if required:
                found.add(f"imported, not installed in the workspace (unknown): {module}")
            continue
        if not providers or own in providers:
            continue
        used.update(providers)
        if required and not set(providers) & (declared | extras | set(not_declared)):
            found.add(f"imported, not declared: {' or '.join(providers)}")
    not_imported = NOT_IMPORTED.get(own, {})
    for name in sorted(declared - used):
        if name not in not_imported:
            found.add(f"declared, not imported: {name}")
    # the allow-lists stay true: each entry still describes the code
    for name in sorted(not_imported):
        if name not in declared or name in used:
            found.add(f"stale NOT_IMPORTED entry: {name}")
    for name in sorted(not_declared):
        if name in declared or name not in used:
            found.add(f"stale NOT_DECLARED entry: {name}")
    return found


def test_the_import_scanner():
    source = '''
from __future__ import annotations
import os, yaml.constructor
from typing import TYPE_CHECKING
from . import sibling
from .x import y
if TYPE_CHECKING:
    import only_for_types
else:
    import at_runtime
def f():
    import inside_a_function
    from deep.er import thing
    return importlib.import_module("by_name"), __import__("dunder")
try:
    import maybe
except ImportError:
    import fallback
'''
    assert imported_modules(source) == {"__future__", "os", "yaml", "typing", "at_runtime",
                                        "inside_a_function", "deep", "by_name", "dunder",
                                        "maybe", "fallback"}
    assert imports(source)["maybe"] is False and imports(source)["fallback"] is True
    assert imports(source)["inside_a_function"] is True
    assert distributions_of("yaml") == ["pyyaml"]
    assert distributions_of("json") == []
    assert distributions_of("transom") == ["transom"]


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=[d.name for d in DISTRIBUTIONS])
def test_declared_dependencies_are_the_imported_ones(dist: Path):
    name = normalize(project(dist)["name"])
    found = violations(dist)
    pending = PENDING.get(name, set())
    unexpected = sorted(found - pending)
    assert not unexpected, f"{name}:\n  " + "\n  ".join(unexpected)
    still_pending = sorted(found & pending)
    if still_pending:
        pytest.xfail(f"{name}, being fixed elsewhere: {'; '.join(still_pending)}")
