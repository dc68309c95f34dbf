"""The sandbox behind the ``exec`` (Run Script) operation.

Two fences, because neither is enough alone: the code is compiled with RestrictedPython
(no underscore attributes, only safe builtins, imports from an allow-list), and it runs in a
short-lived child process (``python -I``, empty environment, a fresh empty working
directory, root dropped to ``nobody``) under rlimits (CPU seconds, address space, three
open files, no new processes, no file writes) and a wall-clock timeout after which the
parent kills it. See docs/flows.md.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_CHILD = Path(__file__).with_name("sandbox_child.py")


class ScriptError(Exception):
    """The script failed, was refused, or was killed; the message says which."""


@dataclass(frozen=True)
class Limits:
    """What one script run may use."""

    timeout: float = 10.0
    max_memory: int = 64 * 1024 * 1024
    modules: tuple[str, ...] = ()


def run_script(code: str, data: Any, limits: Limits) -> Any:
    """Run ``main(data)`` from ``code`` in the sandbox and return its JSON result."""
    request = json.dumps({"code": code, "data": data, "modules": list(limits.modules),
                          "max_memory": limits.max_memory,
                          "cpu_seconds": max(1, math.ceil(limits.timeout))}, default=str)
    with tempfile.TemporaryDirectory(prefix="transom-script-") as cwd:
        try:
            done = subprocess.run(  # noqa: S603 - our own interpreter and child script
                [sys.executable, "-I", "-B", str(_CHILD)], input=request.encode(),
                capture_output=True, env={}, cwd=cwd, timeout=limits.timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ScriptError(f"The script was stopped after {limits.timeout:g} s "
                              "(FLOWS_EXEC_TIMEOUT)") from exc
    try:
        answer = json.loads(done.stdout.decode() or "null")
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise ScriptError(_died(done.returncode, max(1, math.ceil(limits.timeout))))
    if not answer.get("ok"):
        raise ScriptError(str(answer.get("error") or "The script failed"))
    return answer.get("result")


def _died(returncode: int, cpu_seconds: float) -> str:
    """Why a child ended without an answer, from its exit status."""
    if returncode == -24:  # SIGXCPU
        return (f"The script was stopped after {cpu_seconds:g} s of CPU time "
                "(FLOWS_EXEC_TIMEOUT)")
    if returncode in (-9, -11):
        return "The script was killed (memory limit FLOWS_EXEC_MAX_MEMORY or a crash)"
    return f"The script ended without an answer (exit status {returncode})"
