"""Shared fixtures for core tests: a small blog schema made with plain SQLAlchemy DDL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa


def blog_metadata() -> sa.MetaData:
    md = sa.MetaData()
    sa.Table("authors", md,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("name", sa.String(100), nullable=False),
             sa.Column("email", sa.String(255), unique=True))
    sa.Table("articles", md,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("title", sa.String(255), nullable=False),
             sa.Column("body", sa.Text),
             sa.Column("status", sa.String(20), nullable=False, server_default="draft"),
             sa.Column("rating", sa.Integer),
             sa.Column("published_at", sa.TIMESTAMP(timezone=True)),
             sa.Column("data", sa.JSON),
             sa.Column("author", sa.Integer, sa.ForeignKey("authors.id", ondelete="SET NULL")))
    sa.Table("comments", md,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("article", sa.Integer, sa.ForeignKey("articles.id", ondelete="CASCADE")),
             sa.Column("text", sa.String(255)))
    return md


AUTHORS = [
    {"id": 1, "name": "Ada Lovelace", "email": "ada@example.com"},
    {"id": 2, "name": "Alan Turing", "email": "alan@example.com"},
    {"id": 3, "name": "Grace Hopper", "email": "grace@example.com"},
]


def article_rows(n: int = 12) -> list[dict[str, Any]]:
    statuses = ["published", "draft", "archived"]
    return [
        {
            "id": i,
            "title": f"Article {i}",
            "body": f"Body of article {i} about {'python' if i % 2 else 'Flask'}",
            "status": statuses[i % 3],
            "rating": (i * 17) % 100,
            "published_at": dt.datetime(2024, 1 + (i % 12), 1 + i, 12, 0, 0, tzinfo=dt.UTC),
            "data": {"tags": ["a", "b"][: i % 3], "n": i},
            "author": AUTHORS[i % 3]["id"],
        }
        for i in range(1, n + 1)
    ]


def seed_blog(app: Any, n: int = 12) -> None:
    """Create the blog tables outside Transom, fill them, and refresh the schema."""
    cms = app.extensions["transom"]
    md = blog_metadata()
    with cms.engine.begin() as conn:
        md.create_all(conn)
        conn.execute(md.tables["authors"].insert(), AUTHORS)
        conn.execute(md.tables["articles"].insert(), article_rows(n))
        conn.execute(md.tables["comments"].insert(), [
            {"article": 1, "text": "First!"},
            {"article": 1, "text": "Great read"},
            {"article": 2, "text": "Hmm"},
        ])
        if cms.dialect.name == "postgresql":
            for t in ("authors", "articles", "comments"):
                conn.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), "
                    f"(SELECT MAX(id) FROM {t}))"))
    cms.refresh_schema()


def add_comments_alias(app: Any) -> None:
    """Directus metadata for the o2m side of comments.article: ``articles.comments``."""
    cms = app.extensions["transom"]
    with cms.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO directus_fields (collection, field, special, interface) "
            "VALUES ('articles', 'comments', 'o2m', 'list-o2m')")
        conn.exec_driver_sql(
            "INSERT INTO directus_relations (many_collection, many_field, one_collection, "
            "one_field, one_deselect_action) VALUES "
            "('comments', 'article', 'articles', 'comments', 'nullify')")
    cms.refresh_schema()


@pytest.fixture
def blog(app: Any) -> Any:
    seed_blog(app)
    return app


@pytest.fixture
def blog_o2m(blog: Any) -> Any:
    """The blog with the ``articles.comments`` o2m alias declared."""
    add_comments_alias(blog)
    return blog
