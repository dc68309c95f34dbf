"""The child side of the script sandbox: run as ``python -I sandbox_child.py`` by
:mod:`transom_flows.sandbox`, never imported by the server.

It reads one JSON request on stdin (``code``, ``data``, ``modules``, ``max_memory``,
``cpu_seconds``), imports the allowed modules, then locks itself down (drops root, caps CPU,
address space, open files, processes and file size) *before* compiling the user's code with
RestrictedPython, and writes one JSON answer on stdout: ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": "..."}``. Only the standard library and RestrictedPython are used
so the child needs nothing from the server's process.
"""

from __future__ import annotations

import importlib
import json
import operator
import os
import resource
import sys
from typing import Any

from RestrictedPython import compile_restricted_exec, limited_builtins, safe_builtins
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from RestrictedPython.PrintCollector import PrintCollector

#: pure builtins a script may use on top of RestrictedPython's safe set
_EXTRA_BUILTINS = {f.__name__: f for f in (
    all, any, dict, enumerate, filter, frozenset, list, map, max, min, reversed, set,
    sorted, sum, tuple, zip)}

#: augmented assignment (``x += 1``), for the operators Python has
_INPLACE = {"+=": operator.iadd, "-=": operator.isub, "*=": operator.imul,
            "/=": operator.itruediv, "//=": operator.ifloordiv, "%=": operator.imod,
            "**=": operator.ipow, "<<=": operator.ilshift, ">>=": operator.irshift,
            "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor}

_NOBODY = 65534


def _answer(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload))
    sys.stdout.flush()


def _vm_size() -> int:
    """Bytes of address space the interpreter already holds (the limit is on top of it)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _lock_down(max_memory: int, cpu_seconds: int) -> None:
    """No root, bounded CPU and memory, no new files, no new processes."""
    base = _vm_size()
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(_NOBODY)
        os.setuid(_NOBODY)
    limits = {resource.RLIMIT_CPU: cpu_seconds, resource.RLIMIT_AS: base + max_memory,
              resource.RLIMIT_NOFILE: 3, resource.RLIMIT_NPROC: 0, resource.RLIMIT_FSIZE: 0,
              resource.RLIMIT_CORE: 0}
    for which, value in limits.items():
        # CPU: the soft limit sends SIGXCPU, the hard one (a second later) SIGKILL; equal
        # limits would SIGKILL at once, which reads as a memory kill to the parent
        hard = value + 1 if which == resource.RLIMIT_CPU else value
        resource.setrlimit(which, (value, hard))


def _guarded_import(allowed: frozenset[str]) -> Any:
    def do_import(name: str, globals: Any = None, locals: Any = None,
                  fromlist: Any = (), level: int = 0) -> Any:
        if level != 0 or name not in allowed:
            raise ImportError(f"import of {name!r} is not allowed "
                              "(FLOWS_EXEC_ALLOWED_MODULES)")
        return sys.modules[name] if fromlist else sys.modules[name.partition(".")[0]]
    return do_import


def _globals(allowed: frozenset[str]) -> dict[str, Any]:
    builtins = {**safe_builtins, **limited_builtins, **_EXTRA_BUILTINS,
                "__import__": _guarded_import(allowed)}
    return {
        "__builtins__": builtins, "__name__": "flow_script", "__metaclass__": type,
        "_getattr_": safer_getattr, "_getitem_": operator.getitem, "_getiter_": iter,
        "_write_": full_write_guard, "_print_": PrintCollector,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_inplacevar_": lambda op, x, y: _INPLACE[op](x, y),
    }


def _run(request: dict[str, Any]) -> dict[str, Any]:
    allowed = frozenset(str(m) for m in request.get("modules") or [])
    for name in allowed:  # imports read files: do them before the lock-down
        importlib.import_module(name)
    _lock_down(int(request["max_memory"]), int(request["cpu_seconds"]))
    compiled = compile_restricted_exec(str(request.get("code") or ""), "<flow script>")
    if compiled.errors:
        return {"ok": False, "error": "The script does not compile: "
                                      + "; ".join(compiled.errors)}
    scope = _globals(allowed)
    exec(compiled.code, scope)  # noqa: S102 - restricted code, restricted globals
    main = scope.get("main")
    if not callable(main):
        return {"ok": False, "error": 'The script must define "def main(data): ..."'}
    result = main(request.get("data"))
    try:
        text = json.dumps(result)
    except (TypeError, ValueError):
        return {"ok": False, "error": "The script's return value is not JSON "
                                      f"(a {type(result).__name__})"}
    return {"ok": True, "result": json.loads(text)}


def main() -> None:
    try:
        answer = _run(json.loads(sys.stdin.read()))
    except MemoryError:
        answer = {"ok": False, "error": "The script ran out of memory"}
    except RecursionError:
        answer = {"ok": False, "error": "The script recursed too deep"}
    except BaseException as exc:  # the script's own error, reported to the flow
        answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:2000]}
    _answer(answer)


if __name__ == "__main__":
    main()
