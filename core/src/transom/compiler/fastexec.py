"""Run a cached read plan on the driver's cursor: SQLAlchemy compiles, the DBAPI executes.

A cached plan (``Transom.plans``) is executed again and again with the same statement, so
everything SQLAlchemy's ``Connection.execute`` works out per call (compiled-cache lookup,
parameter extraction and processing, an execution context, a ``CursorResult`` with its
metadata, ``Row`` objects) comes out the same every time. Here it is worked out once per
plan and dialect: the SQL string, the processed parameters in the driver's order, and the
result processors of the columns that have one. A call is then one ``cursor.execute`` and
``fetchall``: 51 against 118 us for a page of 25 rows on SQLite (bench/README.md,
docs/architecture.md).

What SQLAlchemy does on the way is kept: ``before_cursor_execute``/``after_cursor_execute``
listeners are called (with ``context=None``: there is none), and a driver error goes through
the connection's own error handling (``handle_error`` listeners, disconnect detection, the
``DBAPIError`` wrapping every caller expects). A statement that needs per-call rendering
(``expanding`` or ``literal_execute`` parameters, a schema translate map) is left to
``Connection.execute``, and so is a connection on which SQLAlchemy would itself begin a
transaction first (SQLite's write engine outside one, see :func:`usable`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

#: a plan prepared for a dialect that cannot use this path
_UNUSABLE = object()


class Prepared:
    """A statement compiled once for one dialect, with its parameters processed."""

    __slots__ = ("sql", "params", "key_pos", "key_proc", "procs", "positional", "dbapi_error",
                 "types")

    def __init__(self, sql: str, params: Any, key_pos: Any, key_proc: Any,
                 positional: bool, dbapi_error: type[BaseException], types: list[Any]) -> None:
        self.sql = sql
        self.types = types
        self.params = params
        self.key_pos = key_pos  # index (positional) or name of the per-call key parameter
        self.key_proc = key_proc
        self.positional = positional
        self.procs: list[tuple[int, Any]] | None = None  # set at the first execution
        self.dbapi_error = dbapi_error


def prepare(stmt: Any, dialect: sa.Dialect, key_param: str | None = None) -> Prepared | None:
    """``stmt`` compiled for ``dialect``, or None when it must go through SQLAlchemy each
    time. ``key_param``: the one bound parameter whose value each call supplies."""
    compiled = stmt.compile(dialect=dialect)
    if (compiled.literal_execute_params or compiled.post_compile_params
            or compiled.schema_translate_map or not compiled._ordered_columns
            or compiled._textual_ordered_columns):
        return None
    values = compiled.construct_params({key_param: None} if key_param else None,
                                       escape_names=False)
    procs = compiled._bind_processors

    def processed(name: str) -> Any:
        value = values[name]
        proc = procs.get(name)
        return proc(value) if proc is not None and name != key_param else value

    key_proc = procs.get(key_param) if key_param else None
    if compiled.positional:
        order = list(compiled.positiontup or ())
        params: Any = [processed(name) for name in order]
        key_pos: Any = order.index(key_param) if key_param in order else None
        if key_param and key_pos is None:
            return None
        params = dialect.execute_sequence_format(params) if key_pos is None else params
    else:
        escaped = compiled.escaped_bind_names or {}
        params = {escaped.get(name, name): processed(name) for name in values}
        key_pos = escaped.get(key_param, key_param) if key_param else None
    return Prepared(compiled.string, params, key_pos, key_proc, compiled.positional,
                    dialect.loaded_dbapi.Error, [col[3] for col in compiled._result_columns])


def usable(conn: sa.Connection, read_options: dict[str, Any]) -> bool:
    """Whether a statement may skip SQLAlchemy's own begin on ``conn``: it is in a
    transaction already, or it is a read connection (the dialect's ``read_options``:
    autocommit, or SQLite's no-BEGIN reads), on which SQLAlchemy would begin none."""
    if conn.in_transaction():
        return True
    opts = conn.get_execution_options()
    return all(opts.get(k) == v for k, v in read_options.items())


def prepared_for(cache: dict[Any, Any], stmt: Any, dialect: sa.Dialect,
                 key_param: str | None = None) -> Prepared | None:
    """The plan's :class:`Prepared` for ``dialect`` from ``cache`` (made on first use)."""
    found = cache.get(dialect)
    if found is None:
        found = prepare(stmt, dialect, key_param) or _UNUSABLE
        cache[dialect] = found
    return None if found is _UNUSABLE else found


def fetch_all(conn: sa.Connection, prep: Prepared, key: Any = None) -> list[Any]:
    """Execute ``prep`` on ``conn``'s driver connection and return its rows (tuples, or
    lists where a column's result processor converted a value); ``key``: the value of the
    plan's key parameter."""
    params = prep.params
    if prep.key_pos is not None:
        value = prep.key_proc(key) if prep.key_proc is not None else key
        if prep.positional:
            params = list(params)
            params[prep.key_pos] = value
            params = conn.dialect.execute_sequence_format(params)
        else:
            params = dict(params)
            params[prep.key_pos] = value
    sql = prep.sql
    dispatch = conn.dispatch
    cursor = conn.connection.cursor()
    try:
        try:
            for fn in dispatch.before_cursor_execute:
                sql, params = fn(conn, cursor, sql, params, None, False)
            cursor.execute(sql, params)
            for fn in dispatch.after_cursor_execute:
                fn(conn, cursor, sql, params, None, False)
            rows = cursor.fetchall()
            if prep.procs is None:
                prep.procs = _result_processors(conn.dialect, prep.types,
                                                cursor.description)
        except prep.dbapi_error as exc:
            # SQLAlchemy's own handling: handle_error listeners, invalidation, wrapping
            conn._handle_dbapi_exception(exc, sql, params, cursor, None)
            raise  # not reached: the call above always raises
    finally:
        cursor.close()
    return _processed(rows, prep.procs)


def execute_rows(conn: sa.Connection, stmt: Any) -> list[Any]:
    """The rows of a statement built per call (a relation's ``IN`` over the parents' keys):
    SQLAlchemy compiles (its compiled cache), binds and executes it, and the driver's rows
    are read off ``CursorResult.cursor`` with the columns' result processors applied here,
    without a ``Row`` per row: 20,000 rows 21.5 -> 7.5 ms on SQLite (bench/README.md)."""
    result = conn.execute(stmt)
    try:
        cursor = result.cursor
        rows = cursor.fetchall()
        procs = _result_processors(conn.dialect, [c.type for c in stmt.selected_columns],
                                   cursor.description)
    finally:
        result.close()
    return _processed(rows, procs)


def _processed(rows: list[Any], procs: list[tuple[int, Any]] | None) -> list[Any]:
    """``rows`` with the result processors applied (lists where one converted a value)."""
    if not procs:
        return rows
    out = []
    for row in rows:
        values = list(row)
        for pos, proc in procs:
            values[pos] = proc(values[pos])
        out.append(values)
    return out


def _result_processors(dialect: sa.Dialect, types: list[Any],
                       description: Any) -> list[tuple[int, Any]]:
    """``(position, processor)`` of the result columns whose type converts driver values,
    as ``CursorResult`` would apply them."""
    out = []
    for pos, type_ in enumerate(types):
        coltype = description[pos][1] if description and pos < len(description) else None
        proc = type_._cached_result_processor(dialect, coltype)
        if proc is not None:
            out.append((pos, proc))
    return out

