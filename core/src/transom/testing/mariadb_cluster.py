"""Throw-away MariaDB servers for replica tests: a primary with a binary log and a replica
following it (``CHANGE MASTER TO``), each in a temporary data folder on a free port of
127.0.0.1, never the shared server on 3306. Needs Debian's ``mariadb-server`` binaries.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import sqlalchemy as sa

from .live_support import free_port, terminate


def mariadb_binaries() -> tuple[str, str] | None:
    """``(mariadbd, mariadb-install-db)``, or None when MariaDB is not installed."""
    server = shutil.which("mariadbd") or ("/usr/sbin/mariadbd"
                                          if Path("/usr/sbin/mariadbd").exists() else None)
    install = shutil.which("mariadb-install-db")
    return (server, install) if server and install else None


class MariaServer:
    """One ``mariadbd`` in ``folder``; ``server_id`` 1 is a primary (binary log on)."""

    def __init__(self, folder: Path, server_id: int) -> None:
        found = mariadb_binaries()
        if found is None:
            raise RuntimeError("MariaDB binaries not found")
        self.server, self.install = found
        self.folder = folder
        self.server_id = server_id
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def _user(self) -> list[str]:
        return ["--user=mysql"] if os.geteuid() == 0 else []

    def start(self) -> MariaServer:
        data = self.folder / "data"
        if not data.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            subprocess.run([self.install, f"--datadir={data}", "--auth-root-authentication-"
                            "method=normal", "--skip-test-db", *self._user()], check=True,
                           capture_output=True, timeout=120)
            if os.geteuid() == 0:
                shutil.chown(self.folder, "mysql", "mysql")
                for path in self.folder.rglob("*"):
                    shutil.chown(path, "mysql", "mysql")
        args = [self.server, "--no-defaults", f"--datadir={data}", f"--port={self.port}",
                "--bind-address=127.0.0.1", f"--socket={self.folder / 'sock'}",
                f"--pid-file={self.folder / 'pid'}", f"--server-id={self.server_id}",
                "--skip-name-resolve", "--innodb-buffer-pool-size=32M",
                "--innodb-log-file-size=16M", "--innodb-flush-log-at-trx-commit=0",
                "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
                *self._user()]
        if self.server_id == 1:
            args += ["--log-bin=mysql-bin", "--binlog-format=ROW"]
        else:
            args += ["--read-only=ON", "--relay-log=relay-bin"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=open(self.folder / "err.log", "ab"))  # noqa: SIM115
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.execute("SELECT 1")
                return self
            except sa.exc.OperationalError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.2)
        raise RuntimeError(f"mariadbd did not start: {(self.folder / 'err.log').read_text()}")

    def stop(self) -> None:
        terminate(self.proc, 30)
        self.proc = None

    def url(self, database: str | None = None) -> sa.URL:
        return sa.URL.create("mysql+pymysql", username="root", host="127.0.0.1",
                             port=self.port, database=database)

    def execute(self, sql: str, database: str | None = None) -> list[dict]:
        engine = sa.create_engine(self.url(database), poolclass=sa.pool.NullPool,
                                  isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                result = conn.exec_driver_sql(sql)
                return [dict(r) for r in result.mappings()] if result.returns_rows else []
        finally:
            engine.dispose()

    def follow(self, primary: MariaServer) -> None:
        """Replicate ``primary`` from its current position."""
        (status,) = primary.execute("SHOW MASTER STATUS")
        self.execute(
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={int(primary.port)}, "
            f"MASTER_USER='root', MASTER_PASSWORD='', MASTER_LOG_FILE='{status['File']}', "
            f"MASTER_LOG_POS={int(status['Position'])}")
        self.execute("START SLAVE")

    def wait_caught_up(self, primary: MariaServer, timeout: float = 20.0) -> None:
        (status,) = primary.execute("SHOW MASTER STATUS")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.execute(
                f"SELECT MASTER_POS_WAIT('{status['File']}', {int(status['Position'])}, 1)"
                " AS done")
            if rows and rows[0]["done"] is not None and rows[0]["done"] >= 0:
                return
        raise TimeoutError("the replica did not catch up")
