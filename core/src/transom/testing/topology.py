"""A scale-out topology on 127.0.0.1, for tests, ``bench/scale_out.py`` and
``deploy/local-cluster.py``: a PostgreSQL primary and a streaming standby of their own
(:mod:`.pg_cluster`), Redis (the messenger, cache and rate limits between instances),
N Transom instances (the real server, several workers each) and nginx in front.

nginx is Debian's (``apt-get install nginx-light``); it runs unprivileged-style from a
temporary prefix with its own config, so nothing under /etc is touched.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from .live_process import LiveServer
from .live_support import free_port, redis_url, terminate
from .pg_cluster import PgCluster, make_folder

_NGINX_CONF = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream transom {{
{servers}
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://transom;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_next_upstream error timeout http_502 http_503;
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


class Nginx:
    """nginx balancing round robin over ``upstreams`` (ports on 127.0.0.1)."""

    def __init__(self, folder: Path, upstreams: list[int]) -> None:
        self.folder = folder
        self.port = free_port()
        self.upstreams = upstreams
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Nginx:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed (apt-get install nginx-light)")
        self.folder.mkdir(parents=True, exist_ok=True)
        servers = "\n".join(f"        server 127.0.0.1:{p};" for p in self.upstreams)
        conf = self.folder / "nginx.conf"
        conf.write_text(_NGINX_CONF.format(prefix=self.folder, servers=servers,
                                           port=self.port))
        self.proc = subprocess.Popen(
            [binary, "-p", str(self.folder), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=open(self.folder / "stderr.log", "wb"))  # noqa: SIM115
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/server/ping", timeout=2):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"nginx did not answer: {(self.folder / 'error.log').read_text()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        terminate(self.proc, 10)
        self.proc = None


class Topology:
    """Start with :meth:`start` (or ``with``); everything stops in reverse order."""

    def __init__(self, instances: int = 2, workers: int = 2, replica: bool = True,
                 env: dict[str, Any] | None = None) -> None:
        self.root = make_folder()
        self.count = instances
        self.workers = workers
        self.with_replica = replica
        self.env = dict(env or {})
        self.primary: PgCluster | None = None
        self.replica: PgCluster | None = None
        self.servers: list[LiveServer] = []
        self.nginx: Nginx | None = None
        self._stack = ExitStack()

    def start(self) -> Topology:
        try:
            self.primary = PgCluster(self.root / "primary").init_primary().start()
            self._stack.callback(self.primary.stop, "immediate")
            self.primary.execute('CREATE DATABASE "transom"')
            env = {"REDIS": redis_url(), "MESSENGER_STORE": "redis",
                   "SYNCHRONIZATION_STORE": "redis", "RATE_LIMITER_STORE": "redis",
                   "MESSENGER_NAMESPACE": f"topo_{self.root.name}",
                   "DB_POOL_SIZE": "5", **self.env}
            if self.with_replica:
                self.replica = self.primary.standby(self.root / "replica")
                self._stack.callback(self.replica.stop, "immediate")
                env["DB_REPLICA_URL"] = self.replica.url("transom").render_as_string(
                    hide_password=False)
            for n in range(self.count):
                server = LiveServer(self.primary.url("transom"), self.root / f"instance{n}",
                                    workers=self.workers, env=env)
                self._stack.callback(server.stop)
                self.servers.append(server.start())
            self.nginx = Nginx(self.root / "nginx", [s.port for s in self.servers]).start()
            self._stack.callback(self.nginx.stop)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._stack.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Topology:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
