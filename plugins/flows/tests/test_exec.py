"""The ``exec`` (Run Script) operation: off by default; when on, ``main(data)`` runs under
RestrictedPython in a locked-down child process, and every way out is a clear rejection."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.backends("sqlite")  # the sandbox never touches the database

WEBHOOK = {"trigger": "webhook", "options": {"method": "POST"}}
SUM = """
def main(data):
    body = data["$trigger"]["body"]
    total = 0
    for n in body["numbers"]:
        total += n
    return {"total": total, "title": body["title"].upper(), "count": len(body["numbers"])}
"""


def _script_flow(api: Any, flow_builder: Any, code: str) -> str:
    return flow_builder(api.ok, {"name": "script", **WEBHOOK},
                        [{"key": "s", "type": "exec", "options": {"code": code}}])["id"]


def _error(api: Any, fid: str, body: Any = None) -> str:
    r = api.call("POST", f"/flows/trigger/{fid}", body or {})
    assert r.status_code == 400, r.get_data(True)
    error = r.get_json()["errors"][0]
    assert error["extensions"]["code"] == "INVALID_PAYLOAD"
    return error["message"]


@pytest.fixture
def script_api(make_api: Any) -> Any:
    return make_api({"FLOWS_EXEC_ALLOWED": "true", "FLOWS_EXEC_TIMEOUT": "2"})


def test_disabled_by_default(api, flow_builder):
    fid = _script_flow(api, flow_builder, SUM)
    assert "disabled" in _error(api, fid, {"title": "a", "numbers": [1]})


def test_script_computes_from_trigger(script_api, flow_builder):
    fid = _script_flow(script_api, flow_builder, SUM)
    r = script_api.call("POST", f"/flows/trigger/{fid}", {"title": "sum", "numbers": [4, 5, 6]})
    assert r.status_code == 200
    assert r.get_json() == {"total": 15, "title": "SUM", "count": 3}


def test_result_feeds_the_next_operation(script_api, flow_builder):
    made = flow_builder(script_api.ok, {"name": "chain", **WEBHOOK}, [
        {"key": "s", "type": "exec", "resolve": "w",
         "options": {"code": "def main(data):\n    return {'note': 'n' + str(7 * 6)}"}},
        {"key": "w", "type": "item-create",
         "options": {"collection": "audit", "payload": {"note": "{{ s.note }}"}}}])
    assert script_api.call("POST", f"/flows/trigger/{made['id']}", {}).status_code == 200
    assert [i["note"] for i in script_api.ok("GET", "/items/audit")] == ["n42"]


@pytest.mark.parametrize(("code", "expected"), [
    ("import os\ndef main(data):\n    return os.getcwd()", "import of 'os' is not allowed"),
    ("def main(data):\n    return open('/etc/passwd').read()", "name 'open' is not defined"),
    ("def main(data):\n    return ().__class__.__subclasses__()", "does not compile"),
    ("def main(data):\n    while True:\n        pass", "stopped after 2 s"),
    ("def main(data):\n    x = []\n    while True:\n        x.append('a' * 1000000)",
     "ran out of memory"),
    ("def main(data):\n    raise ValueError('no good')", "ValueError: no good"),
    ("def main(data):\n    return {1, 2}", "not JSON"),
    ("x = 1", 'must define "def main(data)'),
], ids=["import", "open-file", "dunder", "infinite-loop", "memory-bomb", "raises",
        "not-json", "no-main"])
def test_refused_and_killed_scripts_reject(script_api, flow_builder, code, expected):
    fid = _script_flow(script_api, flow_builder, code)
    assert expected in _error(script_api, fid)


def test_reject_path_receives_the_error(script_api, flow_builder):
    made = flow_builder(script_api.ok, {"name": "rej", **WEBHOOK}, [
        {"key": "s", "type": "exec", "reject": "w",
         "options": {"code": "import socket\ndef main(data):\n    return 1"}},
        {"key": "w", "type": "item-create",
         "options": {"collection": "audit", "payload": {"note": "{{ s.message }}"}}}])
    assert script_api.call("POST", f"/flows/trigger/{made['id']}", {}).status_code == 200
    notes = [i["note"] for i in script_api.ok("GET", "/items/audit")]
    assert len(notes) == 1 and "import of 'socket' is not allowed" in notes[0]


def test_allowed_modules_may_be_imported(make_api, flow_builder):
    api = make_api({"FLOWS_EXEC_ALLOWED": "true", "FLOWS_EXEC_ALLOWED_MODULES": "math"})
    fid = _script_flow(api, flow_builder,
                       "import math\ndef main(data):\n    return math.isqrt(81)")
    r = api.call("POST", f"/flows/trigger/{fid}", {})
    assert (r.status_code, r.get_json()) == (200, 9)
    fid = _script_flow(api, flow_builder, "import json\ndef main(data):\n    return 1")
    assert "import of 'json' is not allowed" in _error(api, fid)


@pytest.mark.parametrize(("code", "expected"), [
    ("def main(data):\n    return os.open('new', os.O_CREAT | os.O_WRONLY)",
     "Too many open files"),
    ("def main(data):\n    return os.fork()", "Resource temporarily unavailable"),
    ("def main(data):\n    return os.listdir('/')", "Too many open files"),
    ("def main(data):\n    return str(socket.socket())", "Too many open files"),
], ids=["create-file", "fork", "list-dir", "socket"])
def test_process_limits_hold_even_with_os_allowed(make_api, flow_builder, code, expected):
    """The rlimits are the second fence: an admin who allows ``os`` still gets no new
    files, sockets or processes."""
    api = make_api({"FLOWS_EXEC_ALLOWED": "true", "FLOWS_EXEC_ALLOWED_MODULES": "os,socket"})
    fid = _script_flow(api, flow_builder, "import os\nimport socket\n" + code)
    assert expected in _error(api, fid)


def test_script_runs_unprivileged_with_an_empty_environment(make_api, flow_builder):
    api = make_api({"FLOWS_EXEC_ALLOWED": "true", "FLOWS_EXEC_ALLOWED_MODULES": "os"})
    fid = _script_flow(api, flow_builder, "import os\ndef main(data):\n"
                       "    return {'uid': os.getuid(), 'env': sorted(os.environ)}")
    r = api.call("POST", f"/flows/trigger/{fid}", {})
    assert r.status_code == 200
    assert r.get_json()["uid"] != 0
    assert not {"PATH", "HOME", "DB_CONNECTION_STRING", "SECRET"} & set(r.get_json()["env"])


def test_missing_code_is_a_clear_error(script_api, flow_builder):
    fid = _script_flow(script_api, flow_builder, "")
    assert '"code" is required' in _error(script_api, fid)


@pytest.mark.live
@pytest.mark.backends("sqlite", "postgres", "mysql")
def test_live_script_on_every_worker(live_server, flow_builder, backend):
    server = live_server(workers=2, env={"FLOWS_EXEC_ALLOWED": "true",
                                         "FLOWS_EXEC_TIMEOUT": "2"})

    def call(method: str, path: str, body: Any = None) -> Any:
        return server.ok(method, path, body)

    fid = flow_builder(call, {"name": "live", **WEBHOOK},
                       [{"key": "s", "type": "exec", "options": {"code": SUM}}])["id"]
    answers = server.burst("POST", f"/flows/trigger/{fid}", n=8,
                           body=lambda i: {"title": f"t{i}", "numbers": [i, 1]}, full=True)
    assert sorted(answers, key=lambda a: a[1]["title"]) == [
        (200, {"total": i + 1, "title": f"T{i}", "count": 2}) for i in range(8)]
    loop = flow_builder(call, {"name": "loop", **WEBHOOK}, [{"key": "s", "type": "exec",
                        "options": {"code": "def main(data):\n    while True:\n        pass"}}])
    status, body = server.call("POST", f"/flows/trigger/{loop['id']}", {})
    assert status == 400 and "stopped after 2 s" in body["errors"][0]["message"]
    assert server.call("GET", "/server/ping")[0] == 200  # the worker lives on
    assert server.traceback() is None
