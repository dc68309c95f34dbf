"""Date parts, JSON paths and LIKE/ILIKE on a live database."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import sqlalchemy as sa

from transom.dialects import DATE_PARTS

from .base import (
    DialectCase,
    _case,
    _prefix,
    _tables,
)

# -- expressions ------------------------------------------------------------------------
_DATES = [
    dt.datetime(2024, 3, 10, 14, 5, 9),    # a Sunday, ISO week 10
    dt.datetime(2021, 1, 3, 8, 30, 45),    # a Sunday in ISO week 53 of 2020
    dt.datetime(2024, 12, 30, 23, 59, 58),  # a Monday in ISO week 1 of 2025
    dt.datetime(2023, 6, 15, 0, 0, 0),     # a Thursday
]


def _expected(value: dt.datetime | dt.date | dt.time, part: str) -> int:
    if part == "week":
        return value.isocalendar()[1]  # type: ignore[union-attr]
    if part == "weekday":
        return value.isoweekday() % 7  # type: ignore[union-attr]
    return int(getattr(value, part))


def test_date_parts(dialect_case: Any) -> None:
    case = _case(dialect_case)
    d = case.dialect
    p = _prefix()
    with _tables(case) as (md, _views):
        t = sa.Table(
            f"{p}dates", md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("dt", d.column_type("dateTime")),
            sa.Column("ts", d.column_type("timestamp")),
            sa.Column("d", d.column_type("date")),
            sa.Column("tm", d.column_type("time")),
        )
        md.create_all(case.engine)
        with case.engine.begin() as conn:
            conn.execute(t.insert(), [
                {"id": i, "dt": v, "ts": v.replace(tzinfo=dt.UTC), "d": v.date(),
                 "tm": v.time()} for i, v in enumerate(_DATES, start=1)])
        with case.engine.connect() as conn:
            for part in DATE_PARTS:
                exprs = [d.date_part(part, t.c.dt), d.date_part(part, t.c.ts)]
                if part not in ("hour", "minute", "second"):
                    exprs.append(d.date_part(part, t.c.d))
                else:
                    exprs.append(d.date_part(part, t.c.tm))
                rows = conn.execute(sa.select(*exprs).order_by(t.c.id)).all()
                for value, row in zip(_DATES, rows, strict=True):
                    want = _expected(value, part)
                    assert [int(x) for x in row] == [want] * len(exprs), (part, value, row)
            # As a filter, as the query engine uses it.
            year = d.date_part("year", t.c.dt)
            ids = conn.execute(sa.select(t.c.id).where(year == 2024).order_by(t.c.id)).scalars()
            assert list(ids) == [1, 3]


def test_json_ops(dialect_case: Any) -> None:
    case = _case(dialect_case)
    d = case.dialect
    try:
        d.json_extract(sa.column("doc"), ["a"])
    except NotImplementedError as exc:
        pytest.skip(f"{d.name}: {exc}")
    p = _prefix()
    doc = {"a": {"b": "x"}, "list": [1, 2, 3], "n": 5, "t": True, "z": None,
           "my key": "spaced", "s": "it's"}
    with _tables(case) as (md, _views):
        t = sa.Table(f"{p}docs", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("data", d.column_type("json")))
        md.create_all(case.engine)
        with case.engine.begin() as conn:
            conn.execute(t.insert(), [{"id": 1, "data": doc}, {"id": 2, "data": [1, 2]}])
            conn.execute(t.insert().values(id=3, data=sa.null()))

        def one(path: list[str | int], row: int = 1) -> Any:
            with case.engine.connect() as conn:
                return conn.execute(sa.select(d.json_extract(t.c.data, path))
                                    .where(t.c.id == row)).scalar_one()

        assert one(["a", "b"]) == "x"
        assert one(["list", 1]) == "2"
        assert one(["n"]) == "5"
        assert one(["t"]) == "true"
        assert one(["z"]) is None
        assert one(["missing"]) is None
        assert one(["my key"]) == "spaced"
        assert one(["s"]) == "it's"
        assert json.loads(one(["a"])) == {"b": "x"}
        assert one([0], row=2) == "1"
        with case.engine.connect() as conn:
            lengths = conn.execute(sa.select(t.c.id, d.json_array_length(t.c.data))
                                   .order_by(t.c.id)).all()
            assert [tuple(r) for r in lengths] == [(1, None), (2, 2), (3, None)]
            hit = conn.execute(sa.select(t.c.id).where(
                d.json_extract(t.c.data, ["a", "b"]) == "x")).scalars().all()
            assert hit == [1]


_WORDS = ["Apple", "apple", "APPLE pie", "50% off", "5000 off", "a_b", "axb", "[x]*?"]


def _matches(case: DialectCase, make: Any) -> set[str]:
    p = _prefix()
    with _tables(case) as (md, _views):
        t = sa.Table(f"{p}words", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("w", sa.String(50)))
        md.create_all(case.engine)
        with case.engine.begin() as conn:
            conn.execute(t.insert(), [{"id": i, "w": w}
                                      for i, w in enumerate(_WORDS, start=1)])
        with case.engine.connect() as conn:
            return set(conn.execute(sa.select(t.c.w).where(make(t.c.w))).scalars())


def test_like_and_ilike(dialect_case: Any) -> None:
    case = _case(dialect_case)
    d = case.dialect
    assert _matches(case, lambda c: d.like(c, "%pple%")) == {"Apple", "apple"}
    assert _matches(case, lambda c: d.like(c, "App%")) == {"Apple"}
    assert _matches(case, lambda c: ~d.like(c, "%pple%")) == set(_WORDS) - {"Apple", "apple"}
    assert _matches(case, lambda c: d.ilike(c, "%pple%")) == {"Apple", "apple", "APPLE pie"}
    assert _matches(case, lambda c: d.ilike(c, "APP%")) == {"Apple", "apple", "APPLE pie"}
    assert _matches(case, lambda c: d.ilike(c, "%PIE")) == {"APPLE pie"}


def test_like_escapes_wildcards(dialect_case: Any) -> None:
    case = _case(dialect_case)
    d = case.dialect
    assert _matches(case, lambda c: d.like(c, "50\\%%")) == {"50% off"}
    assert _matches(case, lambda c: d.ilike(c, "50\\%%")) == {"50% off"}
    assert _matches(case, lambda c: d.like(c, "a\\_b")) == {"a_b"}
    assert _matches(case, lambda c: d.ilike(c, "A\\_B")) == {"a_b"}
    assert _matches(case, lambda c: d.like(c, "%[x]*?%")) == {"[x]*?"}
    assert _matches(case, lambda c: d.like(c, "a_b")) == {"a_b", "axb"}
