"""Create and fill the benchmark data set: 100 ``authors`` and 10,000 ``articles``.

The data set of ``/work/shared/reference/performance-anchors.md``: ``articles`` has ``id``,
``title``, ``body`` (~500 characters), ``status`` (published / draft / archived in a 3:6:1
ratio), ``rating`` (0-100), ``published_at`` (a timestamp) and ``author`` (a foreign key to
``authors.id``, which Transom turns into an m2o relation). No secondary index. The content
is deterministic (a fixed random seed), so every run and every database sees the same rows.

Usage::

    uv run python bench/seed.py                       # bench/.data/bench.db (SQLite)
    uv run python bench/seed.py --db-url postgresql+psycopg://postgres@127.0.0.1:5432/transom_bench
    uv run python bench/seed.py --force               # drop and re-create the two tables

It only touches the ``authors`` and ``articles`` tables. Without ``--force`` it leaves a
database that already holds the expected row counts alone (so it is cheap to call before
every run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

import sqlalchemy as sa

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_DB_PATH = BENCH_DIR / ".data" / "bench.db"
DEFAULT_DB_URL = f"sqlite:///{DEFAULT_DB_PATH}"

N_AUTHORS = 100
N_ARTICLES = 10_000
SEED = 20240601

# published : draft : archived = 3 : 6 : 1
STATUS_WEIGHTS = (("published", 3), ("draft", 6), ("archived", 1))

_WORDS = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud "
    "exercitation ullamco laboris nisi aliquip ex ea commodo consequat duis aute irure "
    "in reprehenderit voluptate velit esse cillum fugiat nulla pariatur excepteur sint "
    "occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est "
    "laborum python flask database content headless schema collection query relation"
).split()

_FIRST = (
    "Ada",
    "Alan",
    "Grace",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "John",
    "Margaret",
    "Ken",
    "Dennis",
    "Radia",
    "Tim",
    "Guido",
    "Linus",
    "Sophie",
    "Niklaus",
    "Leslie",
    "Karen",
    "Hedy",
)
_LAST = (
    "Lovelace",
    "Turing",
    "Hopper",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "McCarthy",
    "Hamilton",
    "Thompson",
    "Ritchie",
    "Perlman",
    "Berners-Lee",
    "van Rossum",
    "Torvalds",
    "Wilson",
    "Wirth",
    "Lamport",
    "Sparck Jones",
    "Lamarr",
)


def metadata() -> sa.MetaData:
    """The two tables; ``author`` is a plain FK column (no index on it, nor on anything else)."""
    md = sa.MetaData()
    sa.Table(
        "authors",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
    )
    sa.Table(
        "articles",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("status", sa.String(20), nullable=False, server_default="draft"),
        sa.Column("rating", sa.Integer),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("author", sa.Integer, sa.ForeignKey("authors.id", ondelete="SET NULL")),
    )
    return md


def author_rows(rng: random.Random) -> list[dict]:
    return [
        {"id": i, "name": f"{_FIRST[(i - 1) % len(_FIRST)]} {_LAST[(i * 7) % len(_LAST)]} {i}"}
        for i in range(1, N_AUTHORS + 1)
    ]


def _body(rng: random.Random, target: int = 500) -> str:
    words: list[str] = []
    length = 0
    while length < target:
        w = rng.choice(_WORDS)
        words.append(w)
        length += len(w) + 1
    text = " ".join(words)[: target - 1]
    return text[0].upper() + text[1:] + "."


def article_rows(rng: random.Random) -> list[dict]:
    statuses = [s for s, w in STATUS_WEIGHTS for _ in range(w)]
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    span = int(dt.timedelta(days=5 * 365).total_seconds())
    rows = []
    for i in range(1, N_ARTICLES + 1):
        title_words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 7)))
        rows.append(
            {
                "id": i,
                "title": f"{title_words.capitalize()} #{i}",
                "body": _body(rng),
                "status": rng.choice(statuses),
                "rating": rng.randint(0, 100),
                "published_at": start + dt.timedelta(seconds=rng.randrange(span)),
                "author": rng.randint(1, N_AUTHORS),
            }
        )
    return rows


def is_seeded(engine: sa.Engine) -> bool:
    insp = sa.inspect(engine)
    names = set(insp.get_table_names())
    if not {"authors", "articles"} <= names:
        return False
    with engine.connect() as conn:
        n_auth = conn.execute(sa.text("SELECT COUNT(*) FROM authors")).scalar_one()
        n_art = conn.execute(sa.text("SELECT COUNT(*) FROM articles")).scalar_one()
    return n_auth == N_AUTHORS and n_art == N_ARTICLES


def ensure_sqlite_dir(url: sa.URL) -> None:
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def seed(db_url: str, force: bool = False, quiet: bool = False) -> bool:
    """Create and fill the tables; returns True when it wrote anything."""
    url = sa.make_url(db_url)
    ensure_sqlite_dir(url)
    engine = sa.create_engine(url)
    try:
        if not force and is_seeded(engine):
            if not quiet:
                print(
                    f"seed: {url.render_as_string(hide_password=True)} already holds "
                    f"{N_AUTHORS} authors and {N_ARTICLES} articles; nothing to do"
                )
            return False
        t0 = time.perf_counter()
        md = metadata()
        rng = random.Random(SEED)
        authors, articles = author_rows(rng), article_rows(rng)
        with engine.begin() as conn:
            md.drop_all(conn, checkfirst=True)
            md.create_all(conn)
            conn.execute(md.tables["authors"].insert(), authors)
            for i in range(0, len(articles), 1000):
                conn.execute(md.tables["articles"].insert(), articles[i : i + 1000])
            if url.get_backend_name() == "postgresql":
                for t in ("authors", "articles"):
                    conn.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), "
                            f"(SELECT MAX(id) FROM {t}))"
                        )
                    )
        if url.get_backend_name() == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE authors"))
                conn.execute(sa.text("VACUUM ANALYZE articles"))
        if not quiet:
            print(
                f"seed: wrote {len(authors)} authors and {len(articles)} articles to "
                f"{url.render_as_string(hide_password=True)} in "
                f"{time.perf_counter() - t0:.1f} s"
            )
        return True
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--db-url", default=DEFAULT_DB_URL, help=f"SQLAlchemy URL (default: {DEFAULT_DB_URL})"
    )
    ap.add_argument(
        "--force",
        action="store_true",
        help="drop and re-create authors/articles even when already seeded",
    )
    args = ap.parse_args(argv)
    seed(args.db_url, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
