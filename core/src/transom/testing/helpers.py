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


# -- single sign-on tests (auth_oidc, auth_saml, auth_ldap) ---------------------------------
#: the ``directus_users`` columns :func:`users_linked_to` reads
LINKED_USER_COLUMNS = ("id", "email", "role", "provider", "first_name", "last_name",
                       "password", "status")


def named_role(client: Any, admin: dict[str, str], name: str) -> str:
    """The id of a new role ``name`` (no policy), made through ``POST /roles``."""
    resp = client.post("/roles", json={"name": name}, headers=admin)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["data"]["id"]


def users_linked_to(app: Any, external_identifier: str) -> list[dict[str, Any]]:
    """The ``directus_users`` rows linked to an external identity, read from the database
    (not through the API, which hides ``password``); ids as strings on every backend."""
    cms = app.extensions["transom"]
    with cms.connect() as conn:
        rows = conn.execute(sa.text(
            f"SELECT {', '.join(LINKED_USER_COLUMNS)} FROM directus_users "
            "WHERE external_identifier = :x"), {"x": external_identifier}).mappings().all()
    return [{k: (str(v) if k in ("id", "role") and v is not None else v)
             for k, v in r.items()} for r in rows]


def error_code(body: Any) -> str:
    """``errors[0].extensions.code`` of a Directus error envelope."""
    return body["errors"][0]["extensions"]["code"]


def enable_tfa(client: Any, access_token: str) -> str:
    """Turn on two-factor authentication for the token's user (an SSO user: no password
    asked); the TOTP secret."""
    import pyotp  # only the tests that use TFA need it installed

    me = {"Authorization": f"Bearer {access_token}"}
    generated = client.post("/users/me/tfa/generate", json={}, headers=me)
    assert generated.status_code == 200, generated.get_json()
    secret = generated.get_json()["data"]["secret"]
    assert client.post("/users/me/tfa/enable", json={"secret": secret,
                                                     "otp": pyotp.TOTP(secret).now()},
                       headers=me).status_code == 204
    return secret


def response_json(resp: Any) -> Any:
    """A ``requests`` response's JSON body, None when it has none."""
    try:
        return resp.json()
    except ValueError:
        return None


class RedirectBrowser:
    """One user agent of a browser login: a cookie jar and redirects followed by hand.

    Transom is reached through a Flask test client (``client``) or over HTTP
    (``base_url``); the identity provider always over HTTP (``http``, a requests session
    that ignores proxy settings). Subclasses add the provider's own steps."""

    def __init__(self, client: Any = None, base_url: str | None = None) -> None:
        import requests  # a dependency of the SSO plugins' tests, not of the kernel

        self.client = client
        self.base_url = base_url
        self.http = requests.Session()
        self.http.trust_env = False

    def get(self, url: str) -> tuple[int, dict[str, str], Any, Any]:
        """(status, headers, json body or None, raw response) of one GET to Transom."""
        if self.client is not None:
            resp = self.client.get(url)
            return resp.status_code, dict(resp.headers), resp.get_json(silent=True), resp
        resp = self.http.get(self._full(url), allow_redirects=False, timeout=30)
        return resp.status_code, dict(resp.headers), response_json(resp), resp

    def _full(self, url: str) -> str:
        return url if url.startswith("http") else f"{self.base_url}{url}"


def assert_tokens_work(client: Any, tokens: dict[str, Any], user_id: str) -> None:
    """A login's ``{access_token, refresh_token}``: the access token is ``user_id``'s
    (``GET /users/me``) and the refresh token refreshes (``POST /auth/refresh``)."""
    me = client.get("/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200 and me.get_json()["data"]["id"] == user_id, me.get_json()
    refreshed = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"],
                                                   "mode": "json"})
    assert refreshed.status_code == 200, refreshed.get_json()


def assert_no_password_login(client: Any, admin: dict[str, str], user: dict[str, Any]) -> None:
    """A user of another provider gets a password set by an admin; the local login with it
    is still refused: 403 INVALID_PROVIDER (``user``: ``id`` and ``email``)."""
    assert client.patch(f"/users/{user['id']}", json={"password": "Local-pw-123"},
                        headers=admin).status_code == 200
    resp = client.post("/auth/login", json={"email": user["email"], "password": "Local-pw-123"})
    assert (resp.status_code, error_code(resp.get_json())) == (403, "INVALID_PROVIDER")
