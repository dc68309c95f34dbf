"""Cached read plans run on the driver's cursor (``transom.compiler.fastexec``): the answers
are the ones SQLAlchemy's own execution gives, for every field type, on SQLite, PostgreSQL
and MariaDB; listeners still see each statement; driver errors arrive as SQLAlchemy's; and
no read leaves a transaction open."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from transom.compiler import fastexec
from transom.testing.plugin import count_statements

FIELDS = [
    {"field": "id", "type": "integer",
     "schema": {"is_primary_key": True, "has_auto_increment": True}},
    {"field": "title", "type": "string"},
    {"field": "body", "type": "text"},
    {"field": "n", "type": "integer"},
    {"field": "big", "type": "bigInteger"},
    {"field": "ratio", "type": "float"},
    {"field": "amount", "type": "decimal",
     "schema": {"numeric_precision": 12, "numeric_scale": 4}},
    {"field": "flag", "type": "boolean"},
    {"field": "data", "type": "json"},
    {"field": "tags", "type": "csv"},
    {"field": "day", "type": "date"},
    {"field": "at", "type": "time"},
    {"field": "stamp", "type": "timestamp"},
    {"field": "local", "type": "dateTime"},
    {"field": "ref", "type": "uuid"},
    {"field": "owner", "type": "integer", "meta": {"special": ["m2o"]}},
]

ROWS = [
    {"title": "first", "body": "x" * 300, "n": 7, "big": 2**40, "ratio": 0.25,
     "amount": "12345678.1234", "flag": True, "data": {"a": [1, 2], "b": None},
     "tags": ["red", "blue"], "day": "2026-12-03", "at": "12:34:56",
     "stamp": "2026-12-03T10:11:12.000Z", "local": "2026-12-03T10:11:12",
     "ref": "7d2b4a36-3c55-4d5e-9a43-0f6b1c2d3e4f", "owner": 1},
    {"title": "second", "n": None, "flag": False, "data": [1, "two"], "amount": "-0.5000",
     "owner": None},
    {"title": "third"},
]


@pytest.fixture
def things(client: Any, admin_headers: dict[str, str]) -> Any:
    for body in (
        {"collection": "owners", "fields": [FIELDS[0], {"field": "name", "type": "string"}]},
        {"collection": "things", "fields": FIELDS},
    ):
        resp = client.post("/collections", json=body, headers=admin_headers)
        assert resp.status_code == 200, resp.get_data(as_text=True)
    resp = client.post("/relations", json={"collection": "things", "field": "owner",
                                           "related_collection": "owners"},
                       headers=admin_headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert client.post("/items/owners", json={"name": "Ada"},
                       headers=admin_headers).status_code == 200
    resp = client.post("/items/things", json=ROWS, headers=admin_headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return client


URLS = [
    "/items/things?sort=id",
    "/items/things?fields=*,owner.name&sort=-id&limit=2",
    "/items/things?filter[flag][_eq]=true",
    "/items/things/1",
    "/items/things/2?fields=id,title,data,owner.*",
]


def _answers(client: Any, headers: dict[str, str]) -> list[Any]:
    out = []
    for url in URLS:
        for _ in range(2):  # the second read is answered from the cached plan
            resp = client.get(url, headers=headers)
            assert resp.status_code == 200, (url, resp.get_data(as_text=True))
        out.append(resp.get_json()["data"])
    return out


def test_fast_reads_answer_what_sqlalchemy_answers(app, things, admin_headers, monkeypatch):
    calls: list[str] = []
    real_fetch = fastexec.fetch_all

    def spy(conn: Any, prep: Any, key: Any = None) -> Any:
        calls.append(prep.sql)
        return real_fetch(conn, prep, key)

    monkeypatch.setattr(fastexec, "fetch_all", spy)
    app.extensions["transom"].plans.clear()
    fast = _answers(things, admin_headers)
    assert len(calls) >= 2 * len(URLS)  # every URL's root read took the driver path
    monkeypatch.setattr(fastexec, "usable", lambda conn, options: False)
    app.extensions["transom"].plans.clear()
    calls.clear()
    slow = _answers(things, admin_headers)
    assert calls == []
    assert fast == slow
    first = fast[3]
    assert first["title"] == "first" and first["flag"] is True and first["n"] == 7
    assert first["data"] == {"a": [1, 2], "b": None} and first["tags"] == ["red", "blue"]
    assert first["big"] == 2**40


def test_listeners_see_each_statement_and_its_parameters(app, things, admin_headers):
    things.get("/items/things/3", headers=admin_headers)  # the plan is cached
    seen: list[Any] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    engine = app.extensions["transom"].engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        resp = things.get("/items/things/3", headers=admin_headers)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert resp.get_json()["data"]["title"] == "third"
    reads = [(s, p) for s, p in seen if "things" in s and s.lstrip().upper().startswith(
        "SELECT")]
    assert len(reads) == 1
    params = reads[0][1]
    values = list(params.values()) if isinstance(params, dict) else list(params)
    assert 3 in values  # the key is a bound parameter, not in the SQL
    with count_statements(engine) as counted:
        things.get("/items/things?fields=id,owner.name", headers=admin_headers)
    assert any("things" in s for s in counted)


def test_driver_errors_arrive_as_sqlalchemy_errors(app, things, admin_headers):
    cms = app.extensions["transom"]
    stmt = sa.select(sa.column("id")).select_from(sa.table("no_such_table"))
    with cms.connect() as conn:
        prep = fastexec.prepare(stmt, conn.dialect)
        assert prep is not None
        with pytest.raises(sa.exc.DBAPIError):
            fastexec.fetch_all(conn, prep)
    with cms.connect() as conn:  # the connection went back to the pool in a usable state
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1


def test_statements_rendered_per_call_stay_with_sqlalchemy(app):
    cms = app.extensions["transom"]
    expanding = sa.select(sa.column("id")).select_from(sa.table("t")).where(
        sa.column("id").in_([1, 2, 3]))
    assert fastexec.prepare(expanding, cms.engine.dialect) is None
    literal = sa.select(sa.column("id")).select_from(sa.table("t")).where(
        sa.column("id") == sa.bindparam("k", 5, literal_execute=True))
    assert fastexec.prepare(literal, cms.engine.dialect) is None
    plain = fastexec.prepare(sa.select(sa.column("id")).select_from(sa.table("t")).where(
        sa.column("id") == 5), cms.engine.dialect)
    assert plain is not None and "5" not in plain.sql  # the value stays a bound parameter


def test_per_call_statements_read_off_the_cursor_match_sqlalchemy(app, things):
    """``execute_rows`` (relations' ``IN`` reads): the same values as ``Result.all()`` for
    every field type, the result processors applied, with an expanding parameter."""
    cms = app.extensions["transom"]
    table = cms.schema.collections["things"].table
    stmt = sa.select(*table.c).where(table.c.id.in_([1, 2, 3])).order_by(table.c.id)
    with cms.connect() as conn:
        expected = [tuple(row) for row in conn.execute(stmt).all()]
        got = [tuple(row) for row in fastexec.execute_rows(conn, stmt)]
        assert got == expected and len(got) == 3
        assert [type(v) for v in got[0]] == [type(v) for v in expected[0]]
        assert fastexec.execute_rows(conn, stmt.where(table.c.id.in_([]))) == []
    with cms.connect() as conn:  # the cursor was closed, the connection is usable
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1


OPEN_TRANSACTIONS = {
    "postgres": "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()",
    "mysql": "SELECT count(*) FROM information_schema.innodb_trx t "
             "JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id "
             "WHERE p.db = DATABASE() AND p.id <> CONNECTION_ID()",
}


def test_no_read_leaves_a_transaction_open(app, things, admin_headers, backend):
    for url in URLS:
        assert things.get(url, headers=admin_headers).status_code == 200
    cms = app.extensions["transom"]
    with cms.engine.connect() as conn:
        if backend == "sqlite":  # the pooled connection the reads used
            assert conn.connection.dbapi_connection.in_transaction is False
        else:
            assert conn.execute(sa.text(OPEN_TRANSACTIONS[backend])).scalar() == 0
