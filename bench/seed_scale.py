"""Create and fill the large data sets of issue 19 (``bench/scale.py`` runs against them).

* ``countries`` (20) <- ``authors`` (100, m2o ``country``) <- ``articles`` (1,000,000, m2o
  ``author``; exactly 10,000 per author, so ``authors.articles`` is the o2m of 100 x 10,000);
  ``articles`` has the columns of ``seed.py``'s (``title``, ``body``, ``status``,
  ``rating``, ``published_at``, ``author``), with a 120-character body to keep the files
  small; ``status`` is published / draft / archived in a 3 : 6 : 1 ratio.
* ``categories`` (10) <- ``tags`` (100, m2o ``category``); ``items`` (6,000) <-> ``tags``
  through the junction ``items_tags`` (60,000 rows, 10 tags per item): the m2m, and with
  ``tags.category`` a 3-level nesting (junction, tag, category).

Indexes: the key of every relation (what Transom creates with a relation) and
``articles.status``. The rows are arithmetic (no random generator), so every database holds
the same data. Seeding is batched: ``executemany`` of 20,000 rows on SQLite, ``COPY`` on
PostgreSQL (about a minute either way for the million rows on the bench machine).

Usage::

    uv run python bench/seed_scale.py                          # bench/.data/scale.db
    uv run python bench/seed_scale.py --db-url postgresql+psycopg://postgres@127.0.0.1:5432/transom_scale
    uv run python bench/seed_scale.py --articles 100000        # a smaller run
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_DB_URL = f"sqlite:///{BENCH_DIR / '.data' / 'scale.db'}"

N_COUNTRIES = 20
N_AUTHORS = 100
N_ARTICLES = 1_000_000
N_CATEGORIES = 10
N_TAGS = 100
N_ITEMS = 6_000
TAGS_PER_ITEM = 10
BATCH = 20_000

_STATUS = ("published", "draft", "draft", "published", "draft", "draft", "archived",
           "published", "draft", "draft")  # 3 : 6 : 1
_WORDS = ("lorem", "ipsum", "dolor", "sit", "amet", "schema", "query", "relation",
          "python", "flask", "content", "headless", "index", "cursor", "stream")
_START = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def metadata() -> sa.MetaData:
    md = sa.MetaData()
    pk = {"primary_key": True, "autoincrement": True}
    sa.Table("countries", md, sa.Column("id", sa.Integer, **pk),
             sa.Column("name", sa.String(100), nullable=False))
    sa.Table("authors", md, sa.Column("id", sa.Integer, **pk),
             sa.Column("name", sa.String(100), nullable=False),
             sa.Column("country", sa.Integer, sa.ForeignKey("countries.id", ondelete="SET NULL"),
                       index=True))
    sa.Table("articles", md, sa.Column("id", sa.Integer, **pk),
             sa.Column("title", sa.String(255), nullable=False),
             sa.Column("body", sa.Text),
             sa.Column("status", sa.String(20), nullable=False, server_default="draft",
                       index=True),
             sa.Column("rating", sa.Integer),
             sa.Column("published_at", sa.DateTime(timezone=True)),
             sa.Column("author", sa.Integer, sa.ForeignKey("authors.id", ondelete="SET NULL"),
                       index=True))
    sa.Table("categories", md, sa.Column("id", sa.Integer, **pk),
             sa.Column("name", sa.String(100), nullable=False))
    sa.Table("tags", md, sa.Column("id", sa.Integer, **pk),
             sa.Column("name", sa.String(100), nullable=False),
             sa.Column("category", sa.Integer,
                       sa.ForeignKey("categories.id", ondelete="SET NULL"), index=True))
    sa.Table("items", md, sa.Column("id", sa.Integer, **pk),
             sa.Column("name", sa.String(100), nullable=False))
    sa.Table("items_tags", md, sa.Column("id", sa.Integer, **pk),
             sa.Column("items_id", sa.Integer, sa.ForeignKey("items.id", ondelete="SET NULL"),
                       index=True),
             sa.Column("tags_id", sa.Integer, sa.ForeignKey("tags.id", ondelete="SET NULL"),
                       index=True))
    return md


def article_rows(n: int) -> Iterator[tuple]:
    """``(id, title, body, status, rating, published_at, author)``, 10,000 per author when
    ``n`` is 1,000,000 (author = id modulo 100)."""
    nw = len(_WORDS)
    for i in range(1, n + 1):
        words = (_WORDS[i % nw].capitalize(), _WORDS[(i // 7) % nw], _WORDS[(i // 49) % nw])
        title = f"{' '.join(words)} #{i}"
        body = (" ".join(_WORDS[(i + k) % nw] for k in range(16)))[:119] + "."
        yield (i, title, body, _STATUS[i % 10], (i * 37) % 101,
               _START + dt.timedelta(seconds=(i * 157) % 157_680_000), i % N_AUTHORS + 1)


def small_rows() -> dict[str, list[dict]]:
    return {
        "countries": [{"id": i, "name": f"Country {i}"} for i in range(1, N_COUNTRIES + 1)],
        "authors": [{"id": i, "name": f"Author {i}", "country": i % N_COUNTRIES + 1}
                    for i in range(1, N_AUTHORS + 1)],
        "categories": [{"id": i, "name": f"Category {i}"} for i in range(1, N_CATEGORIES + 1)],
        "tags": [{"id": i, "name": f"tag-{i}", "category": i % N_CATEGORIES + 1}
                 for i in range(1, N_TAGS + 1)],
        "items": [{"id": i, "name": f"Item {i}"} for i in range(1, N_ITEMS + 1)],
        "items_tags": [{"id": (i - 1) * TAGS_PER_ITEM + k + 1, "items_id": i,
                        "tags_id": (i * 7 + k * 13) % N_TAGS + 1}
                       for i in range(1, N_ITEMS + 1) for k in range(TAGS_PER_ITEM)],
    }


def _batches(rows: Iterator[tuple], size: int) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def is_seeded(engine: sa.Engine, n_articles: int) -> bool:
    names = set(sa.inspect(engine).get_table_names())
    if not set(metadata().tables) <= names:
        return False
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT COUNT(*) FROM articles")).scalar_one() == \
            n_articles and conn.execute(sa.text("SELECT COUNT(*) FROM items_tags")
                                        ).scalar_one() == N_ITEMS * TAGS_PER_ITEM


def seed(db_url: str, n_articles: int = N_ARTICLES, force: bool = False,
         quiet: bool = False) -> bool:
    """Create and fill the tables; True when it wrote anything."""
    url = sa.make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    pg = url.get_backend_name() == "postgresql"
    try:
        if not force and is_seeded(engine, n_articles):
            if not quiet:
                print(f"seed_scale: already seeded ({n_articles} articles); nothing to do")
            return False
        t0 = time.perf_counter()
        md = metadata()
        with engine.begin() as conn:
            md.drop_all(conn, checkfirst=True)
            md.create_all(conn)
            for name, rows in small_rows().items():
                conn.execute(md.tables[name].insert(), rows)
            articles = md.tables["articles"]
            cols = [c.name for c in articles.columns]
            if pg:
                raw = conn.connection.dbapi_connection
                with raw.cursor() as cur, cur.copy(
                        f"COPY articles ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in article_rows(n_articles):
                        copy.write_row(row)
                for t in md.tables:
                    conn.execute(sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), "
                        f"(SELECT MAX(id) FROM {t}))"))
            else:
                for batch in _batches(article_rows(n_articles), BATCH):
                    conn.execute(articles.insert(), [dict(zip(cols, r, strict=True))
                                                     for r in batch])
        if pg:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE"))
        else:
            with engine.begin() as conn:
                conn.execute(sa.text("ANALYZE"))
        if not quiet:
            print(f"seed_scale: wrote {n_articles:,} articles, {N_ITEMS:,} items x "
                  f"{TAGS_PER_ITEM} tags to {url.render_as_string(hide_password=True)} in "
                  f"{time.perf_counter() - t0:.1f} s")
        return True
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db-url", default=DEFAULT_DB_URL)
    ap.add_argument("--articles", type=int, default=N_ARTICLES)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    seed(args.db_url, args.articles, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
