"""Fixtures for transom-graphql: an articles/authors/comments dataset shaped like the Directus
samples, users with policies made through the API, and a small GraphQL client helper."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from transom.testing.helpers import COMMENTS, seed_blog, setup_user


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
    seed_blog(app, comments=[*COMMENTS, {"article": 3, "text": "Nice"}], o2m=True)
    return app


@pytest.fixture
def gql(blog: Any, client: Any, admin_headers: dict[str, str]) -> GQL:
    return GQL(client, admin_headers)


@pytest.fixture
def make_user(client: Any, admin_headers: dict[str, str]) -> Any:
    """``make_user(permissions, policy_id=None)``: see :func:`setup_user`."""
    def factory(permissions: list[dict[str, Any]],
                policy_id: str | None = None) -> dict[str, Any]:
        return setup_user(client, admin_headers, permissions, policy_id=policy_id)

    return factory


@pytest.fixture
def m2a(blog: Any) -> Any:
    seed_m2a(blog)
    return blog
