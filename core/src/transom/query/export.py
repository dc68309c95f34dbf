"""``?export=`` downloads: the answer's items as CSV, JSON, XML or YAML.

The shapes follow what Directus's exporters produce, so spreadsheets and scripts built
against Directus read ours: CSV flattens nested objects into dot-joined columns (lists, and
objects inside lists, stay JSON), XML is ``<data><item>...</item></data>`` with lists as
repeated elements, JSON is pretty-printed and YAML is a plain block document.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from xml.etree import ElementTree as ET

import orjson
import yaml

from transom.errors import InvalidQueryError

from .model import EXPORT_FORMATS

#: format -> (mimetype, file extension)
EXPORT_TYPES: dict[str, tuple[str, str]] = {
    "csv": ("text/csv", "csv"),
    "csv_utf8": ("text/csv; charset=utf-8", "csv"),
    "json": ("application/json", "json"),
    "xml": ("text/xml", "xml"),
    "yaml": ("text/yaml", "yaml"),
}
assert set(EXPORT_TYPES) == set(EXPORT_FORMATS)

_BOM = "\ufeff"
_ORJSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
_XML_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_NAME_BAD = re.compile(r"[^A-Za-z0-9_.\-]")


def export_items(items: Any, fmt: str) -> tuple[bytes, str, str]:
    """``(body, mimetype, extension)`` for ``items`` (a list of dicts, or one dict)."""
    if fmt not in EXPORT_TYPES:
        raise InvalidQueryError(f'"export" must be one of [{", ".join(EXPORT_FORMATS)}]')
    rows = _rows(items)
    mimetype, extension = EXPORT_TYPES[fmt]
    if fmt in ("csv", "csv_utf8"):
        text = _to_csv(rows)
        body = ((_BOM if fmt == "csv_utf8" else "") + text).encode("utf-8")
    elif fmt == "json":
        body = json.dumps(_plain(rows), indent=2, ensure_ascii=False).encode("utf-8")
    elif fmt == "xml":
        body = _to_xml(rows)
    else:
        body = yaml.safe_dump(
            _plain(rows), sort_keys=False, allow_unicode=True, default_flow_style=False
        ).encode("utf-8")
    return body, mimetype, extension


def stream_json_export(chunks: Iterable[list[Any]]) -> Iterator[bytes]:
    """The bytes of :func:`export_items`' JSON for items that arrive in chunks, written as
    they come (the same pretty-printed document, never the whole list in memory)."""
    first = True
    for chunk in chunks:
        for item in chunk:
            text = orjson.dumps(item, default=_plain_scalar, option=_ORJSON_OPTIONS)
            yield (b"[\n  " if first else b",\n  ") + text.replace(b"\n", b"\n  ")
            first = False
    yield b"[]" if first else b"\n]"


def _plain_scalar(value: Any) -> Any:
    plain = _plain(value)
    if plain is value:
        raise TypeError(f"cannot export {type(value).__name__}")
    return plain


def export_filename(collection: str, fmt: str, now: dt.datetime | None = None) -> str:
    """``"articles 20240131-235959.csv"``: the attachment name Directus gives exports."""
    if fmt not in EXPORT_TYPES:
        raise InvalidQueryError(f'"export" must be one of [{", ".join(EXPORT_FORMATS)}]')
    moment = now or dt.datetime.now()
    return f"{collection} {moment:%Y%m%d-%H%M%S}.{EXPORT_TYPES[fmt][1]}"


def _rows(items: Any) -> list[Any]:
    if items is None:
        return []
    if isinstance(items, Mapping):
        return [dict(items)]
    return list(items)


def _plain(value: Any) -> Any:
    """JSON/YAML-safe values: dates as ISO strings, decimals and UUIDs as strings."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


# --------------------------------------------------------------------------- CSV


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and value:
        for key, sub in value.items():
            _flatten(sub, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value


def _csv_cell(value: Any) -> str:
    """Strings quoted, numbers and booleans bare, null empty: as json2csv writes them."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | decimal.Decimal):
        return str(value)
    if isinstance(value, Mapping | list | tuple):
        text = json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))
    else:
        text = str(_plain(value))
    return '"' + text.replace('"', '""') + '"'


def _to_csv(rows: list[Any]) -> str:
    flat: list[dict[str, Any]] = []
    header: dict[str, None] = {}
    for row in rows:
        cells: dict[str, Any] = {}
        _flatten(row if isinstance(row, Mapping) else {"value": row}, "", cells)
        flat.append(cells)
        header.update(dict.fromkeys(cells))
    if not header:
        return ""
    lines = [",".join(_csv_cell(name) for name in header)]
    for cells in flat:
        lines.append(",".join(_csv_cell(cells.get(name)) for name in header))
    return "\n".join(lines)


# --------------------------------------------------------------------------- XML


def _tag(name: Any) -> str:
    """A valid XML element name for a field name (``count(x)`` -> ``count_x_``)."""
    tag = _XML_NAME_BAD.sub("_", str(name))
    if not tag or not (tag[0].isalpha() or tag[0] == "_") or tag.lower().startswith("xml"):
        tag = "_" + tag
    return tag


def _xml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _XML_BAD_CHARS.sub("", str(_plain(value)))


def _xml_fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            _xml_append(element, _tag(key), sub)
    elif isinstance(value, list | tuple):
        for sub in value:
            _xml_fill(ET.SubElement(element, "item"), sub)
    elif value is not None:
        element.text = _xml_text(value)


def _xml_append(parent: ET.Element, tag: str, value: Any) -> None:
    """Lists become repeated elements named after their field; nested lists nest ``item``s."""
    if isinstance(value, list | tuple):
        for sub in value:
            _xml_fill(ET.SubElement(parent, tag), sub)
    else:
        _xml_fill(ET.SubElement(parent, tag), value)


def _to_xml(rows: list[Any]) -> bytes:
    root = ET.Element("data")
    for row in rows:
        _xml_fill(ET.SubElement(root, "item"), row)
    ET.indent(root, space="    ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
