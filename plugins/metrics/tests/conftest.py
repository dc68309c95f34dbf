"""Fixtures for transom-metrics: apps with /metrics on, a table to read, a scraper."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from transom.testing.plugin import ADMIN_TOKEN

METRICS_ON = {"METRICS_ENABLED": "true", "METRICS_TOKENS": "scrape-one,scrape-two"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def seed_notes(app: Any) -> None:
    cms = app.extensions["transom"]
    md = sa.MetaData()
    notes = sa.Table("notes", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("text", sa.String(100)))
    with cms.engine.begin() as conn:
        md.create_all(conn)
        conn.execute(notes.insert(), [{"id": i, "text": f"note {i}"} for i in range(1, 6)])
    cms.refresh_schema()


class Scrape:
    """Samples of one /metrics answer: ``value(name, **labels)``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [s for fam in text_string_to_metric_families(text) for s in fam.samples]

    def find(self, name: str, **labels: str) -> list[Any]:
        return [s for s in self.samples
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name: str, **labels: str) -> float | None:
        found = self.find(name, **labels)
        return sum(s.value for s in found) if found else None


def scrape(client: Any, headers: dict[str, str] | None = None) -> Scrape:
    r = client.get("/metrics", headers=ADMIN if headers is None else headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.headers["Content-Type"].startswith("text/plain")
    return Scrape(r.get_data(as_text=True))


@pytest.fixture
def metrics_app(make_app: Callable[..., Any]) -> Any:
    app = make_app(config=METRICS_ON)
    seed_notes(app)
    return app


@pytest.fixture
def mclient(metrics_app: Any) -> Any:
    return metrics_app.test_client()


@pytest.fixture
def reader_headers(mclient: Any) -> dict[str, str]:
    """A non-admin user allowed to read ``notes``."""
    policy = mclient.post("/policies", json={"name": "readers", "app_access": False,
                                             "admin_access": False},
                          headers=ADMIN).get_json()["data"]
    role = mclient.post("/roles", json={"name": "readers"}, headers=ADMIN).get_json()["data"]
    mclient.post("/access", json={"role": role["id"], "policy": policy["id"]}, headers=ADMIN)
    mclient.post("/permissions", json={"policy": policy["id"], "collection": "notes",
                                       "action": "read", "fields": ["*"]}, headers=ADMIN)
    token = uuid.uuid4().hex
    r = mclient.post("/users", json={"email": f"{token[:8]}@example.com", "role": role["id"],
                                     "token": token, "status": "active"}, headers=ADMIN)
    assert r.status_code == 200, r.get_json()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tools() -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(scrape=scrape, seed_notes=seed_notes, ADMIN=ADMIN,
                           METRICS_ON=METRICS_ON)
