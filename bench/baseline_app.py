"""The baseline: a minimal Flask + SQLAlchemy Core app over the same tables.

This is the "Flask 3.1 + SQLAlchemy 2.1 Core, gunicorn 2 sync" row of the performance
anchors: what a hand-written endpoint costs on the same stack, with no query language,
permissions, hooks or schema layer. Transom's target is at least 0.7x its throughput.

It answers, for the database in ``DB_URL`` (default: the SQLite file of ``seed.py``):

* ``GET /items/articles?limit=25`` - ``{"data": [...]}`` with every column;
* ``GET /items/articles?filter[status][_eq]=published&sort=-rating&limit=25``;
* ``GET /items/articles?fields=id,title,author.name&limit=25`` (a LEFT JOIN on authors);
* ``GET /items/articles/<id>``;
* ``GET /server/ping`` - ``pong``.

Only these shapes are understood (other parameters are ignored). It is written the way the
anchors recommend: tables reflected once, rows turned into dicts with precomputed ``str``
keys, orjson for the body. Statements are built per request (as an ordinary hand-written
view would), which the anchors measure at ~40 us.

Serve it like Transom's server::

    DB_URL=sqlite:///bench/.data/bench.db uv run gunicorn -w 2 -k sync -b 127.0.0.1:8056 \
        'bench.baseline_app:create_app()'

(``run.py`` does this for you, with ``--chdir bench``.)
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from flask import Flask, Response, abort, request

DEFAULT_DB_URL = f"sqlite:///{Path(__file__).resolve().parent / '.data' / 'bench.db'}"


def _default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError


def _json(payload: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(payload, default=_default), status=status, mimetype="application/json"
    )


def create_app(db_url: str | None = None) -> Flask:
    db_url = db_url or os.environ.get("DB_URL") or DEFAULT_DB_URL
    engine = sa.create_engine(db_url, pool_size=5, max_overflow=10, pool_pre_ping=False)
    md = sa.MetaData()
    articles = sa.Table("articles", md, autoload_with=engine)
    authors = sa.Table("authors", md, autoload_with=engine)
    article_keys = [str(c.name) for c in articles.columns]
    sortable = {str(c.name): c for c in articles.columns}

    app = Flask("baseline")

    @app.get("/server/ping")
    def ping() -> Response:
        return Response("pong", mimetype="text/html")

    @app.get("/items/articles")
    def list_articles() -> Response:
        args = request.args
        try:
            limit = int(args.get("limit", 100))
        except ValueError:
            abort(400)
        fields = args.get("fields")
        if fields == "id,title,author.name":
            stmt = (
                sa.select(articles.c.id, articles.c.title, authors.c.name)
                .select_from(articles.outerjoin(authors, articles.c.author == authors.c.id))
                .limit(limit)
            )
            with engine.connect() as conn:
                rows = conn.execute(stmt).fetchall()
            data = [{"id": i, "title": t, "author": {"name": n}} for i, t, n in rows]
            return _json({"data": data})

        stmt = sa.select(articles)
        status = args.get("filter[status][_eq]")
        if status is not None:
            stmt = stmt.where(articles.c.status == status)
        sort = args.get("sort")
        if sort:
            for key in sort.split(","):
                desc = key.startswith("-")
                col = sortable.get(key.lstrip("-"))
                if col is None:
                    abort(400)
                stmt = stmt.order_by(col.desc() if desc else col.asc())
        stmt = stmt.limit(limit)
        with engine.connect() as conn:
            rows = conn.execute(stmt).fetchall()
        keys = article_keys
        return _json({"data": [dict(zip(keys, row, strict=True)) for row in rows]})

    @app.get("/items/articles/<int:pk>")
    def read_article(pk: int) -> Response:
        with engine.connect() as conn:
            row = conn.execute(sa.select(articles).where(articles.c.id == pk)).first()
        if row is None:
            return _json({"errors": [{"message": "Forbidden"}]}, 403)
        return _json({"data": dict(zip(article_keys, row, strict=True))})

    return app
