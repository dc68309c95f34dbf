"""Run a read: one statement for the root, one per relational node, stitched by key.

The number of statements depends only on the shape of ``fields`` (and ``meta``), never on
the number of rows: children are fetched with ``WHERE key IN (...)`` for all parents at
once, and per-parent limits on o2m use a window function. Rows become dicts with keys
computed once per node, values converted once per column.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

from ..errors import ForbiddenError, InvalidQueryError
from ..query import Query
from ..query.filters import parse_function
from ..query.model import limit_settings
from ..schema.model import Collection
from . import fastexec
from .context import CompileContext, require_field
from .tree import ColumnOut, FunctionOut, Node, RelationOut
from .values import out_converter, out_int
from .where import (
    _json_path,
    compile_filter,
    decimal_data_type,
    escape_like,
    function_expression,
    resolve,
    rule_condition,
)

IN_CHUNK = 20_000  # bound parameters per IN list (under every driver's limit)


def paginate(stmt: sa.Select[Any], limit: int | None, offset: int) -> sa.Select[Any]:
    """``LIMIT`` (unless None or -1, no limit) and ``OFFSET`` (unless 0) of a statement."""
    if limit is not None and limit >= 0:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return stmt


def _chunks(values: list[Any]) -> list[list[Any]]:
    return [values[i:i + IN_CHUNK] for i in range(0, len(values), IN_CHUNK)] or [[]]


class Reader:
    """Reads items of one collection for one compile context (one request)."""

    def __init__(self, ctx: CompileContext, conn: sa.Connection) -> None:
        self.ctx = ctx
        self.conn = conn

    # -- where / order ------------------------------------------------------------------
    def where(self, coll: Collection, table: sa.FromClause, query: Query, path: str = "root",
              with_query: bool = True) -> sa.ColumnElement[bool]:
        parts: list[Any] = []
        row_filter = self.ctx.read_access(coll).row_filter()
        if row_filter is not None:
            parts.append(rule_condition(self.ctx, coll, table, row_filter, path))
        if with_query:
            if query.filter:
                flt = resolve(self.ctx, query.filter)
                parts.append(compile_filter(self.ctx, coll, table, flt, path))
            if query.search:
                parts.append(self.search(coll, table, query.search))
        # no condition is the ``true()`` singleton, which callers can leave out (SQLite counts
        # a table without a WHERE from its b-tree: 0.2 ms for 1M rows, 8 ms with ``1 = 1``)
        return sa.and_(*parts) if parts else sa.true()

    def search(self, coll: Collection, table: sa.FromClause, term: str) -> Any:
        """Case-insensitive match on text fields, equality on numbers and uuids."""
        access = self.ctx.read_access(coll)
        conds = []
        numeric = _as_number(term)
        is_uuid = _is_uuid(term)
        pattern = f"%{escape_like(term)}%"
        for name, f in coll.fields.items():
            if f.is_alias or f.concealed:
                continue
            cond = access.field_condition(name)
            if cond is False:
                continue
            if meta_searchable(f) is False:
                continue
            col = table.c[name]
            if f.type in ("string", "text", "csv"):
                expr = self.ctx.dialect.ilike(col, pattern)
            elif f.type in ("integer", "bigInteger") and isinstance(numeric, int):
                expr = col == numeric
            elif f.type in ("float", "decimal") and numeric is not None:
                key = self.ctx.dialect.decimal_key  # SQLite's text decimals: exact keys
                data_type = decimal_data_type(f)
                keyed = key(col, data_type)
                expr = col == numeric if keyed is None else \
                    keyed == key(sa.literal(str(numeric), sa.Text()), data_type)
            elif f.type == "uuid" and is_uuid:
                expr = col == term
            else:
                continue
            if cond is not True:
                expr = sa.and_(expr, rule_condition(self.ctx, coll, table, cond))
            conds.append(expr)
        return sa.or_(sa.false(), *conds)

    def order_by(self, coll: Collection, table: sa.FromClause, sort: list[str] | None,
                 path: str = "root") -> list[Any]:
        keys = sort
        if not keys:
            default = self.default_sort(coll)
            keys = [default] if default else []
        out = []
        for key in keys:
            key = key.strip()
            if not key:
                continue
            if key == "?":
                out.append(sa.func.random())
                continue
            desc = key.startswith("-")
            name = key[1:] if desc else key
            expr = self.sort_expression(coll, table, name, path)
            out.append(expr.desc() if desc else expr.asc())
        return out

    def default_sort(self, coll: Collection) -> str | None:
        """The order of a read without ``sort``: the collection's ``sort_field``, else its
        key, else its first column, whichever the caller may read first (as Directus 11:
        a role that may not read ``sort_field`` still lists the collection)."""
        access = self.ctx.read_access(coll)
        for name in (coll.sort_field, coll.primary_key):
            if name and name in coll.fields and access.field_allowed(name):
                return name
        return next((n for n, f in coll.fields.items()
                     if not f.is_alias and access.field_allowed(n)), None)

    def sort_expression(self, coll: Collection, table: sa.FromClause, name: str,
                        path: str) -> Any:
        fn = parse_function(name)
        access = self.ctx.read_access(coll)
        if fn is not None:
            fname, field_name, args = fn
            f = require_field(access, coll, field_name, path)
            return function_expression(self.ctx, coll, table, fname, f, args)[0]
        head, _, rest = name.partition(".")
        f = require_field(access, coll, head, path)
        if not rest:
            if f.is_alias:
                raise InvalidQueryError(f'Can\'t sort on alias field "{head}"')
            keyed = self.ctx.dialect.decimal_key(table.c[head], decimal_data_type(f))
            return table.c[head] if keyed is None else keyed  # SQLite's text decimals
        rel = self.ctx.schema.relation(coll.collection, head)
        if rel is None or rel.kind not in ("m2o", "o2m", "m2m", "m2a"):
            raise ForbiddenError.field(name, coll.collection, path)
        related = self.ctx.collection(rel.related or "")
        if not self.ctx.read_access(related).allowed:
            raise ForbiddenError.field(name, coll.collection, path)
        r_table = self.ctx.alias(related)
        inner = self.sort_expression(related, r_table, rest, f"{path}.{head}")
        if rel.kind == "m2o":
            assert related.primary_key is not None
            link = r_table.c[related.primary_key] == table.c[head]
            agg = inner
        else:
            assert coll.primary_key is not None and rel.foreign_field is not None
            link = r_table.c[rel.foreign_field] == table.c[coll.primary_key]
            agg = sa.func.min(inner)
        cond = sa.and_(link, self.where(related, r_table, Query(), with_query=False))
        return sa.select(agg).where(cond).limit(1).scalar_subquery()

    # -- reading ------------------------------------------------------------------------
    def columns(self, node: Node, table: sa.FromClause) -> tuple[list[Any], Shaper,
                                                                   dict[str, int]]:
        """The select list of a node (outputs first, in their order, then the hidden key
        columns relations need) and the :class:`Shaper` that turns its rows into dicts."""
        access = self.ctx.read_access(node.coll)
        cols: list[Any] = []
        index: dict[str, int] = {}

        def add(label: str, expr: Any) -> int:
            if label not in index:
                index[label] = len(cols)
                cols.append(expr.label(f"c{len(cols)}"))
            return index[label]

        pk = node.coll.primary_key
        keys: list[str] = []
        positions: list[int] = []
        convs: list[tuple[str, Any]] = []
        for out in node.outputs:
            if isinstance(out, ColumnOut):
                name = out.field.field
                expr: Any = table.c[name]
                cond = access.field_condition(name)
                if cond is not True:
                    expr = sa.case((rule_condition(self.ctx, node.coll, table, cond), expr),
                                   else_=sa.null())
                pos = add(f"col:{name}", expr)
                if name == pk and cond is True:
                    index.setdefault("__pk", pos)  # the key column serves as the key too
                scale = (out.field.schema or {}).get("numeric_scale")
                conv = out_converter(out.field.type, out.field.concealed, scale)
            elif isinstance(out, FunctionOut) and out.function == "json":
                # Directus answers json(field, path) with the JSON value itself (a number,
                # an object...), not its text: read the document, take the path in Python
                function_expression(self.ctx, node.coll, table, out.function, out.field,
                                    out.args)  # checks the field is a json one (400)
                pos = add(f"json:{out.field.field}", table.c[out.field.field])
                conv = _json_at(out.args[0] if out.args else "")
            elif isinstance(out, FunctionOut):
                expr, ftype = function_expression(self.ctx, node.coll, table, out.function,
                                                  out.field, out.args)
                pos = add(f"fn:{out.key}", expr)
                conv = out_int if ftype == "integer" else out_converter(ftype)
            else:  # a relation: a placeholder filled later, kept in its place
                if out.rel.kind in ("m2o", "a2o"):
                    pos = add(f"col:{out.field.field}", table.c[out.field.field])
                else:
                    assert pk is not None
                    pos = add("__pk", table.c[pk])
                conv = None
            keys.append(out.key)
            positions.append(pos)
            if conv is not None:
                convs.append((out.key, conv))
        if pk is not None:
            add("__pk", table.c[pk])
        for out in node.outputs:
            if isinstance(out, RelationOut) and out.rel.kind == "a2o":
                add("__collection", table.c[out.rel.collection_field or "collection"])
        return cols, Shaper(keys, positions, convs), index

    def joinable(self, out: Any) -> bool:
        """An m2o read in the parent's statement (a LEFT JOIN) instead of a second one:
        when the related rows need no rule of their own (no row filter, no masked field,
        no deep query) and the child asks for plain columns only."""
        child = out.node
        if out.rel.kind != "m2o" or child is None or child.coll.primary_key is None:
            return False
        q = child.query
        if q.filter or q.search or q.sort or q.limit is not None or q.offset or q.page:
            return False
        access = self.ctx.read_access(child.coll)
        if access.row_filter() is not None:
            return False
        return all(isinstance(o, ColumnOut) and access.field_condition(o.field.field) is True
                   for o in child.outputs)

    def plan(self, node: Node, query: Query) -> Plan:
        """The root statement of a read and how to shape it: built once per query shape and
        caller (see ``ItemsService``'s plan cache), executed many times."""
        coll = node.coll
        table = self.ctx.alias(coll)
        cols, shaper, index = self.columns(node, table)
        source: Any = table
        joined: list[tuple[str, Shaper, int]] = []
        for out in node.outputs:
            if not (isinstance(out, RelationOut) and self.joinable(out)):
                continue
            child = out.node
            r_table = self.ctx.alias(child.coll)
            source = source.outerjoin(r_table, r_table.c[child.coll.primary_key] ==
                                      table.c[out.field.field])
            c_cols, c_shaper, c_index = self.columns(child, r_table)
            base = len(cols)
            cols.extend(c.label(f"c{base + i}") for i, c in enumerate(
                c.element for c in c_cols))
            joined.append((out.key, c_shaper.offset(base), base + c_index["__pk"]))
            out.joined = True
        stmt = sa.select(*cols).select_from(source).where(
            self.where(coll, table, query, node.path))
        stmt = stmt.order_by(*self.order_by(coll, table, query.sort, node.path))
        stmt = paginate(stmt, *self.limit_offset(query))
        return Plan(node, stmt, shaper, index, joined)

    def run(self, plan: Plan, key: Any = None) -> list[dict[str, Any]]:
        """Execute a plan's root statement, then fetch its relations (``key``: the value
        of the plan's ``key_param``)."""
        return self.shape(plan, self.fetch(plan, key))

    def fetch(self, plan: Plan, key: Any = None) -> list[Any]:
        """The root rows of a plan: on the driver's cursor where it can (the plan is
        executed many times, see :mod:`.fastexec`), else through SQLAlchemy."""
        conn = self.conn
        if fastexec.usable(conn, self.ctx.dialect.read_options):
            prep = fastexec.prepared_for(plan.prepared, plan.stmt, conn.dialect,
                                         plan.key_param)
            if prep is not None:
                return fastexec.fetch_all(conn, prep, key)
        params = {plan.key_param: key} if plan.key_param else None
        return conn.execute(plan.stmt, params).all()

    def shape(self, plan: Plan, rows: list[Any]) -> list[dict[str, Any]]:
        """Root rows of ``plan`` (all, or one streamed chunk) to items with relations."""
        items = plan.shaper.shape(rows)
        for key, c_shaper, pk_pos in plan.joined:
            related = c_shaper.shape(rows)
            for row, item, rel_item in zip(rows, items, related, strict=True):
                item[key] = rel_item if row[pk_pos] is not None else None
        self.relations(plan.node, rows, items, plan.index)
        return items

    def limit_offset(self, query: Query, nested: bool = False) -> tuple[int | None, int]:
        root_default, maximum = limit_settings(self.ctx.config)
        default = -1 if nested else root_default
        limit = query.limit if query.limit is not None else default
        if maximum >= 0:
            if limit == -1 or limit > maximum:
                limit = maximum
        offset = query.offset or 0
        if query.page and limit is not None and limit > 0:
            offset = limit * (query.page - 1)
        return limit, min(offset, 2**62)  # past every row; keeps the SQL within 64 bits

    def relations(self, node: Node, rows: list[Any], items: list[dict[str, Any]],
                  index: dict[str, int]) -> None:
        for out in node.outputs:
            if not isinstance(out, RelationOut):
                continue
            if out.joined:
                continue  # read in the parent's statement already
            kind = out.rel.kind
            if kind == "m2o":
                self._m2o(out, rows, items, index)
            elif kind == "a2o":
                self._a2o(out, rows, items, index)
            else:
                self._o2m(node, out, rows, items, index)

    def _fetch_by_keys(self, child: Node, key_field: str, keys: list[Any], query: Query,
                       per_parent: bool) -> tuple[list[Any], list[dict[str, Any]], dict[str, int],
                                                  int]:
        """Rows of ``child`` whose ``key_field`` is in ``keys``; returns the key's position."""
        coll = child.coll
        all_rows: list[Any] = []
        table = self.ctx.alias(coll)
        cols, shaper, index = self.columns(child, table)
        key_label = f"col:{key_field}" if key_field != coll.primary_key else "__pk"
        if key_label not in index:
            index[key_label] = len(cols)
            cols.append(table.c[key_field].label(f"c{len(cols)}"))
        key_pos = index[key_label]
        order = self.order_by(coll, table, query.sort or None, child.path)
        limit, offset = self.limit_offset(query, nested=True)
        for chunk in _chunks(keys):
            where = sa.and_(table.c[key_field].in_(chunk),
                            self.where(coll, table, query, child.path))
            if per_parent and ((limit is not None and limit >= 0) or offset):
                rn = sa.func.row_number().over(partition_by=table.c[key_field],
                                               order_by=order).label("rn")
                inner = sa.select(*cols, rn).select_from(table).where(where).subquery()
                cond = [inner.c.rn > offset]
                if limit is not None and limit >= 0:
                    cond.append(inner.c.rn <= offset + limit)
                stmt = sa.select(*[inner.c[c.name] for c in cols]).where(*cond).order_by(
                    inner.c[cols[key_pos].name], inner.c.rn)
            elif per_parent:
                # grouped by parent, each parent's rows in the asked order: the same lists,
                # and the planner can walk the key's index instead of sorting (SQLite
                # scanned the whole junction for ``ORDER BY id``: 15 -> 10 ms per chunk)
                stmt = sa.select(*cols).select_from(table).where(where).order_by(
                    table.c[key_field], *order)
            else:
                stmt = sa.select(*cols).select_from(table).where(where).order_by(*order)
            all_rows.extend(fastexec.execute_rows(self.conn, stmt))
        items = shaper.shape(all_rows)
        self.relations(child, all_rows, items, index)
        return all_rows, items, index, key_pos

    def _m2o(self, out: RelationOut, rows: list[Any], items: list[dict[str, Any]],
             index: dict[str, int]) -> None:
        pos = index[f"col:{out.field.field}"]
        values = [r[pos] for r in rows]
        keys = list(set(values))
        child = out.node
        if child is None:
            return
        found: dict[Any, dict[str, Any]] = {}
        if None in keys:
            keys.remove(None)
        if keys:
            assert child.coll.primary_key is not None
            c_rows, c_items, _, kpos = self._fetch_by_keys(
                child, child.coll.primary_key, keys, child.query, per_parent=False)
            found = {r[kpos]: item for r, item in zip(c_rows, c_items, strict=True)}
        # None is never a key of ``found``: a null foreign key reads as None
        get, name = found.get, out.key
        for value, item in zip(values, items, strict=True):
            item[name] = get(value)

    def _o2m(self, node: Node, out: RelationOut, rows: list[Any], items: list[dict[str, Any]],
             index: dict[str, int]) -> None:
        rel = out.rel
        related = self.ctx.collection(rel.related or "")
        keys = list({r[index["__pk"]] for r in rows if r[index["__pk"]] is not None})
        child = out.node
        if child is None:
            # Just the keys of the related items, as Directus answers for "*".
            child = Node(related, Query(), f"{node.path}.{out.key}")
        assert rel.foreign_field is not None
        grouped: dict[Any, list[Any]] = {}
        if keys:
            query = child.query
            if query.sort is None and rel.sort_field and \
                    self.ctx.read_access(related).field_allowed(rel.sort_field):
                query = query.copy(sort=[rel.sort_field])
            c_rows, c_items, c_index, kpos = self._fetch_by_keys(
                child, rel.foreign_field, keys, query, per_parent=True)
            c_pk = c_index.get("__pk")
            values = c_items if out.node is not None else [r[c_pk] for r in c_rows]
            # one pass, no call per row: the rows come grouped by parent (see
            # ``_fetch_by_keys``), so a parent's list is looked up once per run of rows
            last: Any = _NO_KEY
            bucket: list[Any] = []
            for r, value in zip(c_rows, values, strict=True):
                key = r[kpos]
                if key != last:
                    last = key
                    norm = key if type(key) is int or type(key) is str else _norm(key)
                    bucket = grouped.setdefault(norm, [])
                bucket.append(value)
        pk_pos = index["__pk"]
        name = out.key
        for row, item in zip(rows, items, strict=True):
            key = row[pk_pos]
            bucket = grouped.get(key if type(key) is int or type(key) is str else _norm(key))
            item[name] = bucket if bucket is not None else []

    def _a2o(self, out: RelationOut, rows: list[Any], items: list[dict[str, Any]],
             index: dict[str, int]) -> None:
        pos = index[f"col:{out.field.field}"]
        cpos = index["__collection"]
        for row, item in zip(rows, items, strict=True):
            item[out.key] = row[pos]
        for target, child in out.scoped.items():
            keys = list({r[pos] for r in rows if r[cpos] == target and r[pos] is not None})
            if not keys:
                continue
            assert child.coll.primary_key is not None
            pk_type = child.coll.pk_field.type
            typed = [_cast_key(k, pk_type) for k in keys]
            typed = [k for k in typed if k is not None]
            if not typed:
                continue
            c_rows, c_items, _, kpos = self._fetch_by_keys(
                child, child.coll.primary_key, typed, child.query, per_parent=False)
            found = {str(r[kpos]): it for r, it in zip(c_rows, c_items, strict=True)}
            for row, item in zip(rows, items, strict=True):
                if row[cpos] == target and row[pos] is not None:
                    item[out.key] = found.get(str(row[pos]))


def _json_at(path: str) -> Any:
    """A converter: the value at ``path`` (``a.b[0]``) of a stored JSON document, or None."""
    steps = _json_path(path)
    parse = out_converter("json")

    def convert(value: Any) -> Any:
        doc = parse(value)
        for step in steps:
            if isinstance(step, int) and isinstance(doc, list) and 0 <= step < len(doc):
                doc = doc[step]
            elif isinstance(doc, dict) and str(step) in doc:
                doc = doc[str(step)]
            else:
                return None
        return doc
    return convert


_NO_KEY = object()  # no row's key: marks "no run of rows yet"


def _norm(key: Any) -> Any:
    return str(key) if key is not None and not isinstance(key, int | str) else key


def _cast_key(value: Any, type_: str) -> Any:
    if type_ in ("integer", "bigInteger"):
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    return str(value)


@dataclass(frozen=True)
class Plan:
    """A compiled root read: the field tree, the statement, and how to shape its rows."""

    node: Node
    stmt: Any
    shaper: Shaper
    index: dict[str, int]
    joined: list[tuple[str, Shaper, int]]
    #: the one bound parameter each execution supplies (``read_one``'s key), if any
    key_param: str | None = None
    #: the statement prepared per SQLAlchemy dialect (:mod:`.fastexec`), made on first use
    prepared: dict[Any, Any] = field(default_factory=dict, init=False, compare=False,
                                     repr=False)


class Shaper:
    """Rows to dicts with keys computed once per node: ``dict(zip(keys, row))`` when the
    outputs are the first columns in order (the common case), then only the values whose
    type needs it are converted."""

    __slots__ = ("keys", "positions", "convs", "direct")

    def __init__(self, keys: list[str], positions: list[int],
                 convs: list[tuple[str, Any]]) -> None:
        self.keys = keys
        self.positions = positions
        self.convs = convs
        self.direct = positions == list(range(len(positions)))

    def offset(self, base: int) -> Shaper:
        """The same shaping for columns that start at ``base`` in a wider row."""
        return Shaper(self.keys, [p + base for p in self.positions], self.convs)

    def shape(self, rows: list[Any]) -> list[dict[str, Any]]:
        keys, convs = self.keys, self.convs
        if self.direct:
            items = [dict(zip(keys, row)) for row in rows]  # noqa: B905 - row has extras
        elif len(keys) == 1:
            key, pos = keys[0], self.positions[0]
            items = [{key: row[pos]} for row in rows]
        else:
            pick = itemgetter(*self.positions)  # the values in output order, in C
            items = [dict(zip(keys, pick(row))) for row in rows]  # noqa: B905 - same length
        if convs:
            for item in items:
                for key, conv in convs:
                    value = item[key]
                    if value is not None:
                        item[key] = conv(value)
        return items


def _as_number(term: str) -> int | float | None:
    """The search term as a number a column could hold (none beyond 64 bits, NaN or inf)."""
    if len(term) > 40:
        return None
    try:
        number = int(term)
        return number if -(2**63) <= number < 2**63 else None
    except ValueError:
        pass
    try:
        value = float(term)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _is_uuid(term: str) -> bool:
    try:
        uuid.UUID(term)
    except ValueError:
        return False
    return True


def meta_searchable(f: Any) -> bool | None:
    meta = f.meta or {}
    value = meta.get("searchable")
    return None if value is None else bool(value)
