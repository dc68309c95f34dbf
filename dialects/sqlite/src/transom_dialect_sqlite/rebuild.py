"""SQLite's table rebuild: how a column's type, size, nullability or default changes on a
database that cannot ``ALTER COLUMN``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from transom.errors import InvalidPayloadError

from .decimals import TEXT_DECIMAL, DecimalText
from .introspect import split_declared


def _exact_decimals(conn: sa.Connection, name: str) -> dict[str, DecimalText]:
    """The ``DECIMAL_TEXT(p, s)`` columns of a table, by name: SQLAlchemy reflects them as
    ``TEXT(p, collation=s)``, which is neither the type nor valid DDL."""
    out: dict[str, DecimalText] = {}
    for row in conn.execute(sa.text("SELECT name, type FROM pragma_table_info(:n)"),
                            {"n": name}):
        base, precision, scale = split_declared(row[1])
        if base == TEXT_DECIMAL:
            out[row[0]] = DecimalText(precision or 10, 5 if scale is None else scale)
    return out


def rebuild_table(conn: sa.Connection, name: str, column: sa.Column[Any]) -> None:
    """Replace one column's definition the way SQLite documents it ("making other kinds of
    table schema changes"): create the new table, copy the rows, drop the old table, rename,
    then recreate the indexes and triggers and check the foreign keys.

    Must run inside a transaction opened with ``foreign_keys=OFF`` (see
    :meth:`SQLiteDialect.schema_change_connection`), so dropping the old table neither
    cascades to nor blocks on the tables that reference it; their ``REFERENCES`` clauses
    name the table, which exists again after the rename. Tables Transom cannot rebuild faithfully
    (``WITHOUT ROWID``, generated columns) are refused.
    """
    insp = sa.inspect(conn)
    create_sql = conn.execute(sa.text(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :n"), {"n": name}
    ).scalar_one()
    if "WITHOUT ROWID" in create_sql.upper():
        raise InvalidPayloadError(f'Table "{name}" is WITHOUT ROWID; Transom cannot rebuild it')
    extras = [r[0] for r in conn.execute(sa.text(
        "SELECT sql FROM sqlite_master WHERE tbl_name = :n AND type IN ('index', 'trigger') "
        "AND sql IS NOT NULL ORDER BY type"), {"n": name})]
    temp = f"_transom_rebuild_{name}"
    md = sa.MetaData()
    columns: list[sa.Column[Any]] = []
    declared = _exact_decimals(conn, name)
    for info in insp.get_columns(name):
        if info.get("computed"):
            raise InvalidPayloadError(
                f'Table "{name}" has generated columns; Transom cannot rebuild it')
        if info["name"] == column.name:
            columns.append(sa.Column(column.name, column.type, nullable=column.nullable,
                                     server_default=column.server_default,
                                     comment=column.comment))
            continue
        default = info.get("default")
        columns.append(sa.Column(info["name"], declared.get(info["name"]) or info["type"],
                                 nullable=info["nullable"],
                                 server_default=sa.text(default) if default is not None
                                 else None))
    pk = insp.get_pk_constraint(name)
    constraints: list[Any] = []
    if pk.get("constrained_columns"):
        constraints.append(sa.PrimaryKeyConstraint(*pk["constrained_columns"],
                                                   name=pk.get("name")))
    for fk in insp.get_foreign_keys(name):
        referred = fk["referred_table"]
        if referred not in md.tables and referred != temp:
            sa.Table(referred, md, *(sa.Column(c, sa.Integer()) for c in fk["referred_columns"]))
        options = {k: v for k, v in (fk.get("options") or {}).items()
                   if k in ("ondelete", "onupdate", "deferrable", "initially")}
        constraints.append(sa.ForeignKeyConstraint(
            fk["constrained_columns"], [f"{referred}.{c}" for c in fk["referred_columns"]],
            name=fk.get("name"), **options))
    for uc in insp.get_unique_constraints(name):
        constraints.append(sa.UniqueConstraint(*uc["column_names"], name=uc.get("name")))
    for ck in insp.get_check_constraints(name):
        constraints.append(sa.CheckConstraint(sa.text(ck["sqltext"]), name=ck.get("name")))
    kwargs: dict[str, Any] = {}
    sequence = None
    if "AUTOINCREMENT" in create_sql.upper():
        kwargs["sqlite_autoincrement"] = True
        sequence = conn.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = :n"),
                                {"n": name}).scalar()
    new = sa.Table(temp, md, *columns, *constraints, **kwargs)
    old = sa.Table(name, sa.MetaData(), *(sa.Column(c.name) for c in columns))
    names = [c.name for c in columns]
    new.create(conn)
    conn.execute(new.insert().from_select(names, sa.select(*(old.c[n] for n in names))))
    preparer = conn.dialect.identifier_preparer
    conn.exec_driver_sql(f"DROP TABLE {preparer.quote(name)}")
    conn.exec_driver_sql("PRAGMA legacy_alter_table=ON")
    try:
        conn.exec_driver_sql(
            f"ALTER TABLE {preparer.quote(temp)} RENAME TO {preparer.quote(name)}")
    finally:
        conn.exec_driver_sql("PRAGMA legacy_alter_table=OFF")
    for sql in extras:
        conn.exec_driver_sql(sql)  # the database's own DDL for the old table's objects
    if sequence is not None:  # AUTOINCREMENT never reuses a key, even a deleted one
        conn.execute(sa.text("UPDATE sqlite_sequence SET seq = :s WHERE name = :n"),
                     {"s": sequence, "n": name})
    insp = sa.inspect(conn)
    children = [t for t in insp.get_table_names() if t != name and any(
        fk["referred_table"] == name for fk in insp.get_foreign_keys(t))]
    for table in (name, *children):
        bad = conn.exec_driver_sql(f"PRAGMA foreign_key_check({preparer.quote(table)})"
                                   ).first()
        if bad is not None:
            raise InvalidPayloadError(
                f'The change would break a foreign key of table "{table}"')
