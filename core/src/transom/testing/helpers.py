"""Helpers for tests of Transom and of its plugins: users with policies made through the
admin API (so the tests exercise the same routes a deployer uses), and a sample blog.

Plugin authors import them from here; test modules can't import each other's conftest.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa


def make_role(client: Any, admin: dict[str, str], permissions: list[dict[str, Any]],
              app_access: bool = False, policy_id: str | None = None) -> dict[str, Any]:
    """A role attached to one policy (a new one holding ``permissions``, or ``policy_id``)."""
    role = client.post("/roles", json={"name": f"role-{uuid.uuid4().hex[:6]}"},
                       headers=admin).get_json()["data"]
    if policy_id is None:
        policy = client.post("/policies", json={
            "name": f"policy-{uuid.uuid4().hex[:6]}", "app_access": app_access,
            "admin_access": False}, headers=admin).get_json()["data"]
        policy_id = policy["id"]
        for perm in permissions:
            r = client.post("/permissions", json={"policy": policy_id, **perm}, headers=admin)
            assert r.status_code == 200, r.get_json()
    r = client.post("/access", json={"role": role["id"], "policy": policy_id}, headers=admin)
    assert r.status_code == 200, r.get_json()
    return {"role": role, "policy_id": policy_id}


def make_user(client: Any, admin: dict[str, str], role: str | None) -> dict[str, Any]:
    """An active user of ``role`` with a static token; ``headers`` authenticate as it."""
    token = uuid.uuid4().hex
    r = client.post("/users", json={"email": f"{token[:10]}@example.com", "password": "pw",
                                    "role": role, "token": token, "status": "active"},
                    headers=admin)
    assert r.status_code == 200, r.get_json()
    user = r.get_json()["data"]
    return {"id": user["id"], "user": user, "headers": {"Authorization": f"Bearer {token}"}}


def setup_user(client: Any, admin: dict[str, str], permissions: list[dict[str, Any]],
               app_access: bool = False, policy_id: str | None = None) -> dict[str, Any]:
    """Role + policy + user in one call: ``{role, policy_id, user, headers}``."""
    role = make_role(client, admin, permissions, app_access, policy_id)
    user = make_user(client, admin, role["role"]["id"])
    return {**role, "policy": {"id": role["policy_id"]}, "user": user["user"],
            "headers": user["headers"]}


def sync_sequences(conn: sa.Connection, tables: list[str]) -> None:
    """After inserting explicit ids on PostgreSQL, move each serial past the highest id."""
    if conn.dialect.name != "postgresql":
        return
    for t in tables:
        conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), "
                             f"(SELECT MAX(id) FROM {t}))"))


# -- a sample blog ---------------------------------------------------------------------------
AUTHORS = [
    {"id": 1, "name": "Ada Lovelace", "email": "ada@example.com"},
    {"id": 2, "name": "Alan Turing", "email": "alan@example.com"},
    {"id": 3, "name": "Grace Hopper", "email": "grace@example.com"},
]
STATUSES = ["published", "draft", "archived"]
COMMENTS = [
    {"article": 1, "text": "First!"},
    {"article": 1, "text": "Great read"},
    {"article": 2, "text": "Hmm"},
]


def blog_metadata() -> sa.MetaData:
    """``authors``, ``articles`` (m2o ``author``), ``comments`` (m2o ``article``) and
    ``blog_posts``, with one column of most field types."""
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


def article_rows(n: int = 12) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "title": f"Article {i}",
            "body": f"Body of article {i} about {'python' if i % 2 else 'Flask'}",
            "status": STATUSES[i % 3],
            "rating": (i * 17) % 100,
            "published_at": dt.datetime(2024, 1 + (i % 12), 1 + i, 12, 0, 0, tzinfo=dt.UTC),
            "data": {"tags": ["a", "b"][: i % 3], "n": i},
            "tags": ["a", "b", "c"][: i % 4],
            "author": AUTHORS[i % 3]["id"],
        }
        for i in range(1, n + 1)
    ]


def declare_o2m(conn: sa.Connection, many: str, fk: str, one: str, alias: str) -> None:
    """Directus metadata for the o2m side of ``many.fk -> one``: the alias ``one.alias``."""
    conn.execute(sa.text("INSERT INTO directus_fields (collection, field, special, interface) "
                         "VALUES (:c, :f, 'o2m', 'list-o2m')"), {"c": one, "f": alias})
    conn.execute(sa.text(
        "INSERT INTO directus_relations (many_collection, many_field, one_collection, "
        "one_field, one_deselect_action) VALUES (:m, :fk, :o, :a, 'nullify')"),
        {"m": many, "fk": fk, "o": one, "a": alias})


def seed_blog(app: Any, n: int = 12, comments: list[dict[str, Any]] | None = None,
              o2m: bool = False) -> None:
    """Create the blog outside Transom (as an existing database would be), fill it, and
    refresh the schema; ``o2m`` also declares the ``articles.comments`` alias."""
    cms = app.extensions["transom"]
    md = blog_metadata()
    with cms.engine.begin() as conn:
        md.create_all(conn)
        conn.execute(md.tables["authors"].insert(), AUTHORS)
        conn.execute(md.tables["articles"].insert(), article_rows(n))
        conn.execute(md.tables["comments"].insert(), comments or COMMENTS)
        conn.execute(md.tables["blog_posts"].insert(), [
            {"id": i, "title": f"Post {i}", "slug": f"post-{i}", "content": f"Content {i}",
             "tags": ["x", "y"][: i % 3],
             "published_at": dt.datetime(2022 + i % 3, 6, i, tzinfo=dt.UTC)}
            for i in range(1, 9)
        ])
        sync_sequences(conn, ["authors", "articles", "comments", "blog_posts"])
        if o2m:
            declare_o2m(conn, "comments", "article", "articles", "comments")
    cms.refresh_schema()


# -- admin API calls and a second database -------------------------------------------------
def admin_headers() -> dict[str, str]:
    from .plugin import ADMIN_TOKEN

    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def call(client: Any, method: str, url: str, body: Any = None, status: int = 200,
         **kw: Any) -> Any:
    """``client.<method>(url)`` as the test admin (or ``headers=``), asserting the status."""
    if body is not None:
        kw["json"] = body
    resp = getattr(client, method)(url, headers=kw.pop("headers", admin_headers()), **kw)
    assert resp.status_code == status, (method, url, resp.status_code, resp.get_data(True))
    return resp


def data(resp: Any) -> Any:
    return resp.get_json()["data"]


@contextmanager
def other_app(backend: str, tmp_path: Any) -> Iterator[Any]:
    """A second Transom app on a fresh database of ``backend`` (bootstrapped), for tests
    that move things between databases; skipped when unreachable, failed under CI."""
    import pytest

    from ..app import create_app
    from ..system.bootstrap import bootstrap
    from .databases import fresh_database, in_ci, unavailable_reason
    from .plugin import base_config

    reason = unavailable_reason(backend)
    if reason is not None:
        if in_ci():
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    with fresh_database(backend, tmp_path) as url:
        app = create_app(base_config(url), env_file=None)
        try:
            bootstrap(app.extensions["transom"])
            yield app
        finally:
            app.extensions["transom"].close()
