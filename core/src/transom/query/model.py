"""The one ``Query`` every interface produces: REST, SEARCH bodies, GraphQL, WebSocket, plugins.

It is plain data (no SQL, no schema), so the permission merge, the compiler and the cache
can all work on the same value. ``to_dict`` gives it back in Directus's own spelling, which
is also what ``cache_key`` hashes over.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import decimal
import json
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

#: Values ``meta`` may hold.
META_VALUES: tuple[str, ...] = ("total_count", "filter_count")

#: Aggregate functions Directus 11 understands (``countAll`` comes from GraphQL).
AGGREGATE_FUNCTIONS: frozenset[str] = frozenset(
    {
        "count",
        "countDistinct",
        "countAll",
        "sum",
        "sumDistinct",
        "avg",
        "avgDistinct",
        "min",
        "max",
    }
)

def limit_settings(config: Any) -> tuple[int, int]:
    """``(QUERY_LIMIT_DEFAULT, QUERY_LIMIT_MAX)`` as integers (100 and -1, no maximum,
    unless set): the limit of a list that names none, and the largest one may ask for."""
    return (int(config.get("QUERY_LIMIT_DEFAULT", 100)),
            int(config.get("QUERY_LIMIT_MAX", -1)))


#: Formats ``?export=`` accepts.
EXPORT_FORMATS: tuple[str, ...] = ("csv", "csv_utf8", "json", "xml", "yaml")


@dataclass
class Query:
    """A sanitised read query.

    ``None`` means "not given" so later stages can apply their defaults (``fields`` ``*``,
    ``limit`` ``QUERY_LIMIT_DEFAULT``, sort by ``sort_field``/PK). ``deep`` maps a relational
    field to the nested query for that relation; a relation nested deeper lives in the nested
    query's own ``deep``.
    """

    fields: list[str] | None = None
    filter: dict[str, Any] | None = None
    search: str | None = None
    sort: list[str] | None = None
    limit: int | None = None
    offset: int | None = None
    page: int | None = None
    meta: list[str] = dataclasses.field(default_factory=list)
    aggregate: dict[str, list[str]] | None = None
    group: list[str] | None = None
    deep: dict[str, Query] | None = None
    alias: dict[str, str] | None = None
    export: str | None = None
    version: str | None = None
    version_raw: bool = False
    backlink: bool = True
    #: Transom's opt-in: ``meta`` counts may be the dialect's estimate (docs/performance.md)
    estimate: bool = False
    #: Transom's opt-in keyset pagination: the opaque cursor of the previous page's last item
    after: str | None = None
    #: the first page of a keyset read (``meta.next_cursor`` in the answer)
    keyset: bool = False

    def copy(self, **changes: Any) -> Query:
        """An independent copy (nested dicts included), with ``changes`` applied."""
        keep = {name: _clone(getattr(self, name)) for name in _FIELD_NAMES
                if name not in changes}  # an unknown name in changes: Query() raises
        return Query(**keep, **changes)

    def to_dict(self, *, nested: bool = False, copy_values: bool = True) -> dict[str, Any]:
        """Directus's spelling of this query (only what differs from the defaults).

        Nested (``deep``) levels use underscore-prefixed keys, as Directus writes them.
        """
        out: dict[str, Any] = {}
        pairs: list[tuple[str, Any]] = [
            ("fields", self.fields),
            ("filter", self.filter),
            ("search", self.search),
            ("sort", self.sort),
            ("limit", self.limit),
            ("offset", self.offset),
            ("page", self.page),
            ("meta", self.meta or None),
            ("aggregate", self.aggregate),
            ("groupBy", self.group),
            ("alias", self.alias),
            ("export", self.export),
            ("version", self.version),
            ("versionRaw", True if self.version_raw else None),
            ("backlink", False if not self.backlink else None),
            ("estimate", True if self.estimate else None),
            ("after", self.after),
            ("keyset", True if self.keyset else None),
        ]
        for key, value in pairs:
            if value is not None:
                out[f"_{key}" if nested else key] = copy.deepcopy(value) if copy_values \
                    else value
        if self.deep:
            deep = {name: sub.to_dict(nested=True, copy_values=copy_values)
                    for name, sub in self.deep.items()}
            if nested:
                out.update(deep)
            else:
                out["deep"] = deep
        return out

    def cache_key(self) -> str:
        """Deterministic JSON of the query: equal queries give equal strings."""
        data = self.to_dict(copy_values=False)  # read-only use: no need to copy the values
        try:
            return orjson.dumps(data, default=_json_default,
                                option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # beyond orjson (an integer past 64 bits): the stdlib's spelling
            return json.dumps(data, sort_keys=True, separators=(",", ":"),
                              default=_json_default)


def _json_default(value: Any) -> Any:
    """JSON form of the few non-JSON values a resolved filter may hold."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=repr) if isinstance(value, set | frozenset) else list(value)
    return repr(value)


#: the field names of :class:`Query`, in order (asked on every copy)
_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Query))
_ATOMS = (str, int, float, bool, type(None), decimal.Decimal, dt.date, dt.time, uuid.UUID)


def _clone(value: Any) -> Any:
    """An independent copy of a query part: dicts and lists (filters, fields, aliases) are
    copied, nested queries too; immutable values are shared. Faster than ``deepcopy``,
    which a one-item read paid twice (about 50 us)."""
    if isinstance(value, _ATOMS):
        return value
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, Query):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    return copy.deepcopy(value)
