"""Operations hardening (issue 12, part B): storage faults answer 503 with Retry-After,
front limits answer in the JSON envelope."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from transom.http.errors import outage_of

pytestmark = pytest.mark.backends("sqlite")


def _real_error(path: Path, sql: str, setup: str | None = None) -> sa.exc.DBAPIError:
    """A real driver error raised through SQLAlchemy on a real SQLite file."""
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.1})
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (v TEXT)")
    holder = None
    if setup:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute(setup)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(sql)
    except sa.exc.DBAPIError as exc:
        return exc
    finally:
        if holder is not None:
            holder.close()
        engine.dispose()
    raise AssertionError("no error")


def test_locked_database_is_503(tmp_path: Path) -> None:
    exc = _real_error(tmp_path / "a.db", "INSERT INTO t VALUES ('x')", "BEGIN EXCLUSIVE")
    err = outage_of(exc)
    assert err is not None and err.status == 503 and err.code == "SERVICE_UNAVAILABLE"


def test_full_database_is_503(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (v TEXT)")
        with pytest.raises(sa.exc.DBAPIError) as info, engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA max_page_count=3")
            conn.exec_driver_sql("INSERT INTO t VALUES (?)", (b"x" * 100_000,))
        exc = info.value
    finally:
        engine.dispose()
    assert "full" in str(exc.orig)
    err = outage_of(exc)
    assert err is not None and err.status == 503


def test_a_constraint_error_is_not_an_outage(tmp_path: Path) -> None:
    exc = _real_error(tmp_path / "c.db", "INSERT INTO nope VALUES (1)")
    assert outage_of(exc) is None


def test_503_envelope_has_retry_after(app: Any, client: Any,
                                      admin_headers: dict[str, str]) -> None:
    """Over the app: a locked SQLite file answers 503 in the envelope with Retry-After."""
    cms = app.extensions["transom"]
    path = cms.engine.url.database
    if not path or path == ":memory:":
        pytest.skip("needs a SQLite file")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:  # waits the busy timeout (5 s), then gives up
        resp = client.post("/roles", json={"name": "locked out"}, headers=admin_headers)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert resp.status_code == 503, resp.get_json()
    assert resp.get_json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert int(resp.headers["Retry-After"]) > 0


@pytest.mark.parametrize("path, headers, status, code", [
    ("/server/ping?q=" + "a" * 9000, {}, 414, "URI_TOO_LONG"),
    ("/server/ping", {"X-Big": "b" * 17000}, 431, "REQUEST_HEADER_FIELDS_TOO_LARGE"),
])
def test_front_limits_answer_in_the_envelope(client: Any, path: str, headers: dict[str, str],
                                             status: int, code: str) -> None:
    resp = client.get(path, headers=headers)
    assert resp.status_code == status
    assert resp.get_json()["errors"][0]["extensions"]["code"] == code


def test_within_limits_passes(client: Any) -> None:
    resp = client.get("/server/ping?q=" + "a" * 1000, headers={"X-Ok": "o" * 4000})
    assert resp.status_code == 200
