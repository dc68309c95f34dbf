"""The baseline of ``scale.py``: ``baseline_app``'s Flask + SQLAlchemy Core views plus
hand-written answers to the large-data requests, over ``seed_scale.py``'s tables.

What a careful hand-written endpoint does, with no query language, permissions or hooks:

* ``/items/items?fields=id,name,tags.tags_id.name[,tags.tags_id.category.name]&limit=-1``:
  the items, then one JOIN of junction + tags (+ categories) for all of them, stitched in
  Python;
* ``/items/authors?fields=id,name,articles.id&limit=N``: the authors, then one
  ``WHERE author IN (...)``;
* ``/items/articles?...&meta=filter_count|total_count`` (with ``filter[status][_eq]``): the
  page plus one ``count(*)``;
* ``/items/articles?...&offset=N`` (``sort=id``): ``LIMIT/OFFSET``;
* ``/items/articles?export=json&limit=-1&fields=...``: a server-side cursor streamed as a
  JSON array, 1,000 rows per write.

Other requests go to ``baseline_app``'s views. Served by ``scale.py`` with gunicorn, 2 sync
workers, like Transom.
"""

from __future__ import annotations

import os
from typing import Any

import orjson
import sqlalchemy as sa
from baseline_app import _default, _json
from baseline_app import create_app as create_base_app
from flask import Flask, Response, request


def create_app(db_url: str | None = None) -> Flask:
    db_url = db_url or os.environ["DB_URL"]
    app = create_base_app(db_url)
    engine = sa.create_engine(db_url, pool_size=5, max_overflow=10)
    md = sa.MetaData()
    t = {name: sa.Table(name, md, autoload_with=engine)
         for name in ("articles", "authors", "items", "items_tags", "tags", "categories")}
    arts = t["articles"]

    def nested_tags(with_category: bool) -> Response:
        it, tags, cats = t["items_tags"], t["tags"], t["categories"]
        cols = [it.c.items_id, tags.c.name]
        source = it.join(tags, tags.c.id == it.c.tags_id)
        if with_category:
            cols.append(cats.c.name)
            source = source.outerjoin(cats, cats.c.id == tags.c.category)
        with engine.connect() as conn:
            items = conn.execute(sa.select(t["items"].c.id, t["items"].c.name).order_by(
                t["items"].c.id)).all()
            links = conn.execute(sa.select(*cols).select_from(source).order_by(it.c.id)).all()
        grouped: dict[int, list[Any]] = {}
        for row in links:
            tag: dict[str, Any] = {"name": row[1]}
            if with_category:
                tag["category"] = {"name": row[2]}
            grouped.setdefault(row[0], []).append({"tags_id": tag})
        return _json({"data": [{"id": i, "name": n, "tags": grouped.get(i, [])}
                               for i, n in items]})

    @app.get("/items/items")
    def list_items() -> Response:
        return nested_tags("category" in request.args.get("fields", ""))

    @app.get("/items/authors")
    def list_authors() -> Response:
        limit = int(request.args.get("limit", 100))
        authors = t["authors"]
        with engine.connect() as conn:
            rows = conn.execute(sa.select(authors.c.id, authors.c.name).order_by(
                authors.c.id).limit(limit)).all()
            keys = [r[0] for r in rows]
            children = conn.execute(sa.select(arts.c.author, arts.c.id).where(
                arts.c.author.in_(keys)).order_by(arts.c.id)).all()
        # ``articles.id`` asks for objects, as Transom and Directus answer: [{"id": 1}, ...]
        grouped: dict[int, list[dict[str, int]]] = {}
        for author, pk in children:
            grouped.setdefault(author, []).append({"id": pk})
        return _json({"data": [{"id": i, "name": n, "articles": grouped.get(i, [])}
                               for i, n in rows]})

    def stream_export(fields: list[str]) -> Response:
        cols = [arts.c[f] for f in fields]

        def body() -> Any:
            with engine.connect() as conn:
                result = conn.execution_options(stream_results=True).execute(
                    sa.select(*cols).order_by(arts.c.id))
                sep = b"["
                for rows in result.partitions(1000):
                    yield sep + b",".join(orjson.dumps(dict(zip(fields, r, strict=True)),
                                                       default=_default) for r in rows)
                    sep = b","
            yield b"]" if sep == b"," else b"[]"

        return Response(body(), mimetype="application/json")

    @app.before_request
    def large_article_reads() -> Response | None:
        if request.path != "/items/articles":
            return None
        args = request.args
        if args.get("export") == "json":
            return stream_export((args.get("fields") or "id").split(","))
        offset = args.get("offset")
        meta = args.get("meta")
        if offset is None and meta is None:
            return None  # baseline_app's own list views
        limit = int(args.get("limit", 100))
        cond = sa.true()
        status = args.get("filter[status][_eq]")
        if status is not None:
            cond = arts.c.status == status
        stmt = sa.select(arts.c.id).where(cond).order_by(arts.c.id).limit(limit)
        if offset is not None:
            stmt = stmt.offset(int(offset))
        with engine.connect() as conn:
            data = [{"id": r[0]} for r in conn.execute(stmt)]
            out: dict[str, Any] = {}
            if meta:
                if "total_count" in meta:
                    out["total_count"] = conn.execute(
                        sa.select(sa.func.count()).select_from(arts)).scalar_one()
                if "filter_count" in meta:
                    out["filter_count"] = conn.execute(
                        sa.select(sa.func.count()).select_from(arts).where(cond)).scalar_one()
        return _json({"meta": out, "data": data} if meta else {"data": data})

    return app
