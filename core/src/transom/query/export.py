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
        if not chunk:
            continue
        # one dump and one write per chunk (a write per item cost ~1 syscall a row): the
        # chunk's own indented array, between its brackets, is exactly its part of the whole
        text = orjson.dumps(chunk, default=_plain_scalar, option=_ORJSON_OPTIONS)
        yield (b"[\n" if first else b",\n") + text[2:-2]
        first = False
    yield b"[]" if first else b"\n]"


def stream_export(chunks: Iterable[list[Any]], fmt: str,
                  csv_header: list[str] | None = None) -> Iterator[bytes]:
    """The bytes of :func:`export_items` for items that arrive in chunks, written as they
    come so memory stays bounded by a chunk. JSON, XML and YAML are byte for byte the
    buffered document; CSV is too whenever its header (``csv_header``, from
    :func:`csv_header_of` over every row, or else the first chunk's, see
    :func:`stream_csv_export`) covers every later row."""
    if fmt not in EXPORT_TYPES:
        raise InvalidQueryError(f'"export" must be one of [{", ".join(EXPORT_FORMATS)}]')
    if fmt == "json":
        return stream_json_export(chunks)
    if fmt in ("csv", "csv_utf8"):
        return stream_csv_export(chunks, bom=fmt == "csv_utf8", header=csv_header)
    if fmt == "xml":
        return stream_xml_export(chunks)
    return stream_yaml_export(chunks)


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


def _csv_header(rows: Iterable[Any]) -> list[str]:
    return csv_header_of([rows])


def csv_header_of(chunks: Iterable[Iterable[Any]]) -> list[str]:
    """The buffered CSV header (every row's flattened keys, in order of appearance) of rows
    arriving in chunks, holding one chunk at a time: a first pass for a CSV whose columns
    depend on the rows."""
    header: dict[str, None] = {}
    for rows in chunks:
        for row in rows:
            cells: dict[str, Any] = {}
            _flatten(row if isinstance(row, Mapping) else {"value": row}, "", cells)
            header.update(dict.fromkeys(cells))
    return list(header)


def _place(value: Any, name: str, columns: set[str], branches: set[str],
           out: dict[str, Any]) -> bool:
    """Put ``value`` (the field ``name``) into the fixed ``columns``: flattened where the
    header has its sub-columns, otherwise as JSON in its own column. False when part of
    it has no column at all."""
    if isinstance(value, Mapping) and value and name in branches:
        placed = True
        for key, sub in value.items():
            placed = _place(sub, f"{name}.{key}", columns, branches, out) and placed
        if not placed and name in columns:
            out[name] = value  # a key the header lacks: the whole object, as JSON
            return True
        return placed
    if name in columns:
        out[name] = value
        return True
    return False


def stream_csv_export(chunks: Iterable[list[Any]], *, bom: bool = False,
                      header: list[str] | None = None) -> Iterator[bytes]:
    """CSV written chunk by chunk. A CSV header comes first: ``header`` when the caller
    has it (:func:`csv_header_of` over every row: then the file is :func:`export_items`'
    byte for byte), else the buffered header of the *first* chunk (every row's flattened
    keys, in order): identical when the answer fits in one chunk or the first chunk shows
    every column. A later row's nested key that the header lacks goes, with its whole
    object, into the nearest parent column as JSON; with no such column it is left out
    (docs/performance.md), which is why callers that cannot rule it out pass ``header``."""
    columns: set[str] = set()
    branches: set[str] = set()
    given = header
    header = None
    for chunk in chunks:
        if header is None or given is not None:  # the first chunk, or a known header
            if not chunk:
                continue
            first = header is None
            if header is None:
                header = given if given is not None else _csv_header(chunk)
                if not header:  # objects without fields: no columns, as buffered
                    break
                columns = set(header)
                branches = {p for c in header for p in _prefixes(c)}
            lines = [(_BOM if bom else "") + ",".join(_csv_cell(n) for n in header)] \
                if first else []
            for row in chunk:
                cells: dict[str, Any] = {}
                _flatten(row if isinstance(row, Mapping) else {"value": row}, "", cells)
                lines.append(",".join(_csv_cell(cells.get(n)) for n in header))
            text = "\n".join(lines)
            yield (text if first else "\n" + text).encode("utf-8")
            continue
        out: list[str] = []
        for row in chunk:
            cells = {}
            for key, sub in (row if isinstance(row, Mapping) else {"value": row}).items():
                _place(sub, str(key), columns, branches, cells)
            out.append("\n" + ",".join(_csv_cell(cells.get(n)) for n in header))
        if out:
            yield "".join(out).encode("utf-8")
    if not header:
        yield (_BOM if bom else "").encode("utf-8")


def _prefixes(column: str) -> Iterator[str]:
    """``"a.b.c"`` -> ``"a"``, ``"a.b"``: the objects a flattened column sits in."""
    parts = column.split(".")
    for i in range(1, len(parts)):
        yield ".".join(parts[:i])


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


def stream_xml_export(chunks: Iterable[list[Any]]) -> Iterator[bytes]:
    """:func:`export_items`' XML one ``<item>`` at a time, indented as the whole tree
    would be."""
    first = True
    for chunk in chunks:
        parts: list[str] = []
        for row in chunk:
            item = ET.Element("item")
            _xml_fill(item, row)
            ET.indent(item, space="    ", level=1)
            if first:
                parts.append("<?xml version='1.0' encoding='utf-8'?>\n<data>")
                first = False
            parts.append("\n    " + ET.tostring(item, encoding="unicode"))
        if parts:
            yield "".join(parts).encode("utf-8")
    yield (b"<?xml version='1.0' encoding='utf-8'?>\n<data />" if first else b"\n</data>")


def stream_yaml_export(chunks: Iterable[list[Any]]) -> Iterator[bytes]:
    """:func:`export_items`' YAML: a block list is the concatenation of its items."""
    empty = True
    for chunk in chunks:
        if chunk:
            empty = False
            yield yaml.safe_dump(_plain(chunk), sort_keys=False, allow_unicode=True,
                                 default_flow_style=False).encode("utf-8")
    if empty:
        yield yaml.safe_dump([]).encode("utf-8")
