"""Transom on a database that already holds tables, foreign keys and a view made by plain SQL:
they appear as collections, fields and relations, and nothing in them is altered."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

DDL = {
    "sqlite": [
        "CREATE TABLE shop_customers (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "name VARCHAR(80) NOT NULL, vip BOOLEAN DEFAULT 0, meta JSON)",
        "CREATE TABLE shop_orders (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "customer_id INTEGER REFERENCES shop_customers(id) ON DELETE CASCADE, "
        "total NUMERIC(10,2), placed_at TIMESTAMP, note TEXT)",
        "CREATE VIEW shop_big_orders AS SELECT id, customer_id, total FROM shop_orders "
        "WHERE total > 100",
    ],
    "postgres": [
        "CREATE TABLE shop_customers (id SERIAL PRIMARY KEY, name VARCHAR(80) NOT NULL, "
        "vip BOOLEAN DEFAULT false, meta JSONB)",
        "CREATE TABLE shop_orders (id SERIAL PRIMARY KEY, "
        "customer_id INTEGER REFERENCES shop_customers(id) ON DELETE CASCADE, "
        "total NUMERIC(10,2), placed_at TIMESTAMPTZ, note TEXT)",
        "CREATE VIEW shop_big_orders AS SELECT id, customer_id, total FROM shop_orders "
        "WHERE total > 100",
    ],
    "mysql": [
        "CREATE TABLE shop_customers (id INT AUTO_INCREMENT PRIMARY KEY, "
        "name VARCHAR(80) NOT NULL, vip TINYINT(1) DEFAULT 0, meta JSON)",
        "CREATE TABLE shop_orders (id INT AUTO_INCREMENT PRIMARY KEY, customer_id INT, "
        "total DECIMAL(10,2), placed_at TIMESTAMP NULL, note TEXT, "
        "CONSTRAINT shop_orders_customer_fk FOREIGN KEY (customer_id) "
        "REFERENCES shop_customers(id) ON DELETE CASCADE)",
        "CREATE VIEW shop_big_orders AS SELECT id, customer_id, total FROM shop_orders "
        "WHERE total > 100",
    ],
}
DATA = [
    "INSERT INTO shop_customers (name, vip, meta) VALUES ('Ada', true, '{\"tier\": 1}')",
    "INSERT INTO shop_orders (customer_id, total, placed_at, note) VALUES "
    "(1, 250.50, '2024-05-01 10:00:00', 'big'), (1, 20.00, '2024-05-02 11:00:00', 'small')",
]


def catalog(engine: sa.Engine) -> dict:
    """What the database says about the user tables (to show Transom changed nothing)."""
    insp = sa.inspect(engine)
    out = {}
    for t in ("shop_customers", "shop_orders"):
        out[t] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(t)],
            "fks": [(f["constrained_columns"], f["referred_table"])
                    for f in insp.get_foreign_keys(t)],
            "indexes": sorted(i["name"] or "" for i in insp.get_indexes(t)),
        }
    out["views"] = sorted(v for v in insp.get_view_names() if v.startswith("shop_"))
    with engine.connect() as conn:
        out["rows"] = conn.exec_driver_sql(
            "SELECT id, customer_id, note FROM shop_orders ORDER BY id").all()
    return out


@pytest.fixture
def shop(backend, db_url):
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        for stmt in DDL[backend] + DATA:
            if backend == "sqlite":
                stmt = stmt.replace("true", "1")
            conn.exec_driver_sql(stmt)
    before = catalog(engine)
    yield engine, before
    engine.dispose()


def test_existing_tables_become_collections(shop, make_app, admin_headers):
    engine, before = shop
    app = make_app()
    cms = app.extensions["transom"]
    snap = cms.schema
    customers, orders, view = (snap.get(n) for n in ("shop_customers", "shop_orders",
                                                       "shop_big_orders"))
    assert customers is not None and orders is not None and view is not None
    assert view.is_view and not orders.is_view
    assert customers.meta is None  # no metadata rows needed
    assert customers.primary_key == "id" and customers.fields["id"].auto_increment
    assert {f: customers.fields[f].type for f in ("name", "vip", "meta")} == {
        "name": "string", "vip": "boolean", "meta": "json"}
    assert orders.fields["total"].type == "decimal"
    assert orders.fields["placed_at"].type == "timestamp"
    assert orders.fields["note"].type == "text"
    rel = snap.relation("shop_orders", "customer_id")
    assert rel is not None and rel.kind == "m2o" and rel.related == "shop_customers"

    client = app.test_client()
    fields = client.get("/items/shop_orders?fields=id,total,customer_id.name,placed_at&sort=id",
                        headers=admin_headers).get_json()["data"]
    assert fields[0]["customer_id"] == {"name": "Ada"}
    assert fields[0]["total"] == "250.50"
    assert fields[0]["placed_at"].startswith("2024-05-01T10:00:00")
    assert client.get("/items/shop_customers", headers=admin_headers).get_json()["data"][0][
        "meta"] == {"tier": 1}
    big = client.get("/items/shop_big_orders", headers=admin_headers).get_json()["data"]
    assert [o["id"] for o in big] == [1]
    r = client.post("/items/shop_big_orders", json={"total": 1}, headers=admin_headers)
    assert r.status_code == 400  # views are read-only

    cms.close()
    assert catalog(engine) == before  # user tables untouched by start-up and reads


def test_schema_refresh_cli(shop, make_app, db_url, monkeypatch):
    make_app()  # bootstraps the system tables on this database
    from transom.cli import cli

    monkeypatch.setenv("DB_URL", db_url.render_as_string(hide_password=False))
    monkeypatch.setenv("CONFIG_ENV_FILE", "/nonexistent.env")
    result = CliRunner().invoke(cli, ["--env-file", "/nonexistent.env", "schema", "refresh"])
    assert result.exit_code == 0, result.output
    assert "shop_big_orders (view" in result.output
    assert "shop_orders (table" in result.output


@pytest.mark.backends("sqlite")
def test_plugins_cli_lists_dialects_and_core(db_url, monkeypatch):
    from transom.cli import cli

    monkeypatch.setenv("DB_URL", db_url.render_as_string(hide_password=False))
    result = CliRunner().invoke(cli, ["--env-file", "/nonexistent.env", "plugins", "--json"])
    assert result.exit_code == 0, result.output
    names = {p["name"]: p for p in json.loads(result.output)}
    for dialect in ("sqlite", "postgres", "mysql", "mssql", "oracle"):
        assert f"dialect_{dialect}" in names
        assert names[f"dialect_{dialect}"]["distribution"] == f"transom-dialect-{dialect}"
        assert "register_dialects" in names[f"dialect_{dialect}"]["hooks"]
    for core in ("core_server", "core_items", "core_system_api"):
        assert names[core]["default"] is True
