"""Fixtures for transom-graphql: an articles/authors/comments dataset shaped like the Directus
samples, users with policies made through the API, and a small GraphQL client helper."""

from __future__ import annotations

import datetime as dt
import uuid
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
             sa.Column("tags", sa.JSON),
             sa.Column("author", sa.Integer, sa.ForeignKey("authors.id", ondelete="SET NULL")))
    sa.Table("comments", md,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("article", sa.Integer, sa.ForeignKey("articles.id", ondelete="CASCADE")),
             sa.Column("text", sa.String(255)))
    sa.Table("blog_posts", md,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("title", sa.String(255)),
             sa.Column("slug", sa.String(255)),
             sa.Column("content", sa.Text),
             sa.Column("tags", sa.JSON),
             sa.Column("published_at", sa.TIMESTAMP(timezone=True)))
    return md


AUTHORS = [
    {"id": 1, "name": "Ada Lovelace", "email": "ada@example.com"},
    {"id": 2, "name": "Alan Turing", "email": "alan@example.com"},
    {"id": 3, "name": "Grace Hopper", "email": "grace@example.com"},
]
STATUSES = ["published", "draft", "archived"]


def article_rows(n: int = 12) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "title": f"Article {i}",
            "body": f"Body of article {i} about {'python' if i % 2 else 'Flask'}",
            "status": STATUSES[i % 3],
            "rating": (i * 17) % 100,
            "published_at": dt.datetime(2024, 1 + (i % 12), 1 + i, 12, 0, 0, tzinfo=dt.UTC),
            "tags": ["a", "b", "c"][: i % 4],
            "author": AUTHORS[i % 3]["id"],
        }
        for i in range(1, n + 1)
    ]


def seed_blog(app: Any, n: int = 12) -> None:
    """Create the tables outside Transom, fill them, declare ``articles.comments``."""
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
            {"article": 3, "text": "Nice"},
        ])
        conn.execute(md.tables["blog_posts"].insert(), [
            {"id": i, "title": f"Post {i}", "slug": f"post-{i}", "content": f"Content {i}",
             "tags": ["x", "y"][: i % 3],
             "published_at": dt.datetime(2022 + i % 3, 6, i, tzinfo=dt.UTC)}
            for i in range(1, 9)
        ])
        if cms.dialect.name == "postgresql":
            for t in ("authors", "articles", "comments", "blog_posts"):
                conn.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), "
                    f"(SELECT MAX(id) FROM {t}))"))
        conn.exec_driver_sql(
            "INSERT INTO directus_fields (collection, field, special, interface) "
            "VALUES ('articles', 'comments', 'o2m', 'list-o2m')")
        conn.exec_driver_sql(
            "INSERT INTO directus_relations (many_collection, many_field, one_collection, "
            "one_field, one_deselect_action) VALUES "
            "('comments', 'article', 'articles', 'comments', 'nullify')")
    cms.refresh_schema()


def seed_m2a(app: Any) -> None:
    """A page builder: ``pages.blocks`` is an m2a through ``pages_blocks`` to
    ``headings`` and ``texts``."""
    cms = app.extensions["transom"]
    md = sa.MetaData()
    pages = sa.Table("pages", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("title", sa.String(100)))
    headings = sa.Table("headings", md, sa.Column("id", sa.Integer, primary_key=True),
                        sa.Column("title", sa.String(100)))
    texts = sa.Table("texts", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("body", sa.String(200)))
    junction = sa.Table("pages_blocks", md, sa.Column("id", sa.Integer, primary_key=True),
                        sa.Column("pages_id", sa.Integer, sa.ForeignKey("pages.id")),
                        sa.Column("item", sa.String(255)),
                        sa.Column("collection", sa.String(64)),
                        sa.Column("sort", sa.Integer))
    with cms.engine.begin() as conn:
        md.create_all(conn)
        conn.execute(pages.insert(), [{"id": 1, "title": "Home"}])
        conn.execute(headings.insert(), [{"id": 1, "title": "Welcome"}])
        conn.execute(texts.insert(), [{"id": 1, "body": "Hello there"}])
        conn.execute(junction.insert(), [
            {"id": 1, "pages_id": 1, "item": "1", "collection": "headings", "sort": 1},
            {"id": 2, "pages_id": 1, "item": "1", "collection": "texts", "sort": 2},
        ])
        conn.exec_driver_sql(
            "INSERT INTO directus_fields (collection, field, special, interface) "
            "VALUES ('pages', 'blocks', 'm2a', 'list-m2a')")
        conn.exec_driver_sql(
            "INSERT INTO directus_relations (many_collection, many_field, one_collection, "
            "one_field, junction_field, one_deselect_action) VALUES "
            "('pages_blocks', 'pages_id', 'pages', 'blocks', 'item', 'nullify')")
        conn.exec_driver_sql(
            "INSERT INTO directus_relations (many_collection, many_field, one_collection, "
            "one_allowed_collections, one_collection_field, junction_field, "
            "one_deselect_action) VALUES ('pages_blocks', 'item', NULL, 'headings,texts', "
            "'collection', 'pages_id', 'nullify')")
    cms.refresh_schema()


def setup_user(client: Any, admin: dict[str, str], permissions: list[dict[str, Any]],
               policy_id: str | None = None) -> dict[str, Any]:
    """A role + policy (or an existing policy) + user with a static token, via the API."""
    role = client.post("/roles", json={"name": f"role-{uuid.uuid4().hex[:6]}"},
                       headers=admin).get_json()["data"]
    if policy_id is None:
        policy = client.post("/policies", json={"name": f"policy-{uuid.uuid4().hex[:6]}",
                                                "app_access": False, "admin_access": False},
                             headers=admin).get_json()["data"]
        policy_id = policy["id"]
        for perm in permissions:
            r = client.post("/permissions", json={"policy": policy_id, **perm}, headers=admin)
            assert r.status_code == 200, r.get_json()
    r = client.post("/access", json={"role": role["id"], "policy": policy_id}, headers=admin)
    assert r.status_code == 200, r.get_json()
    token = uuid.uuid4().hex
    user = client.post("/users", json={"email": f"{token[:8]}@example.com", "password": "pw",
                                       "role": role["id"], "token": token, "status": "active"},
                       headers=admin).get_json()["data"]
    return {"role": role, "policy_id": policy_id, "user": user,
            "headers": {"Authorization": f"Bearer {token}"}}


class GQL:
    """``gql(query, variables=None, headers=None, path="/graphql")`` -> Flask response."""

    def __init__(self, client: Any, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def __call__(self, query: str, variables: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None, path: str = "/graphql") -> Any:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return self.client.post(path, json=body,
                                headers=self.headers if headers is None else headers)

    def data(self, query: str, variables: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None, path: str = "/graphql") -> Any:
        r = self(query, variables, headers, path)
        body = r.get_json()
        assert r.status_code == 200 and "errors" not in body, body
        return body["data"]


@pytest.fixture
def blog(app: Any) -> Any:
    seed_blog(app)
    return app


@pytest.fixture
def gql(blog: Any, client: Any, admin_headers: dict[str, str]) -> GQL:
    return GQL(client, admin_headers)


@pytest.fixture
def make_user(client: Any, admin_headers: dict[str, str]) -> Any:
    """``make_user(permissions, policy_id=None)``: see :func:`setup_user`."""
    def factory(permissions: list[dict[str, Any]],
                policy_id: str | None = None) -> dict[str, Any]:
        return setup_user(client, admin_headers, permissions, policy_id)

    return factory


@pytest.fixture
def m2a(blog: Any) -> Any:
    seed_m2a(blog)
    return blog
