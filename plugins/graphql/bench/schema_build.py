"""Time building one caller's GraphQL schema for an N-collection snapshot (README "Libraries").

    uv run python plugins/graphql/bench/schema_build.py [--collections 50] [--repeat 20]

Makes a throw-away SQLite database with N collections (an id, 8 columns of mixed types, an
m2o to the previous collection and its o2m alias back), then times ``build_schema`` for an
admin (everything) and for a policy reading every collection (the permission-filtered
path), in the items scope, and for the admin in the system scope. Prints the median of
``--repeat`` builds in CPU milliseconds and the SDL's size; nothing is asserted.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from graphql import introspection_from_schema, print_schema

TOKEN = "graphql-bench-admin-token"


def make_app(n: int, workdir: Path):
    from transom import create_app
    from transom.system.bootstrap import bootstrap
    from transom.testing.helpers import declare_o2m

    app = create_app({"DB_CLIENT": "sqlite3", "DB_FILENAME": str(workdir / "bench.db"),
                      "ADMIN_TOKEN": TOKEN, "ADMIN_EMAIL": "admin@example.com",
                      "ADMIN_PASSWORD": "SuperSecret123", "TESTING": "true",
                      "LOG_LEVEL": "warn", "EXTENSIONS_PATH": "", "ACCESS_CACHE_TTL": "0",
                      "SECRET": "bench-secret-0123456789-0123456789-abcdef"},
                     env_file=None)
    cms = app.extensions["transom"]
    bootstrap(cms)
    md = sa.MetaData()
    for i in range(n):
        cols = [sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("title", sa.String(100)), sa.Column("body", sa.Text),
                sa.Column("count", sa.Integer), sa.Column("big", sa.BigInteger),
                sa.Column("price", sa.Float), sa.Column("flag", sa.Boolean),
                sa.Column("at", sa.DateTime), sa.Column("data", sa.JSON)]
        if i:
            cols.append(sa.Column("parent", sa.Integer, sa.ForeignKey(f"c{i - 1}.id")))
        sa.Table(f"c{i}", md, *cols)
    with cms.engine.begin() as conn:
        md.create_all(conn)
        for i in range(1, n):
            declare_o2m(conn, f"c{i}", "parent", f"c{i - 1}", "children")
    cms.refresh_schema()
    return app


def reader_permissions(app, n: int):
    from transom.accountability import Accountability
    from transom.testing.helpers import make_role

    admin = {"Authorization": f"Bearer {TOKEN}"}
    perms = [{"collection": f"c{i}", "action": "read", "fields": ["*"]} for i in range(n)]
    role = make_role(app.test_client(), admin, perms)
    cms = app.extensions["transom"]
    acc = Accountability(user="bench", role=role["role"]["id"], roles=(role["role"]["id"],),
                         policies=(role["policy_id"],))
    return cms.access.permissions(acc)


def timed(fn, repeat: int, best: bool = False) -> float:
    """The median (``best``: the fastest) of ``repeat`` runs of ``fn``, in milliseconds of
    CPU time (this process's, so other load on the machine matters less), with the garbage
    collector out of the timed part."""
    fn()  # warm up
    runs = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        t = time.process_time()
        fn()
        runs.append(time.process_time() - t)
        gc.enable()
    return (min(runs) if best else statistics.median(runs)) * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--collections", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--dump", help="write each schema's SDL and introspection here")
    args = parser.parse_args()
    from transom_graphql.builder import build_schema

    from transom.accountability import SYSTEM_ADMIN

    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(args.collections, Path(tmp))
        cms = app.extensions["transom"]
        snap = cms.schema
        admin = cms.access.permissions(SYSTEM_ADMIN)
        reader = reader_permissions(app, args.collections)
        for label, perms, scope in (("admin items", admin, "items"),
                                    ("reader items", reader, "items"),
                                    ("admin system", admin, "system")):
            def build(perms=perms, scope=scope):
                # what a cache miss costs: the schema and its type map (validation and
                # introspection walk every type)
                return build_schema(snap, perms, scope).type_map

            ms, best = timed(build, args.repeat), timed(build, args.repeat, best=True)
            schema = build_schema(snap, perms, scope)
            sdl = print_schema(schema)
            if args.dump:
                out = Path(args.dump)
                out.mkdir(parents=True, exist_ok=True)
                stem = label.replace(" ", "_")
                (out / f"{stem}.graphql").write_text(sdl)
                (out / f"{stem}.json").write_text(json.dumps(
                    introspection_from_schema(schema), indent=1, sort_keys=True))
            print(f"{label:14} median {ms:6.1f} ms, best {best:6.1f} ms"
                  f"  ({len(sdl.splitlines())} SDL lines)")
        cms.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
