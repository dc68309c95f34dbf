"""Start the scale-out topology on 127.0.0.1 and keep it running until Ctrl-C: a PostgreSQL
primary and a streaming standby (temporary clusters), the local Redis, N Transom
instances and nginx in front.

    python deploy/local-cluster.py [--instances 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import signal
import threading

from transom.testing.topology import Topology


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with Topology(instances=args.instances, workers=args.workers) as topo:
        print(f"nginx:    {topo.nginx.url}")
        for n, server in enumerate(topo.servers):
            print(f"instance {n}: {server.base_url} (log {server.log_path})")
        print(f"primary:  {topo.primary.url('transom')}")
        print(f"replica:  {topo.replica.url('transom')}")
        print(f"admin token: {topo.servers[0].admin_token}   (Ctrl-C stops everything)")
        try:
            done.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
