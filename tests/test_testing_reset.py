"""``db_url`` hands each test a server database emptied by ``reset_database``: it must look
exactly like the one the previous test started with (no row, no user table, counters back at
1), whatever the previous test did."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from transom.testing.databases import reset_database
from transom.testing.helpers import seed_blog


def _state(url: sa.URL) -> dict[str, Any]:
    """Tables, the non-empty ones (``directus_migrations`` aside) and their row counts."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            names = sorted(sa.inspect(conn).get_table_names())
            q = conn.dialect.identifier_preparer.quote
            rows = {t: conn.exec_driver_sql(f"SELECT COUNT(*) FROM {q(t)}").scalar_one()
                    for t in names if t != "directus_migrations"}
    finally:
        engine.dispose()
    return {"tables": names, "rows": {t: n for t, n in rows.items() if n}}


def _ids_of_a_first_write(app: Any, client: Any, headers: dict[str, str]) -> dict[str, Any]:
    """Writes touching serial counters, then the ids they got."""
    seed_blog(app, o2m=True)
    field = client.post("/fields/articles", json={"field": "extra", "type": "string"},
                        headers=headers)
    assert field.status_code == 200, field.get_json()
    policy = client.get("/policies", headers=headers).get_json()["data"][0]["id"]
    perm = client.post("/permissions", json={"policy": policy, "collection": "articles",
                                             "action": "read", "fields": ["*"]},
                       headers=headers)
    assert perm.status_code == 200, perm.get_json()
    perm_id = perm.get_json()["data"]["id"]
    assert client.delete(f"/permissions/{perm_id}", headers=headers).status_code == 204
    with app.extensions["transom"].engine.connect() as conn:
        activity = conn.exec_driver_sql("SELECT MIN(id) FROM directus_activity").scalar()
    return {"field": field.get_json()["data"]["meta"]["id"], "permission": perm_id,
            "activity": activity}


@pytest.mark.backends("postgres", "mysql")
def test_reset_gives_the_next_test_the_same_database(backend: str, db_url: sa.URL,
                                                     make_app: Any,
                                                     admin_headers: dict[str, str]) -> None:
    reset_database(db_url, backend)  # whatever ran before on this worker
    empty = _state(db_url)
    assert empty["rows"] == {}
    seen, system_tables = [], []
    for _ in range(2):
        app = make_app()
        seen.append(_ids_of_a_first_write(app, app.test_client(), admin_headers))
        app.extensions["transom"].close()
        reset_database(db_url, backend)
        after = _state(db_url)
        assert after["rows"] == {}, "rows left behind"
        # the plugin tables come back with their migrations; the blog's tables are gone
        assert not {"articles", "authors", "comments", "blog_posts"} & set(after["tables"])
        system_tables.append({t for t in after["tables"] if t.startswith("directus_")})
    # the system tables stay (migrated once), the same after each reset
    assert "directus_users" in system_tables[0] and system_tables[0] == system_tables[1]
    # the second run got the ids the first got: every counter started again at 1
    assert seen[0] == seen[1], seen
