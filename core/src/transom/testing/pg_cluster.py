"""Throw-away PostgreSQL clusters for tests that stop, break or replicate a server: a
primary of their own (never the shared server on 5432) and streaming standbys made with
``pg_basebackup``, all on 127.0.0.1, in a temporary folder, removed afterwards.

The binaries come from ``/usr/lib/postgresql/<version>/bin`` (Debian's layout) or
``PG_BIN``. PostgreSQL refuses to run as root, so under root the cluster is owned and run
by the ``postgres`` system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from .live_support import free_port


def pg_bin() -> Path | None:
    """The folder of ``initdb``/``pg_ctl``, or None when PostgreSQL is not installed."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_owner() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


class PgCluster:
    """One PostgreSQL server in its own data folder: :meth:`start`, :meth:`stop`, and
    :meth:`standby` for a streaming replica of it."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = port or free_port()
        self.bin = pg_bin()
        if self.bin is None:
            raise RuntimeError("PostgreSQL binaries not found (set PG_BIN)")

    # -- life -----------------------------------------------------------------------
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*_as_owner(), *args], check=check, capture_output=True,
                              text=True, timeout=120)

    def _own(self) -> None:
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            for path in [self.folder, *self.folder.rglob("*")]:
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def init_primary(self) -> PgCluster:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._own()
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                  "postgres", "--no-sync")
        self._configure(primary=True)
        return self

    def _configure(self, primary: bool) -> None:
        conf = self.data / "postgresql.conf"
        lines = [f"port = {self.port}", "listen_addresses = '127.0.0.1'",
                 f"unix_socket_directories = '{self.folder}'", "fsync = off",
                 "full_page_writes = off",
                 "shared_buffers = 16MB", "max_connections = 60", "hot_standby = on"]
        if primary:
            lines += ["wal_level = replica", "max_wal_senders = 5", "wal_keep_size = 64MB"]
        self._run("sh", "-c", f"printf '%s\\n' {' '.join(repr(x) for x in lines)} >> {conf}")
        if primary:
            hba = self.data / "pg_hba.conf"
            self._run("sh", "-c",
                      f"echo 'host replication all 127.0.0.1/32 trust' >> {hba}")

    def start(self) -> PgCluster:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                  str(self.folder / "log"), "-w", "-t", "60", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop",
                  check=False)

    def running(self) -> bool:
        out = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "status", check=False)
        return out.returncode == 0

    def standby(self, folder: Path) -> PgCluster:
        """A streaming replica of this (running) primary, started."""
        replica = PgCluster(folder)
        folder.mkdir(parents=True, exist_ok=True)
        replica._own()
        replica._run(str(self.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p",
                     str(self.port), "-U", "postgres", "-D", str(replica.data), "-R",
                     "-c", "fast", "-X", "stream", "--no-sync")
        replica._run("sh", "-c", f"sed -i '/^port = /d;/^unix_socket_directories/d' "
                                 f"{replica.data / 'postgresql.conf'}")
        replica._configure(primary=False)
        return replica.start()

    # -- use ------------------------------------------------------------------------
    def url(self, database: str = "postgres") -> sa.URL:
        return sa.URL.create("postgresql+psycopg", username="postgres", host="127.0.0.1",
                             port=self.port, database=database)

    def execute(self, sql: str, database: str = "postgres") -> None:
        engine = sa.create_engine(self.url(database), poolclass=sa.pool.NullPool,
                                  isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(sql)
        finally:
            engine.dispose()

    def wait_replayed(self, replica: PgCluster, timeout: float = 20.0) -> None:
        """Block until ``replica`` has replayed everything this primary has written."""
        primary = sa.create_engine(self.url(), poolclass=sa.pool.NullPool)
        standby = sa.create_engine(replica.url(), poolclass=sa.pool.NullPool)
        try:
            with primary.connect() as p:
                lsn = p.exec_driver_sql("SELECT pg_current_wal_insert_lsn()::text").scalar_one()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                with standby.connect() as s:
                    done = s.exec_driver_sql(
                        "SELECT pg_last_wal_replay_lsn() >= %(lsn)s::pg_lsn",
                        {"lsn": lsn}).scalar_one()
                if done:
                    return
                time.sleep(0.05)
            raise TimeoutError("the standby did not catch up")
        finally:
            primary.dispose()
            standby.dispose()


def make_folder() -> Path:
    """A temporary folder the ``postgres`` user can enter."""
    folder = Path(tempfile.mkdtemp(prefix="transom-pg-"))
    folder.chmod(0o755)
    return folder
