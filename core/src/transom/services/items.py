"""``ItemsService``: the only entry to item data for REST, GraphQL, WebSockets, the CLI and
extension code, so that permissions, hooks, validation and errors are the same everywhere.

Reads compile the query once per call; writes run in one transaction per top-level call
(the caller may pass its own connection to join a bigger one) and fire their after-commit
events only when it commits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..compiler.aggregate import run_aggregate
from ..compiler.context import CompileContext
from ..compiler.keyset import keyset_query, next_cursor
from ..compiler.reader import Reader, paginate
from ..compiler.tree import build_tree
from ..compiler.values import ValueError_, to_db, to_filter_value
from ..compiler.where import rule_condition
from ..compiler.writer import Mutation, refuse_view
from ..errors import ForbiddenError, InvalidPayloadError, TransomError
from ..events import EventContext, PendingEvents
from ..permissions.access import ACCESS_COLLECTIONS
from ..query import Query, has_dynamic_variables, parse_query_dict
from ..query.model import limit_settings

#: key types ``read_one`` compares with a bound parameter in a cached plan
BOUND_KEY_TYPES = frozenset({"integer", "bigInteger", "string", "uuid"})
#: the name of that parameter (nothing in a compiled read uses it)
ONE_KEY_PARAM = "transom_one_key"
#: items per chunk of a streamed read (``limit=-1``, exports)
STREAM_CHUNK = 1000
#: metadata whose rows are part of the schema snapshot
SCHEMA_META_COLLECTIONS = frozenset(
    {"directus_collections", "directus_fields", "directus_relations"})
#: other system collections whose writes other processes cache (topic per collection)
SYSTEM_TOPICS = {"directus_settings": "settings", "directus_webhooks": "webhooks",
                 "directus_flows": "flows", "directus_operations": "flows"}


def after_commit(conn: sa.Connection, fn: Any) -> None:
    """Run ``fn()`` once the caller's transaction on ``conn`` commits (at once if it is
    not in one)."""
    if conn.in_transaction():
        sa.event.listen(conn, "commit", lambda _conn: fn(), once=True)
    else:
        fn()

if TYPE_CHECKING:
    from ..accountability import Accountability
    from ..kernel import Transom
    from ..schema.model import Collection


def _as_query(query: Query | dict[str, Any] | None) -> Query:
    if query is None:
        return Query()
    if isinstance(query, Query):
        return query
    return parse_query_dict(query)


class ItemsService:
    """Read and write the items of one collection as one caller.

    :param accountability: the caller; ``None`` acts as the system (no permission checks),
        as Directus's services do for internal use.
    :param connection: join an existing transaction instead of opening one.
    :param emit_events: run filter hooks and queue action hooks (False for internal writes).
    """

    def __init__(self, cms: Transom, collection: str,
                 accountability: Accountability | None = None,
                 connection: sa.Connection | None = None, emit_events: bool = True) -> None:
        self.cms = cms
        self.collection = collection
        self.accountability = accountability
        self.connection = connection
        self.emit_events = emit_events
        self.schema = cms.schema
        self.permissions = cms.access.permissions(accountability)

    # -- plumbing -----------------------------------------------------------------------
    def _context(self) -> CompileContext:
        return CompileContext(self.schema, self.cms.dialect, self.permissions,
                              self.accountability, self.cms.config,
                              load_dynamic=self._load_dynamic)

    def _load_dynamic(self, kind: str, paths: set[str]) -> dict[str, Any] | None:
        return load_dynamic(self.cms, self.accountability, kind, paths, self.connection)

    def _read_conn(self) -> AbstractContextManager[sa.Connection]:
        if self.connection is not None:
            return nullcontext(self.connection)  # the caller's: left open
        # user collections may be read on a replica; system rows (users, access,
        # settings) always come from the primary, as the kernel reads them
        return self.cms.connect(replica=not self.collection.startswith("directus_"))

    @contextmanager
    def _mutation(self) -> Iterator[Mutation]:
        """A transaction (or the caller's) with events fired only after commit."""
        pending = PendingEvents(self.cms.events)
        if self.connection is not None:
            yield Mutation(self.cms, self.connection, self.schema, self.accountability,
                           self.permissions, pending, self.emit_events, self._load_dynamic)
            pending.flush()  # the caller owns the transaction; it committed if we got here
            if self._change_topic() is not None:
                after_commit(self.connection, self._after_write)
            return
        with self.cms.begin() as conn:
            mutation = Mutation(self.cms, conn, self.schema, self.accountability,
                                self.permissions, pending, self.emit_events,
                                self._load_dynamic)
            try:
                yield mutation
            except BaseException:
                pending.discard()
                raise
        pending.flush()
        self._after_write()

    def _change_topic(self) -> str | None:
        """The messenger topic a write to this collection invalidates, if any."""
        if self.collection in ACCESS_COLLECTIONS:
            return "access"
        if self.collection in SCHEMA_META_COLLECTIONS:
            return "schema"
        if self.collection.startswith("directus_"):
            return SYSTEM_TOPICS.get(self.collection)
        return None

    def _after_write(self) -> None:
        """Tell every worker and instance what this committed write invalidates."""
        topic = self._change_topic()
        if topic == "access":
            self.cms.access_changed()
        elif topic == "schema":
            self.cms.schema_changed()
        elif topic is not None:
            self.cms.messenger.publish(topic, {"collection": self.collection})

    def coll(self) -> Collection:
        coll = self.schema.get(self.collection)
        if coll is None or coll.table is None:
            raise ForbiddenError.collection(self.collection)
        return coll

    def _typed_key(self, key: Any) -> Any:
        coll = self.coll()
        if coll.primary_key is None:
            raise ForbiddenError()
        try:
            return to_db(coll.pk_field.type, key)
        except ValueError_:
            raise ForbiddenError() from None  # a malformed key is a 403, as for a missing one

    # -- reads --------------------------------------------------------------------------
    def read_by_query(self, query: Query | dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self._read_filtered(self._filter_query(_as_query(query)))

    def _read_filtered(self, query: Query) -> list[dict[str, Any]]:
        """A read whose ``items.query`` filters have run."""
        ctx = self._context()
        coll = ctx.collection(self.collection)
        self.permissions.require(self.collection, "read")
        with self._read_conn() as conn:
            reader = Reader(ctx, conn)
            if query.aggregate or query.group:
                return run_aggregate(reader, self.collection, query)
            key = self._plan_key(query)
            plan = self.cms.plans.get(key) if key is not None else None
            if plan is None:
                plan = reader.plan(build_tree(ctx, coll, query.fields, query), query)
                if key is not None:
                    self.cms.plans.put(key, plan)
            items = reader.run(plan)
        items = self._filter_read(query, items)
        self._emit_read(query, items)
        return items

    def read_page(self, query: Query | dict[str, Any]) -> tuple[list[dict[str, Any]],
                                                                str | None]:
        """One keyset page (``keyset``/``after``) and the cursor of the next one (None at
        the end); see :mod:`transom.compiler.keyset`."""
        query = _as_query(query)
        page, order, extra = keyset_query(self.coll(), query)
        items = self.read_by_query(page)
        default, maximum = limit_settings(self.cms.config)
        limit = default if page.limit is None else page.limit
        if maximum >= 0 and (limit < 0 or limit > maximum):
            limit = maximum
        cursor = next_cursor(order, items, limit)
        for item in items:
            for name in extra:
                item.pop(name, None)
        return items, cursor

    def stream_by_query(self, query: Query | dict[str, Any] | None = None,
                        chunk_size: int = STREAM_CHUNK) -> Iterator[list[dict[str, Any]]]:
        """The items of ``query`` in chunks of at most ``chunk_size``, read through a
        server-side cursor (PostgreSQL, MySQL; SQLite's cursor is lazy anyway), so memory
        stays bounded whatever ``limit=-1`` selects. Relations are fetched per chunk on a
        second connection (an unbuffered MySQL cursor allows no other statement meanwhile),
        so the statements grow with the chunks, not the rows. The ``items.read`` filter
        and action run once per chunk."""
        query = self._filter_query(_as_query(query))
        ctx = self._context()
        coll = ctx.collection(self.collection)
        self.permissions.require(self.collection, "read")
        if query.aggregate or query.group:
            yield self.read_by_query(query)
            return
        with self._stream_conns() as (conn, rel_conn):
            plan = Reader(ctx, conn).plan(build_tree(ctx, coll, query.fields, query), query)
            result = conn.execution_options(stream_results=True).execute(plan.stmt)
            reader = Reader(ctx, rel_conn)
            for rows in result.partitions(chunk_size):
                items = reader.shape(plan, rows)
                items = self._filter_read(query, items)
                self._emit_read(query, items)
                yield items

    @contextmanager
    def _stream_conns(self) -> Iterator[tuple[sa.Connection, sa.Connection]]:
        if self.connection is not None:
            if self.cms.dialect.name == "mysql":
                yield self.connection.execution_options(stream_results=False), \
                    self.connection
            else:
                yield self.connection, self.connection
            return
        # the primary: PostgreSQL's read engine is autocommit, and a server-side cursor
        # lives inside a transaction
        with self.cms.engine.connect() as conn, self.cms.engine.connect() as rel_conn:
            yield conn, rel_conn

    def _plan_key(self, query: Query) -> Any:
        """What a compiled read depends on: the query, the caller's rules (their values
        too, so per user when a rule uses $CURRENT_* variables) and the schema version.
        None when the query uses a dynamic variable ($NOW changes every call)."""
        if query.filter and has_dynamic_variables(query.filter):
            return None
        acc = self.accountability
        if acc is None or acc.admin:
            who: Any = "admin"
        else:
            if self.cms.hook.permission_rules.get_hookimpls():
                return None  # plugin rules may change at any time: compile every read
            if self.permissions.reads_user_data:
                return None  # $CURRENT_USER.<path> reads rows that may change meanwhile
            who = (acc.permission_key(), acc.user, acc.role, self.permissions.digest)
        return (self.collection, query.cache_key(), who, self.schema.version)

    def _filter_query(self, query: Query) -> Query:
        """The ``items.query`` filter: hooks may change the query before it runs."""
        if not self.emit_events:
            return query
        names = self.cms.event_names(self.collection, "query")
        if not self.cms.events.has_filters(names):
            return query
        changed = self.cms.events.filter(
            names, query, {"collection": self.collection},
            EventContext(self.accountability, self.connection, self.schema, self.cms))
        return _as_query(changed)

    def _filter_read(self, query: Query, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The ``items.read`` filter (Directus's name): hooks may reshape the items read
        (i18n folds a translation into each) before any answer, export or resolver sees
        them."""
        if not self.emit_events:
            return items
        names = self.cms.event_names(self.collection, "read")
        if not self.cms.events.has_filters(names):
            return items
        changed = self.cms.events.filter(
            names, items, {"collection": self.collection, "query": query},
            EventContext(self.accountability, self.connection, self.schema, self.cms))
        return changed if isinstance(changed, list) else items

    def _emit_read(self, query: Query, items: list[dict[str, Any]]) -> None:
        names = self.cms.event_names(self.collection, "read")
        if self.emit_events and self.cms.events.matching_listeners(names):
            self.cms.events.dispatch(names, {"collection": self.collection, "query": query,
                                             "payload": items},
                                     EventContext(self.accountability, None, self.schema,
                                                  self.cms))

    def read_one(self, key: Any, query: Query | dict[str, Any] | None = None) -> dict[str, Any]:
        """One item, or 403 when it is missing or hidden (the two look the same)."""
        query = _as_query(query)
        coll = self.coll()
        pk = coll.primary_key
        typed = self._typed_key(key)
        flt = {pk: {"_eq": typed}}
        merged = {"_and": [query.filter, flt]} if query.filter else flt
        one = query.copy(filter=merged, limit=1, offset=None, page=None, aggregate=None,
                         group=None)
        filtered = self._filter_query(one)  # hooks see the key filter, as in Directus
        items = None
        if filtered is one:  # no hook changed the query: the shared plan answers it
            items = self._read_one_bound(coll, typed, query, one)
        if items is None:
            items = self._read_filtered(filtered)
        if not items:
            raise ForbiddenError()
        return items[0]

    def _read_one_bound(self, coll: Collection, typed: Any, query: Query, one: Query
                        ) -> list[dict[str, Any]] | None:
        """``read_one`` through a plan whose key is a bound parameter, cached per
        collection, query shape (without the key), caller's rules and schema version, so
        that reading many ids compiles one plan, not one per id (the filter values are part
        of ``read_by_query``'s plan key). None when that plan cannot be used: an uncachable
        read, or a key type whose comparison the compiler writes specially (SQLite instants,
        decimals). ``one`` is the query with the key filter, which the read hooks see."""
        if coll.pk_field.type not in BOUND_KEY_TYPES:
            return None
        shape = query.copy(limit=1, offset=None, page=None, aggregate=None, group=None)
        key = self._plan_key(shape)
        if key is None:
            return None
        try:
            value = to_filter_value(coll.pk_field.type, typed)
        except ValueError_:
            raise ForbiddenError() from None
        key = ("read_one", *key)
        ctx = self._context()
        self.permissions.require(self.collection, "read")
        with self._read_conn() as conn:
            reader = Reader(ctx, conn)
            plan = self.cms.plans.get(key)
            if plan is None:
                plan = reader.plan(build_tree(ctx, ctx.collection(self.collection),
                                              shape.fields, shape), shape)
                pk_col = plan.stmt.selected_columns[plan.index["__pk"]].element
                plan = dataclasses.replace(plan, stmt=plan.stmt.where(
                    pk_col == sa.bindparam(ONE_KEY_PARAM, type_=pk_col.type)),
                    key_param=ONE_KEY_PARAM)
                self.cms.plans.put(key, plan)
            items = reader.run(plan, value)
        items = self._filter_read(one, items)
        self._emit_read(one, items)
        return items

    def read_many(self, keys: list[Any], query: Query | dict[str, Any] | None = None
                  ) -> list[dict[str, Any]]:
        query = _as_query(query)
        pk = self.coll().primary_key
        typed = [self._typed_key(k) for k in keys]
        flt = {pk: {"_in": typed}}
        merged = {"_and": [query.filter, flt]} if query.filter else flt
        return self.read_by_query(query.copy(filter=merged, limit=-1))

    def read_singleton(self, query: Query | dict[str, Any] | None = None) -> dict[str, Any]:
        """The one item of a singleton, or its defaults when none is stored yet."""
        query = _as_query(query)
        items = self.read_by_query(query.copy(limit=1))
        if items:
            return items[0]
        coll = self.coll()
        access = self.permissions.require(self.collection, "read")
        out: dict[str, Any] = {}
        for name, f in coll.fields.items():
            if f.is_alias or not access.field_allowed(name):
                continue
            out[name] = f.default if not isinstance(f.default, str) or not f.default.endswith(
                ")") else None
        return out

    def meta(self, query: Query | dict[str, Any] | None) -> dict[str, Any]:
        """``total_count`` / ``filter_count`` (both under the caller's permissions), in one
        statement: two scalar subqueries when both are asked; one count when the query
        has no filter (then they are equal). With
        ``estimate`` and a dialect that keeps statistics, the planner's estimate instead."""
        query = _as_query(query)
        ctx = self._context()
        coll = ctx.collection(self.collection)
        self.permissions.require(self.collection, "read")
        kinds = [k for k in query.meta if k in ("total_count", "filter_count")]
        if not kinds:
            return {}
        with self._read_conn() as conn:
            reader = Reader(ctx, conn)
            table = ctx.alias(coll)
            base = reader.where(coll, table, query, with_query=False)
            narrowed = bool(query.filter or query.search)
            full = reader.where(coll, table, query) if narrowed else base
            counts = self._estimates(conn, table, base, full, kinds) if query.estimate \
                else None
            if counts is None:
                counts = self._counts(conn, table, base, full, kinds, narrowed)
        return {kind: counts[kind] for kind in query.meta if kind in counts}

    @staticmethod
    def _counts(conn: sa.Connection, table: Any, base: Any, full: Any, kinds: list[str],
                narrowed: bool) -> dict[str, int]:
        def count(cond: Any) -> Any:
            stmt = sa.select(sa.func.count()).select_from(table)
            # no WHERE at all when nothing narrows: SQLite then counts from the b-tree
            return stmt if cond is sa.true() else stmt.where(cond)

        if not narrowed or kinds == ["total_count"]:
            total = int(conn.execute(count(base)).scalar_one())
            return {"total_count": total, "filter_count": total}
        if kinds == ["filter_count"]:
            return {"filter_count": int(conn.execute(count(full)).scalar_one())}
        # two scalar subqueries in one statement: one round trip, and each count keeps
        # its own plan (a CASE count in one scan could not use an index on the filter)
        row = conn.execute(sa.select(count(base).scalar_subquery(),
                                     count(full).scalar_subquery())).one()
        return {"total_count": int(row[0]), "filter_count": int(row[1])}

    def _estimates(self, conn: sa.Connection, table: Any, base: Any, full: Any,
                   kinds: list[str]) -> dict[str, int] | None:
        """The dialect's estimates (``estimate_count``), None where it has none."""
        estimate = getattr(self.cms.dialect, "estimate_count", None)
        if estimate is None:
            return None
        out: dict[str, int] = {}
        for kind, cond in (("total_count", base), ("filter_count", full)):
            if kind in kinds:
                value = estimate(conn, sa.select(sa.literal(1)).select_from(table).where(cond))
                if value is None:
                    return None
                out[kind] = value
        return out

    def keys_by_query(self, query: Query | dict[str, Any], action: str = "read") -> list[Any]:
        """Primary keys matching ``query`` under the permissions of ``action``."""
        query = _as_query(query)
        ctx = self._context()
        coll = ctx.collection(self.collection)
        access = self.permissions.require(self.collection, action)
        if action != "read":
            refuse_view(coll)  # a keyless table has no keys to change
        assert coll.primary_key is not None
        with self._read_conn() as conn:
            reader = Reader(ctx, conn)
            table = ctx.alias(coll)
            parts = [reader.where(coll, table, query.copy(search=query.search))]
            row_filter = access.row_filter()
            if action != "read" and row_filter is not None:
                parts.append(rule_condition(ctx, coll, table, row_filter))
            stmt = sa.select(table.c[coll.primary_key]).where(*parts)
            limit, offset = reader.limit_offset(query)
            # no default limit here: only the one the query asks for
            stmt = paginate(stmt, limit if query.limit is not None else None, offset)
            return [r[0] for r in conn.execute(stmt)]

    # -- writes -------------------------------------------------------------------------
    def create_one(self, data: dict[str, Any]) -> Any:
        return self.create_many([data])[0]

    def create_many(self, items: list[dict[str, Any]]) -> list[Any]:
        if not isinstance(items, list):
            raise InvalidPayloadError("Payload must be an object or an array of objects")
        self.permissions.require(self.collection, "create")
        with self._mutation() as m:
            return [m.create(self.collection, item) for item in items]

    def _check_access(self, m: Mutation, action: str, keys: list[Any]) -> None:
        """Every key must exist under the action's row rules, else the whole request is 403
        (admins skip this, as in Directus)."""
        access = self.permissions.require(self.collection, action)
        if self.permissions.bypass:
            return
        coll = self.coll()
        flt = access.row_filter()
        ctx = self._context()
        table = ctx.alias(coll)
        assert coll.primary_key is not None
        cond = table.c[coll.primary_key].in_(keys)
        if flt is not None:
            cond = sa.and_(cond, rule_condition(ctx, coll, table, flt))
        found = m.conn.execute(sa.select(sa.func.count()).select_from(table).where(
            cond)).scalar_one()
        if found != len(set(keys)):
            raise ForbiddenError.action(action, self.collection)

    def update_one(self, key: Any, data: dict[str, Any]) -> Any:
        return self.update_many([key], data)[0]

    def update_many(self, keys: list[Any], data: dict[str, Any]) -> list[Any]:
        if not isinstance(data, dict):
            raise InvalidPayloadError('"data" must be an object')
        typed = [self._typed_key(k) for k in keys]
        with self._mutation() as m:
            self._check_access(m, "update", typed)
            return [m.update(self.collection, k, data) for k in typed]

    def update_batch(self, items: list[dict[str, Any]]) -> list[Any]:
        """Each item carries its own primary key and changes."""
        refuse_view(self.coll())
        pk = self.coll().primary_key
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise InvalidPayloadError("Batch update needs an array of objects")
        keys = []
        for item in items:
            if item.get(pk) is None:
                raise InvalidPayloadError(f'"{pk}" is required in every item of a batch update')
            keys.append(self._typed_key(item[pk]))
        with self._mutation() as m:
            self._check_access(m, "update", keys)
            return [m.update(self.collection, k, {f: v for f, v in item.items() if f != pk})
                    for k, item in zip(keys, items, strict=True)]

    def update_by_query(self, query: Query | dict[str, Any], data: dict[str, Any]) -> list[Any]:
        keys = self.keys_by_query(query, "update")
        return self.update_many(keys, data) if keys else []

    def upsert_singleton(self, data: dict[str, Any]) -> Any:
        coll = self.coll()
        with self._read_conn() as conn:
            assert coll.table is not None and coll.primary_key is not None
            row = conn.execute(sa.select(coll.table.c[coll.primary_key]).limit(1)).first()
        if row is None:
            return self.create_one(data)
        return self.update_one(row[0], data)

    def delete_one(self, key: Any) -> Any:
        return self.delete_many([key])[0]

    def delete_many(self, keys: list[Any]) -> list[Any]:
        typed = [self._typed_key(k) for k in keys]
        with self._mutation() as m:
            self._check_access(m, "delete", typed)
            return m.delete(self.collection, typed)

    def delete_by_query(self, query: Query | dict[str, Any]) -> list[Any]:
        keys = self.keys_by_query(query, "delete")
        return self.delete_many(keys) if keys else []


def load_dynamic(cms: Transom, accountability: Accountability | None, kind: str,
                 paths: set[str], connection: sa.Connection | None = None
                 ) -> dict[str, Any] | None:
    """The caller's ``directus_users`` (``kind="user"``) or ``directus_roles`` row with
    ``paths`` (dotted paths follow relations: ``role.name``, ``avatar.filesize``), for
    ``$CURRENT_USER.<path>`` / ``$CURRENT_ROLE.<path>``. Read as the system (Directus
    fetches them unrestricted) and cached on the accountability, so one request reads each
    row once (again only when it needs a path not read yet)."""
    if accountability is None:
        return None
    key = accountability.user if kind == "user" else accountability.role
    collection = "directus_users" if kind == "user" else "directus_roles"
    if key is None or cms.schema.get(collection) is None:
        return None
    cache = accountability.dynamic
    hit = cache.get(kind)
    if hit is not None and paths <= hit[0]:
        return hit[1]
    wanted = set(paths) | (hit[0] if hit is not None else set())
    coll = cms.schema.get(collection)
    fields = sorted({p for p in wanted if p.split(".", 1)[0] in coll.fields} | {"id"})
    try:
        row: dict[str, Any] | None = ItemsService(
            cms, collection, None, connection, emit_events=False).read_one(
                key, {"fields": fields, "limit": 1})
    except ForbiddenError:  # no such row (deleted meanwhile): the variables read null
        row = None
    cache[kind] = (wanted, row)
    return row


def item_exists(cms: Transom, accountability: Accountability | None, collection: str,
                key: Any, row_filter: dict[str, Any] | None) -> bool:
    """Whether the item ``key`` exists and matches ``row_filter`` (a permission rule's
    filter), read as the caller: the probe behind ``/permissions/me/:collection/:pk``."""
    coll = cms.schema.get(collection)
    if coll is None:
        return False
    try:
        ItemsService(cms, collection, accountability).read_one(
            key, {"fields": [coll.primary_key], "filter": row_filter})
    except Exception:  # noqa: BLE001 - missing or hidden: no access
        return False
    return True


def service_error_is_forbidden(exc: Exception) -> bool:
    return isinstance(exc, TransomError) and exc.code == "FORBIDDEN"
