"""``?export=`` outputs: each format parses back to the same data."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import uuid
from xml.etree import ElementTree as ET

import pytest
import yaml

from transom.errors import InvalidQueryError
from transom.query import export_filename, export_items

ITEMS = [
    {
        "id": 1,
        "title": 'Hello, "world"\nsecond line',
        "rating": 4.5,
        "published": True,
        "author": {"id": 7, "name": "Ada", "country": {"code": "UK"}},
        "tags": ["a", "b"],
        "body": None,
    },
    {
        "id": 2,
        "title": "Ünïcødé ✓",
        "rating": 3,
        "published": False,
        "author": None,
        "tags": [],
        "extra": "only here",
    },
]


def csv_rows(body: bytes, *, bom: bool = False) -> list[dict[str, str]]:
    text = body.decode("utf-8")
    if bom:
        assert text.startswith("\ufeff")
        text = text[1:]
    else:
        assert not text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text, newline="")))


class TestCsv:
    def test_round_trip(self) -> None:
        body, mimetype, ext = export_items(ITEMS, "csv")
        assert mimetype == "text/csv" and ext == "csv"
        rows = csv_rows(body)
        assert list(rows[0]) == [
            "id",
            "title",
            "rating",
            "published",
            "author.id",
            "author.name",
            "author.country.code",
            "tags",
            "body",
            "author",
            "extra",
        ]
        first, second = rows
        assert first["id"] == "1"
        assert first["title"] == 'Hello, "world"\nsecond line'
        assert first["rating"] == "4.5"
        assert first["published"] == "true"
        assert first["author.name"] == "Ada"
        assert first["author.country.code"] == "UK"
        assert json.loads(first["tags"]) == ["a", "b"]
        assert first["body"] == ""
        assert first["extra"] == ""
        assert second["title"] == "Ünïcødé ✓"
        assert second["published"] == "false"
        assert second["author.name"] == ""
        assert second["author"] == ""
        assert json.loads(second["tags"]) == []
        assert second["extra"] == "only here"

    def test_utf8_has_bom(self) -> None:
        body, mimetype, ext = export_items(ITEMS, "csv_utf8")
        assert body.startswith(b"\xef\xbb\xbf")
        assert "utf-8" in mimetype and ext == "csv"
        assert csv_rows(body, bom=True) == csv_rows(export_items(ITEMS, "csv")[0])

    def test_objects_in_lists_are_json(self) -> None:
        body, _, _ = export_items([{"id": 1, "children": [{"id": 2, "n": "x"}]}], "csv")
        (row,) = csv_rows(body)
        assert json.loads(row["children"]) == [{"id": 2, "n": "x"}]

    def test_strings_quoted_numbers_bare(self) -> None:
        body, _, _ = export_items([{"n": 1, "s": "1", "b": True, "z": None}], "csv")
        assert body.decode().splitlines() == ['"n","s","b","z"', '1,"1",true,']

    def test_empty(self) -> None:
        assert export_items([], "csv")[0] == b""

    def test_single_dict(self) -> None:
        (row,) = csv_rows(export_items({"id": 5}, "csv")[0])
        assert row == {"id": "5"}

    def test_special_values(self) -> None:
        item = {
            "when": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
            "price": decimal.Decimal("10.50"),
            "uid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        }
        (row,) = csv_rows(export_items([item], "csv")[0])
        assert row == {
            "when": "2024-01-02T03:04:05+00:00",
            "price": "10.50",
            "uid": "12345678-1234-5678-1234-567812345678",
        }


class TestJson:
    def test_round_trip(self) -> None:
        body, mimetype, ext = export_items(ITEMS, "json")
        assert mimetype == "application/json" and ext == "json"
        assert json.loads(body) == ITEMS
        assert b"\n" in body  # pretty printed
        assert "Ünïcødé".encode() in body

    def test_special_values(self) -> None:
        item = {"d": dt.date(2024, 1, 2), "p": decimal.Decimal("1.10")}
        assert json.loads(export_items([item], "json")[0]) == [{"d": "2024-01-02", "p": "1.10"}]


class TestYaml:
    def test_round_trip(self) -> None:
        body, mimetype, ext = export_items(ITEMS, "yaml")
        assert mimetype == "text/yaml" and ext == "yaml"
        assert yaml.safe_load(body) == ITEMS

    def test_keeps_key_order(self) -> None:
        body, _, _ = export_items([{"z": 1, "a": 2}], "yaml")
        assert body.decode().index("z:") < body.decode().index("a:")

    def test_special_values(self) -> None:
        item = {"when": dt.datetime(2024, 1, 2, tzinfo=dt.UTC), "p": decimal.Decimal("2.5")}
        assert yaml.safe_load(export_items([item], "yaml")[0]) == [
            {"when": "2024-01-02T00:00:00+00:00", "p": "2.5"}
        ]


class TestXml:
    def test_structure(self) -> None:
        body, mimetype, ext = export_items(ITEMS, "xml")
        assert mimetype == "text/xml" and ext == "xml"
        assert body.startswith(b"<?xml")
        root = ET.fromstring(body)
        assert root.tag == "data"
        items = root.findall("item")
        assert len(items) == 2
        first, second = items
        assert first.findtext("id") == "1"
        assert first.findtext("title") == 'Hello, "world"\nsecond line'
        assert first.findtext("published") == "true"
        assert first.findtext("author/name") == "Ada"
        assert first.findtext("author/country/code") == "UK"
        assert [t.text for t in first.findall("tags")] == ["a", "b"]
        assert first.find("body") is not None and first.findtext("body") == ""
        assert second.findtext("title") == "Ünïcødé ✓"
        assert second.findall("tags") == []
        assert second.findtext("extra") == "only here"

    def test_lists_of_objects_and_nested_lists(self) -> None:
        item = {"children": [{"id": 1}, {"id": 2}], "grid": [[1, 2], [3]]}
        root = ET.fromstring(export_items([item], "xml")[0])
        assert [c.findtext("id") for c in root.findall("item/children")] == ["1", "2"]
        grids = root.findall("item/grid")
        assert [[i.text for i in g.findall("item")] for g in grids] == [["1", "2"], ["3"]]

    def test_awkward_names_and_characters(self) -> None:
        item = {"count(x)": 3, "1st": "a", "item:headings": "b", "ctl": "a\x00b<&>"}
        root = ET.fromstring(export_items([item], "xml")[0])
        row = root.find("item")
        assert row is not None
        assert row.findtext("count_x_") == "3"
        assert row.findtext("_1st") == "a"
        assert row.findtext("item_headings") == "b"
        assert row.findtext("ctl") == "ab<&>"

    def test_empty(self) -> None:
        root = ET.fromstring(export_items([], "xml")[0])
        assert root.tag == "data" and list(root) == []


class TestFormatAndFilename:
    def test_unknown_format(self) -> None:
        with pytest.raises(InvalidQueryError):
            export_items(ITEMS, "pdf")
        with pytest.raises(InvalidQueryError):
            export_filename("articles", "pdf")

    @pytest.mark.parametrize(
        "fmt,ext",
        [("csv", "csv"), ("csv_utf8", "csv"), ("json", "json"), ("xml", "xml"), ("yaml", "yaml")],
    )
    def test_filename(self, fmt: str, ext: str) -> None:
        now = dt.datetime(2024, 1, 31, 23, 59, 58)
        assert export_filename("articles", fmt, now) == f"articles 20240131-235958.{ext}"

    def test_filename_default_now(self) -> None:
        name = export_filename("articles", "json")
        assert name.startswith("articles ") and name.endswith(".json")
        stamp = name[len("articles ") : -len(".json")]
        dt.datetime.strptime(stamp, "%Y%m%d-%H%M%S")
