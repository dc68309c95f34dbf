"""The "one-way stairs": the layers of ``core/src/transom`` form one DAG.

* the import-linter contracts of the root ``pyproject.toml`` (``[tool.importlinter]``: the
  layers, bottom to top, as docs/architecture.md "Layers" lists them) are all kept;
* the runtime import graph of ``transom`` has no cycle (TYPE_CHECKING-only imports, used for
  annotations, are left out, as in the contracts);
* no function imports a ``transom`` module to dodge a cycle, beyond the known ones below.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "core" / "src" / "transom"

#: Import edges left out of the cycle check, each with why. Remove an entry when its
#: import is gone; the test then keeps it gone.
IGNORED_EDGES = {
    # transom/__init__.py re-exports create_app lazily (__getattr__), so that
    # `import transom` for `hookimpl` loads neither Flask nor SQLAlchemy: the package facade,
    # not a dependency of the modules that import `transom` for hookimpl or __version__.
    ("transom", "transom.app"),
}

#: Imports of transom modules inside functions, in files whose owners still have to move
#: them to the top of the module (or explain why they are lazy): (file, imported module).
#: The test fails on any new one, not on one of these going away.
KNOWN_FUNCTION_IMPORTS = {
    ("__init__.py", ".app"),  # the lazy facade (see IGNORED_EDGES)
    ("services/schema/common.py", "...system.collections"),
    ("services/schema/common.py", "...system.tables"),
    ("testing/databases.py", "..system.migrations"),
    ("testing/dialect_suite/base.py", "transom.config"),
    ("testing/helpers.py", ".plugin"),
    ("testing/helpers.py", "..app"),
    ("testing/helpers.py", "..system.bootstrap"),
    ("testing/helpers.py", ".databases"),
    ("testing/plugin.py", "..app"),
    ("testing/plugin.py", "..system.bootstrap"),
}


def _lint_imports() -> Path:
    script = Path(sys.executable).with_name("lint-imports")
    if not script.exists():
        pytest.fail("lint-imports is missing: install the dev group (uv sync)")
    return script


def test_import_contracts_are_kept() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "core" / "src")}
    result = subprocess.run(
        [str(_lint_imports()), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    graph = grimp.build_graph("transom", cache_dir=None, exclude_type_checking_imports=True)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    for importer, imported in IGNORED_EDGES:
        edges.get(importer, set()).discard(imported)
    cycles = _cycles(edges)
    details = []
    for comp in cycles:
        members = set(comp)
        for m in comp:
            for target in sorted(edges[m] & members):
                lines = [d["line_number"] for d in graph.get_import_details(
                    importer=m, imported=target)]
                details.append(f"{m} -> {target} (l.{lines})")
    assert not cycles, "import cycles:\n" + "\n".join(details)


def _function_imports() -> set[tuple[str, str]]:
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        rel = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom):
                    name = "." * sub.level + (sub.module or "")
                    if sub.level or name.split(".")[0] == "transom":
                        found.add((rel, name))
                elif isinstance(sub, ast.Import):
                    for alias in sub.names:
                        if alias.name.split(".")[0] == "transom":
                            found.add((rel, alias.name))
    return found


def test_no_new_function_level_imports() -> None:
    new = _function_imports() - KNOWN_FUNCTION_IMPORTS
    assert not new, ("transom modules imported inside functions (import them at the top; "
                     f"a cycle that forces this is a layering bug): {sorted(new)}")


# -- the plugin contract --------------------------------------------------------------------
#: What first-party plugins, the examples and _template may import of transom.
PLUGIN_ALLOWED = {"transom.api"}
#: Dialect packages may also import the dialect SPI (documented in docs/writing-plugins.md
#: "What a plugin may import"): the Dialect base class and its helpers, the raw schema they
#: build, the messenger's transports, the errors and the config they are given.
DIALECT_ALLOWED = PLUGIN_ALLOWED | {"transom", "transom.dialects", "transom.schema.raw",
                                    "transom.messenger", "transom.messenger.listener",
                                    "transom.errors", "transom.config"}
#: Known exceptions, (file, module): remove an entry when its import is gone.
KNOWN_PLUGIN_IMPORTS: set[tuple[str, str]] = set()


def _transom_imports(folder_globs: list[str]) -> set[tuple[str, str]]:
    """(file, module) for every import of a transom module, wherever it is (module level,
    functions, TYPE_CHECKING blocks)."""
    found = set()
    for pattern in folder_globs:
        for path in sorted(ROOT.glob(pattern)):
            rel = path.relative_to(ROOT).as_posix()
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                found.update((rel, n) for n in names if n.split(".")[0] == "transom")
    return found


def test_plugins_import_only_the_api() -> None:
    used = _transom_imports(["plugins/*/src/**/*.py", "examples/*/src/**/*.py",
                             "_template/src/**/*.py"])
    bad = {(f, m) for f, m in used if m not in PLUGIN_ALLOWED} - KNOWN_PLUGIN_IMPORTS
    assert not bad, ("first-party plugins import transom.api only (export what they need "
                     f"there, deliberately): {sorted(bad)}")


def test_dialects_import_only_the_api_and_the_dialect_spi() -> None:
    used = _transom_imports(["dialects/*/src/**/*.py"])
    bad = {(f, m) for f, m in used if m not in DIALECT_ALLOWED}
    assert not bad, f"dialects import outside transom.api and the dialect SPI: {sorted(bad)}"


def test_plugin_contract_forbids_every_core_module_but_the_api() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}
    forbidden = set(contracts["plugins-use-the-api"]["forbidden_modules"])
    modules = {f"transom.{p.stem if p.is_file() else p.name}" for p in PACKAGE.iterdir()
               if (p.suffix == ".py" and not p.name.startswith("__"))
               or (p.is_dir() and (p / "__init__.py").is_file())}
    assert forbidden == modules - {"transom.api"}
    plugin_packages = {p.name for p in ROOT.glob("plugins/*/src/*") if p.is_dir()
                       and (p / "__init__.py").is_file()}
    assert plugin_packages <= set(config["tool"]["importlinter"]["root_packages"])
    assert plugin_packages <= set(contracts["plugins-use-the-api"]["source_modules"])
