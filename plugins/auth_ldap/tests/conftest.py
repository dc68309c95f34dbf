"""A real OpenLDAP server (Debian's slapd) for the LDAP tests.

``slapd_server`` writes a throw-away ``slapd.conf`` (mdb backend, suffix dc=example,dc=org),
loads a few people and groups with ``slapadd`` and runs slapd in the foreground on a free
port of 127.0.0.1 for the session; it is stopped at teardown. Without slapd the tests skip,
and fail under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from transom.testing.live import free_port

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
SCHEMAS = Path("/etc/ldap/schema")
MODULES = Path("/usr/lib/ldap")
SUFFIX = "dc=example,dc=org"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "admin-secret"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"

#: uid -> (password, given name, surname, mail)
USERS = {
    "alice": ("alice-pw", "Alice", "Liddell", "alice@example.org"),
    "bob": ("bob-pw", "Bob", "Builder", "bob@example.org"),
    "carol": ("carol-pw", "Carol", "Danvers", "carol@example.org"),
}
#: group cn -> member uids
GROUP_MEMBERS = {"Editors": ["alice"], "Staff": ["alice", "bob"]}


def dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE}"


@dataclass(frozen=True)
class Slapd:
    """The running server and what it holds (test modules cannot import this file)."""

    url: str
    root_dn: str = ROOT_DN
    root_password: str = ROOT_PASSWORD
    groups: str = GROUPS
    users: tuple[tuple[str, str], ...] = tuple((u, v[0]) for u, v in USERS.items())

    def dn(self, uid: str) -> str:
        return dn(uid)

    def password(self, uid: str) -> str:
        return USERS[uid][0]

    def settings(self, name: str = "corp", **extra: str) -> dict[str, str]:
        """Directus-style settings of one LDAP provider pointing at this server."""
        prefix = f"AUTH_{name.upper()}_"
        base = {"DRIVER": "ldap", "CLIENT_URL": self.url, "BIND_DN": ROOT_DN,
                "BIND_PASSWORD": ROOT_PASSWORD, "USER_DN": PEOPLE, "USER_ATTRIBUTE": "uid",
                **extra}
        return {"AUTH_PROVIDERS": name, **{prefix + k: v for k, v in base.items()}}


def _ldif() -> str:
    parts = [f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\n"
             "dc: example\n",
             f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
             f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n"]
    for uid, (password, given, sn, mail) in USERS.items():
        parts.append(f"dn: {dn(uid)}\nobjectClass: inetOrgPerson\nuid: {uid}\n"
                     f"cn: {given} {sn}\ngivenName: {given}\nsn: {sn}\nmail: {mail}\n"
                     f"userPassword: {password}\n")
    for cn, members in GROUP_MEMBERS.items():
        parts.append(f"dn: cn={cn},{GROUPS}\nobjectClass: groupOfNames\ncn: {cn}\n"
                     + "".join(f"member: {dn(m)}\n" for m in members))
    return "\n".join(parts)


def _config(folder: Path) -> str:
    schemas = "".join(f"include {SCHEMAS / s}.schema\n"
                      for s in ("core", "cosine", "inetorgperson", "nis"))
    return (f"{schemas}pidfile {folder / 'slapd.pid'}\nmodulepath {MODULES}\n"
            f"moduleload back_mdb\ndatabase mdb\nsuffix \"{SUFFIX}\"\n"
            f"rootdn \"{ROOT_DN}\"\nrootpw {ROOT_PASSWORD}\ndirectory {folder / 'db'}\n"
            "access to attrs=userPassword by anonymous auth by self write by * none\n"
            "access to * by * read\n")


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):  # polled until it accepts; a start that never comes fails below
        if proc.poll() is not None:
            break
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    out = proc.stdout.read().decode(errors="replace") if proc.poll() is not None else ""
    pytest.fail(f"slapd did not start on port {port}: {out[-2000:]}")


@pytest.fixture(scope="session")
def slapd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    if not (os.access(SLAPD, os.X_OK) and os.access(SLAPADD, os.X_OK)):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but slapd is not installed")
        pytest.skip("slapd is not installed")
    folder = tmp_path_factory.mktemp("slapd")
    (folder / "db").mkdir()
    conf = folder / "slapd.conf"
    conf.write_text(_config(folder))
    (folder / "data.ldif").write_text(_ldif())
    subprocess.run([SLAPADD, "-f", str(conf), "-l", str(folder / "data.ldif")], check=True,
                   capture_output=True, timeout=60)
    port = free_port()
    proc = subprocess.Popen([SLAPD, "-f", str(conf), "-h", f"ldap://127.0.0.1:{port}/",
                             "-d", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_listening(port, proc)
        yield Slapd(f"ldap://127.0.0.1:{port}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
