"""``$CURRENT_USER.<field>`` and ``$CURRENT_ROLE.<field>`` (deep forms included, as in
Directus 11) in permission rules, presets and query filters: the user's and role's rows are
fetched on demand, once per request."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from transom.accountability import Accountability
from transom.services.items import load_dynamic
from transom.testing.helpers import setup_user


def ids(resp: Any) -> list[Any]:
    assert resp.status_code == 200, resp.get_json()
    return sorted(item["id"] for item in resp.get_json()["data"])


def _add_columns(app: Any) -> None:
    cms = app.extensions["transom"]
    with cms.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE articles ADD COLUMN owner_email VARCHAR(255)")
        conn.exec_driver_sql("ALTER TABLE articles ADD COLUMN team VARCHAR(100)")
    cms.refresh_schema()


def _assign(app: Any, email: str, team: str, keys: list[int]) -> None:
    cms = app.extensions["transom"]
    with cms.engine.begin() as conn:
        conn.execute(sa.text("UPDATE articles SET owner_email = :e, team = :t WHERE id IN "
                             f"({','.join(str(k) for k in keys)})"), {"e": email, "t": team})


def test_current_user_field_in_rule(blog, client, admin_headers):
    _add_columns(blog)
    reader = setup_user(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["*"],
         "permissions": {"owner_email": {"_eq": "$CURRENT_USER.email"}}},
        {"collection": "articles", "action": "update", "fields": ["title"],
         "permissions": {"owner_email": {"_eq": "$CURRENT_USER.email"}}},
    ])
    _assign(blog, reader["user"]["email"], "x", [2, 5])
    _assign(blog, "someone@else.org", "x", [3])
    h = reader["headers"]
    assert ids(client.get("/items/articles", headers=h)) == [2, 5]
    assert client.get("/items/articles/3", headers=h).status_code == 403
    assert client.patch("/items/articles/5", json={"title": "mine"},
                        headers=h).status_code == 200
    assert client.patch("/items/articles/3", json={"title": "not mine"},
                        headers=h).status_code == 403
    # the rule's filter also guards counts
    meta = client.get("/items/articles?meta=filter_count&limit=0", headers=h).get_json()
    assert meta["meta"]["filter_count"] == 2


def test_current_user_nested_role_and_current_role(blog, client, admin_headers):
    _add_columns(blog)
    by_user = setup_user(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["id", "team"],
         "permissions": {"team": {"_eq": "$CURRENT_USER.role.name"}}},
    ])
    by_role = setup_user(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["id", "team"],
         "permissions": {"team": {"_eq": "$CURRENT_ROLE.name"}}},
    ])
    _assign(blog, "a@b.c", by_user["role"]["name"], [1, 4])
    _assign(blog, "a@b.c", by_role["role"]["name"], [7])
    assert ids(client.get("/items/articles", headers=by_user["headers"])) == [1, 4]
    assert ids(client.get("/items/articles", headers=by_role["headers"])) == [7]


def test_current_user_field_in_query_filter_and_preset(blog, client, admin_headers):
    _add_columns(blog)
    writer = setup_user(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["*"]},
        {"collection": "articles", "action": "create", "fields": ["*"],
         "presets": {"owner_email": "$CURRENT_USER.email"}},
    ])
    email = writer["user"]["email"]
    _assign(blog, email, "x", [6])
    h = writer["headers"]
    got = client.get("/items/articles?filter[owner_email][_eq]=$CURRENT_USER.email",
                     headers=h)
    assert ids(got) == [6]
    r = client.post("/items/articles", json={"title": "preset"}, headers=h)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["data"]["owner_email"] == email
    # an admin filtering on their own deep variable works too (no rules to bypass here)
    got = client.get("/items/articles?filter[owner_email][_eq]=$CURRENT_USER.email",
                     headers=admin_headers)
    assert got.status_code == 200 and got.get_json()["data"] == []


def test_user_row_is_read_once_per_request(blog, client, admin_headers):
    _add_columns(blog)
    reader = setup_user(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["*"],
         "permissions": {"_or": [{"owner_email": {"_eq": "$CURRENT_USER.email"}},
                                 {"team": {"_eq": "$CURRENT_USER.status"}}]}},
        {"collection": "authors", "action": "read", "fields": ["*"]},
    ])
    _assign(blog, reader["user"]["email"], "x", [2])
    cms = blog.extensions["transom"]
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if "FROM directus_users AS" in statement:  # an items read (not the token lookup)
            statements.append(statement)

    h = reader["headers"]
    client.get("/items/articles", headers=h)  # warm the access caches (token, policies)
    sa.event.listen(cms.engine, "before_cursor_execute", count)
    try:
        cms.plans.clear()
        r = client.get("/items/articles?fields=id,author.name&meta=filter_count", headers=h)
    finally:
        sa.event.remove(cms.engine, "before_cursor_execute", count)
    assert ids(r) == [2]
    assert len(statements) == 1, statements

    # the cache lives on the accountability (one per request), and grows by need
    acc = Accountability(user=reader["user"]["id"], role=reader["role"]["id"])
    row = load_dynamic(cms, acc, "user", {"email"})
    assert row is not None and row["email"] == reader["user"]["email"]
    assert load_dynamic(cms, acc, "user", {"email"}) is row
    deeper = load_dynamic(cms, acc, "user", {"role.name"})
    assert deeper["email"] == reader["user"]["email"]
    assert deeper["role"]["name"] == reader["role"]["name"]
    assert load_dynamic(cms, Accountability(), "user", {"email"}) is None


def test_item_permissions_probe(blog, client, admin_headers):
    """``/permissions/me/:collection/:pk`` asks the items service (installed on the kernel
    by create_app, since the permission engine sits below it) whether the item matches."""
    _add_columns(blog)
    editor = setup_user(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["*"]},
        {"collection": "articles", "action": "update", "fields": ["title"],
         "permissions": {"owner_email": {"_eq": "$CURRENT_USER.email"}}},
    ])
    _assign(blog, editor["user"]["email"], "x", [4])
    h = editor["headers"]
    mine = client.get("/permissions/me/articles/4", headers=h).get_json()["data"]
    other = client.get("/permissions/me/articles/5", headers=h).get_json()["data"]
    assert mine["update"]["access"] is True and mine["update"]["fields"] == ["title"]
    assert other["update"]["access"] is False
    assert mine["delete"]["access"] is False
