"""Fixtures for transom-i18n: a translated ``articles`` collection built outside Transom."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from transom.testing.helpers import sync_sequences

LANGUAGES = [
    {"code": "en-US", "name": "English"},
    {"code": "de-DE", "name": "Deutsch"},
    {"code": "fr-FR", "name": "Français"},
]
ARTICLES = [
    {"id": 1, "title": "Hello", "slug": "hello"},
    {"id": 2, "title": "World", "slug": "world"},
]
TRANSLATIONS = [
    {"id": 1, "articles_id": 1, "languages_code": "de-DE", "title": "Hallo", "body": "Text DE"},
    {"id": 2, "articles_id": 1, "languages_code": "en-US", "title": "Hello EN",
     "body": "Text EN"},
    {"id": 3, "articles_id": 2, "languages_code": "en-US", "title": "World EN",
     "body": "World text"},
]


def translated_metadata() -> sa.MetaData:
    md = sa.MetaData()
    sa.Table("languages", md,
             sa.Column("code", sa.String(16), primary_key=True),
             sa.Column("name", sa.String(50)))
    sa.Table("articles", md,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("title", sa.String(255)),
             sa.Column("slug", sa.String(255)))
    sa.Table("articles_translations", md,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("articles_id", sa.Integer,
                       sa.ForeignKey("articles.id", ondelete="CASCADE")),
             sa.Column("languages_code", sa.String(16),
                       sa.ForeignKey("languages.code", ondelete="SET NULL")),
             sa.Column("title", sa.String(255)),
             sa.Column("body", sa.Text))
    return md


def seed_translations(app: Any) -> None:
    """Create and fill the tables, declare ``articles.translations`` as Directus's
    translations alias would be stored, and refresh the schema."""
    cms = app.extensions["transom"]
    md = translated_metadata()
    with cms.engine.begin() as conn:
        md.create_all(conn)
        conn.execute(md.tables["languages"].insert(), LANGUAGES)
        conn.execute(md.tables["articles"].insert(), ARTICLES)
        conn.execute(md.tables["articles_translations"].insert(), TRANSLATIONS)
        sync_sequences(conn, ["articles", "articles_translations"])
        conn.execute(sa.text(
            "INSERT INTO directus_fields (collection, field, special, interface) "
            "VALUES ('articles', 'translations', 'translations', 'translations')"))
        conn.execute(sa.text(
            "INSERT INTO directus_relations (many_collection, many_field, one_collection, "
            "one_field, one_deselect_action) VALUES ('articles_translations', 'articles_id', "
            "'articles', 'translations', 'nullify')"))
    cms.refresh_schema()


@pytest.fixture
def make_i18n_app(make_app: Callable[..., Any]) -> Callable[..., Any]:
    def factory(config: dict[str, Any] | None = None) -> Any:
        app = make_app(config=config)
        seed_translations(app)
        return app

    return factory


@pytest.fixture
def i18n_app(make_i18n_app: Callable[..., Any]) -> Any:
    return make_i18n_app()


@pytest.fixture
def i18n_client(i18n_app: Any) -> Any:
    return i18n_app.test_client()
