"""The system tables, their migrations and their built-in metadata, on every backend."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from transom.system import collections as sysmeta
from transom.system.migrations import (
    CORE_MIGRATIONS,
    Migration,
    applied_versions,
    core_migrations,
    pending_migrations,
    run_migrations,
    sort_migrations,
)
from transom.system.tables import (
    CORE_SYSTEM_TABLES,
    SYSTEM_TABLES,
    UuidString,
    shared_system_metadata,
    system_metadata,
)
from transom.testing.databases import available_backends, fresh_database

BACKENDS = available_backends()
REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
PG_REFERENCE = REFERENCE / "directus11-system-schema-postgres.sql"
SQLITE_REFERENCE = REFERENCE / "directus11-system-schema-sqlite.sql"
CORE_VERSION = CORE_MIGRATIONS[0].version


def _engine(url: sa.URL) -> Engine:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _fk_on(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA foreign_keys=ON")

    return engine


@pytest.fixture(scope="module", params=BACKENDS)
def migrated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, list[str]]]:
    """One database per backend with the core migrations applied, shared by the module."""
    with fresh_database(request.param, tmp_path_factory.mktemp("sys")) as url:
        engine = _engine(url)
        try:
            applied = run_migrations(engine, core_migrations())
            yield engine, applied
        finally:
            engine.dispose()


# -- creation --------------------------------------------------------------------------------


def test_every_table_and_column_exists(migrated: tuple[Engine, list[str]]) -> None:
    engine, applied = migrated
    assert applied == [CORE_VERSION]
    md = system_metadata()
    insp = sa.inspect(engine)
    names = set(insp.get_table_names())
    assert set(SYSTEM_TABLES) <= names
    assert set(CORE_SYSTEM_TABLES) <= set(md.tables)
    for table in md.tables.values():
        columns = {c["name"]: c for c in insp.get_columns(table.name)}
        assert set(columns) == {c.name for c in table.columns}, table.name
        for col in table.columns:
            if not col.primary_key:
                assert columns[col.name]["nullable"] == col.nullable, (table.name, col.name)
        pk = insp.get_pk_constraint(table.name)["constrained_columns"]
        assert pk == [c.name for c in table.primary_key.columns], table.name
        fks = {
            (tuple(fk["constrained_columns"]), fk["referred_table"])
            for fk in insp.get_foreign_keys(table.name)
        }
        expected = {((fk.parent.name,), fk.column.table.name) for fk in table.foreign_keys}
        assert fks == expected, table.name
    users_unique = {
        tuple(u["column_names"]) for u in insp.get_unique_constraints("directus_users")
    } | {tuple(i["column_names"]) for i in insp.get_indexes("directus_users") if i["unique"]}
    assert {("email",), ("token",), ("external_identifier",)} <= users_unique


def test_second_run_applies_nothing(migrated: tuple[Engine, list[str]]) -> None:
    engine, _ = migrated
    assert run_migrations(engine, core_migrations()) == []
    with engine.connect() as conn:
        assert pending_migrations(conn, core_migrations()) == []
        assert applied_versions(conn) == {CORE_VERSION}
        table = system_metadata().tables["directus_migrations"]
        rows = conn.execute(sa.select(table)).mappings().all()
    assert len(rows) == 1
    assert rows[0]["version"] == CORE_VERSION
    assert rows[0]["name"] == CORE_MIGRATIONS[0].name
    assert rows[0]["timestamp"] is not None


# -- rows ------------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    """Naive datetimes (MySQL, SQLite) hold UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_access_rows_round_trip(migrated: tuple[Engine, list[str]]) -> None:
    engine, _ = migrated
    md = system_metadata()
    t = md.tables
    role_id, policy_id, user_id, access_id = (str(uuid.uuid4()) for _ in range(4))
    seen = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(t["directus_roles"].insert().values(id=role_id, name="Editors"))
        conn.execute(
            t["directus_policies"]
            .insert()
            .values(id=policy_id, name="Edit", ip_access="10.0.0.0/8,127.0.0.1", app_access=True)
        )
        conn.execute(
            t["directus_users"]
            .insert()
            .values(
                id=uuid.UUID(user_id),  # uuid.UUID objects are accepted too
                email=f"{user_id}@example.com",
                role=role_id,
                tags=["a", "b"],
                auth_data=None,
                last_access=seen,
                theme_light_overrides={"nested": {"x": 1}},
            )
        )
        conn.execute(
            t["directus_access"]
            .insert()
            .values(id=access_id, role=role_id, user=None, policy=policy_id, sort=1)
        )
        perm_id = conn.execute(
            t["directus_permissions"]
            .insert()
            .values(
                collection="articles",
                action="read",
                permissions={"status": {"_eq": "published"}},
                validation=None,
                fields="*",
                policy=policy_id,
            )
        ).inserted_primary_key[0]

    users, access, perms = t["directus_users"], t["directus_access"], t["directus_permissions"]
    with engine.connect() as conn:
        user = conn.execute(sa.select(users).where(users.c.id == user_id)).mappings().one()
        role = (
            conn.execute(sa.select(t["directus_roles"]).where(t["directus_roles"].c.id == role_id))
            .mappings()
            .one()
        )
        policy = (
            conn.execute(
                sa.select(t["directus_policies"]).where(t["directus_policies"].c.id == policy_id)
            )
            .mappings()
            .one()
        )
        acc = conn.execute(sa.select(access).where(access.c.id == access_id)).mappings().one()
        perm = conn.execute(sa.select(perms).where(perms.c.id == perm_id)).mappings().one()
        null_validation = conn.execute(
            sa.select(sa.func.count()).select_from(perms).where(perms.c.validation.is_(None))
        ).scalar()
        raw_id = conn.execute(
            sa.text("SELECT id FROM directus_users WHERE email = :e"),
            {"e": f"{user_id}@example.com"},
        ).scalar()

    assert isinstance(perm_id, int)
    assert user["id"] == user_id and user["role"] == role_id
    assert str(raw_id) == user_id  # dashed text form, as Directus writes it
    assert user["tags"] == ["a", "b"]
    assert user["auth_data"] is None
    assert user["theme_light_overrides"] == {"nested": {"x": 1}}
    assert _utc(user["last_access"]) == seen
    assert user["status"] == "active" and user["provider"] == "default"
    assert user["text_direction"] == "auto"
    assert user["email_notifications"] is True
    assert role["icon"] == "supervised_user_circle" and role["parent"] is None
    assert policy["app_access"] is True and policy["admin_access"] is False
    assert policy["enforce_tfa"] is False and policy["icon"] == "badge"
    assert policy["ip_access"] == "10.0.0.0/8,127.0.0.1"
    assert (acc["role"], acc["user"], acc["policy"], acc["sort"]) == (
        role_id,
        None,
        policy_id,
        1,
    )
    assert perm["permissions"] == {"status": {"_eq": "published"}}
    assert perm["validation"] is None and null_validation >= 1
    assert perm["fields"] == "*"


def test_server_defaults_give_default_settings(migrated: tuple[Engine, list[str]]) -> None:
    engine, _ = migrated
    settings = system_metadata().tables["directus_settings"]
    with engine.begin() as conn:
        pk = conn.execute(settings.insert().values(project_url=None)).inserted_primary_key[0]
        row = conn.execute(sa.select(settings).where(settings.c.id == pk)).mappings().one()
        conn.execute(settings.delete().where(settings.c.id == pk))
    expected = sysmeta.default_settings()
    for key, value in sysmeta.DEFAULT_SETTINGS_ROW.items():
        assert row[key] == value, key
    assert {k for k, v in row.items() if v is not None} == {"id", *sysmeta.DEFAULT_SETTINGS_ROW}
    assert set(expected) == set(row)


def test_foreign_keys_are_enforced(migrated: tuple[Engine, list[str]]) -> None:
    engine, _ = migrated
    t = system_metadata().tables
    users, roles, access = t["directus_users"], t["directus_roles"], t["directus_access"]
    role_id, user_id, policy_id = (str(uuid.uuid4()) for _ in range(3))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(users.insert().values(id=user_id, role=str(uuid.uuid4())))
    with engine.begin() as conn:
        conn.execute(roles.insert().values(id=role_id, name="Temp"))
        conn.execute(t["directus_policies"].insert().values(id=policy_id, name="Temp"))
        conn.execute(users.insert().values(id=user_id, role=role_id))
        conn.execute(access.insert().values(id=str(uuid.uuid4()), role=role_id, policy=policy_id))
        conn.execute(roles.delete().where(roles.c.id == role_id))
    with engine.connect() as conn:
        role = conn.execute(sa.select(users.c.role).where(users.c.id == user_id)).scalar_one()
        left = conn.execute(
            sa.select(sa.func.count()).select_from(access).where(access.c.policy == policy_id)
        ).scalar()
    assert role is None  # ON DELETE SET NULL
    assert left == 0  # ON DELETE CASCADE


# -- the migration runner --------------------------------------------------------------------


def _make_table(name: str) -> Any:
    def up(conn: Connection, dialect: Any) -> None:
        md = sa.MetaData()
        sa.Table(name, md, sa.Column("id", sa.Integer, primary_key=True))
        md.create_all(conn)

    return up


def _fail_after_table(name: str) -> Any:
    def up(conn: Connection, dialect: Any) -> None:
        _make_table(name)(conn, dialect)
        raise RuntimeError("boom")

    return up


@pytest.mark.parametrize("backend", BACKENDS)
def test_failed_migration_is_not_recorded(backend: str, tmp_path: Path) -> None:
    ok = Migration("20000101A", "first", _make_table("t_first"))
    bad = Migration("20000102A", "second", _fail_after_table("t_second"))
    later = Migration("20000103A", "third", _make_table("t_third"))
    with fresh_database(backend, tmp_path) as url:
        engine = _engine(url)
        try:
            with pytest.raises(RuntimeError, match="boom"):
                run_migrations(engine, [later, bad, ok])  # runs in version order
            with engine.connect() as conn:
                assert applied_versions(conn) == {"20000101A"}
                assert [m.version for m in pending_migrations(conn, [ok, bad, later])] == [
                    "20000102A",
                    "20000103A",
                ]
            tables = set(sa.inspect(engine).get_table_names())
            assert "t_first" in tables and "t_third" not in tables
            if engine.dialect.name == "postgresql":
                assert "t_second" not in tables  # transactional DDL: rolled back entirely
            fixed = Migration("20000102A", "second", _make_table("t_second_fixed"))
            assert run_migrations(engine, [ok, fixed, later]) == ["20000102A", "20000103A"]
            # A connection inside the caller's transaction: the caller commits.
            extra = Migration("20000104A", "fourth", _make_table("t_fourth"))
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
                assert run_migrations(conn, [ok, fixed, later, extra]) == ["20000104A"]
                conn.commit()
            with engine.connect() as conn:
                assert len(applied_versions(conn)) == 4
        finally:
            engine.dispose()


def test_duplicate_versions_are_rejected() -> None:
    a = Migration("20000101A", "a", _make_table("x"))
    b = Migration("20000101A", "b", _make_table("y"))
    with pytest.raises(ValueError, match="20000101A"):
        sort_migrations([a, b])
    with pytest.raises(ValueError):
        run_migrations(sa.create_engine("sqlite://"), [a, b])
    with pytest.raises(ValueError):
        sort_migrations([Migration("", "empty", _make_table("z"))])


def test_core_versions_cannot_collide_with_directus() -> None:
    for m in CORE_MIGRATIONS:
        assert re.fullmatch(r"\d{8}T", m.version), m.version


# -- a database made by Directus -------------------------------------------------------------


def _directus_statements(path: Path) -> list[str]:
    """The reference dump's statements, minus psql meta-commands and the search_path reset."""
    text = "\n".join(
        line
        for line in path.read_text().splitlines()
        if not line.startswith("\\") and "set_config('search_path'" not in line
    )
    return [
        s.strip()
        for s in text.split(";\n")
        if s.strip() and not s.strip().startswith("CREATE TABLE sqlite_sequence")
    ]


@pytest.mark.parametrize(
    ("backend", "dump"),
    [
        pytest.param(b, d, id=b)
        for b, d in (("sqlite", SQLITE_REFERENCE), ("postgres", PG_REFERENCE))
        if b in BACKENDS
    ],
)
def test_directus_made_database_is_left_alone(backend: str, dump: Path, tmp_path: Path) -> None:
    if not dump.exists():
        pytest.skip(f"{dump} not found")
    with fresh_database(backend, tmp_path) as url:
        engine = _engine(url)
        try:
            with engine.begin() as conn:
                for statement in _directus_statements(dump):
                    conn.exec_driver_sql(statement.rstrip(";"))
            insp = sa.inspect(engine)
            before = {t: len(insp.get_columns(t)) for t in insp.get_table_names()}
            assert run_migrations(engine, core_migrations()) == [CORE_VERSION]
            insp = sa.inspect(engine)
            after = {t: len(insp.get_columns(t)) for t in insp.get_table_names()}
            assert after == before
            # Transom's definitions read and write Directus's tables.
            t = system_metadata().tables
            role_id, user_id = str(uuid.uuid4()), str(uuid.uuid4())
            with engine.begin() as conn:
                conn.execute(t["directus_roles"].insert().values(id=role_id, name="R"))
                conn.execute(
                    t["directus_users"].insert().values(id=user_id, role=role_id, tags=["x"])
                )
                row = (
                    conn.execute(
                        sa.select(t["directus_users"]).where(t["directus_users"].c.role == role_id)
                    )
                    .mappings()
                    .one()
                )
            assert row["id"] == user_id and row["tags"] == ["x"] and row["status"] == "active"
        finally:
            engine.dispose()


# -- the definitions against Directus's own schema -------------------------------------------

_SQL_TYPES = {
    "uuid": "uuid",
    "integer": "integer",
    "bigint": "bigint",
    "text": "text",
    "json": "json",
    "boolean": "boolean",
    "timestamp with time zone": "timestamptz",
}


def _kind(type_: sa.types.TypeEngine[Any]) -> str:
    if isinstance(type_, UuidString):
        return "uuid"
    if isinstance(type_, sa.JSON):
        return "json"
    if isinstance(type_, sa.Boolean):
        return "boolean"
    if isinstance(type_, sa.DateTime):
        return "timestamptz" if type_.timezone else "timestamp"
    if isinstance(type_, sa.BigInteger):
        return "bigint"
    if isinstance(type_, sa.Integer):
        return "integer"
    if isinstance(type_, sa.Text):
        return "text"
    if isinstance(type_, sa.String):
        return f"varchar({type_.length})"
    return repr(type_)


def _parse_reference(sql: str) -> dict[str, Any]:
    tables: dict[str, dict[str, dict[str, Any]]] = {}
    for name, body in re.findall(r"CREATE TABLE public\.(\w+) \((.*?)\n\);", sql, re.S):
        cols: dict[str, dict[str, Any]] = {}
        for line in body.strip().splitlines():
            line = line.strip().rstrip(",")
            m = re.match(r'"?(\w+)"? (.+)$', line)
            assert m, line
            col, rest = m.groups()
            raw_type = re.split(r" DEFAULT | NOT NULL", rest)[0].strip()
            vm = re.fullmatch(r"character varying\((\d+)\)", raw_type)
            kind = f"varchar({vm.group(1)})" if vm else _SQL_TYPES[raw_type]
            default = re.search(r"DEFAULT (.+?)(?: NOT NULL)?$", rest)
            has_default = bool(default) and not default.group(1).startswith("NULL")
            cols[col] = {"nullable": "NOT NULL" not in rest, "type": kind, "default": has_default}
        tables[name] = cols
    fks = set()
    for table, cname, col, ref, refcol, ondelete in re.findall(
        r"ALTER TABLE ONLY public\.(\w+)\n    ADD CONSTRAINT (\w+) FOREIGN KEY \(\"?(\w+)\"?\) "
        r"REFERENCES public\.(\w+)\((\w+)\)(?: ON DELETE ([A-Z ]+))?;",
        sql,
    ):
        fks.add((table, cname, col, ref, refcol, ondelete or None))
    uniques = {
        (t, c, tuple(x.strip() for x in cols.split(",")))
        for t, c, cols in re.findall(
            r"ALTER TABLE ONLY public\.(\w+)\n    ADD CONSTRAINT (\w+) UNIQUE \(([^)]*)\);", sql
        )
    }
    indexes = set(
        re.findall(r"CREATE INDEX (\w+) ON public\.(\w+) USING btree \(\"?(\w+)\"?\);", sql)
    )
    sequences = set(re.findall(r"OWNED BY public\.(\w+)\.(\w+);", sql))
    return {
        "tables": tables,
        "fks": fks,
        "uniques": uniques,
        "indexes": indexes,
        "sequences": sequences,
    }


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    if not PG_REFERENCE.exists():
        pytest.skip(f"{PG_REFERENCE} not found")
    return _parse_reference(PG_REFERENCE.read_text())


def test_columns_match_directus(reference: dict[str, Any]) -> None:
    md = system_metadata()
    assert set(md.tables) == set(reference["tables"])
    for name, cols in reference["tables"].items():
        table = md.tables[name]
        assert [c.name for c in table.columns] == list(cols), name
        for col in table.columns:
            ref = cols[col.name]
            where = f"{name}.{col.name}"
            assert col.nullable == ref["nullable"], where
            assert _kind(col.type) == ref["type"], where
            is_serial = (name, col.name) in reference["sequences"]
            assert (col.server_default is not None) == (ref["default"] and not is_serial), where
            if is_serial:
                assert col.autoincrement is True and col.primary_key, where


def test_keys_match_directus(reference: dict[str, Any]) -> None:
    md = system_metadata()
    fks, uniques, indexes = set(), set(), set()
    for table in md.tables.values():
        for fk in table.foreign_keys:
            fks.add(
                (
                    table.name,
                    str(fk.constraint.name),
                    fk.parent.name,
                    fk.column.table.name,
                    fk.column.name,
                    fk.ondelete,
                )
            )
        for c in table.constraints:
            if isinstance(c, sa.UniqueConstraint):
                uniques.add((table.name, str(c.name), tuple(col.name for col in c.columns)))
        for ix in table.indexes:
            indexes.add((str(ix.name), table.name, ix.columns[0].name))
    assert fks == reference["fks"]
    assert uniques == reference["uniques"]
    assert indexes == reference["indexes"]


# -- built-in metadata -----------------------------------------------------------------------


def test_system_metadata_refers_to_real_columns() -> None:
    md = system_metadata()
    for collection, fields in sysmeta.SYSTEM_FIELD_META.items():
        assert collection in md.tables, collection
        for field, meta in fields.items():
            assert field in md.tables[collection].c, (collection, field)
            assert isinstance(meta["special"], list) and meta["special"]
    for collection, aliases in sysmeta.SYSTEM_ALIAS_FIELDS.items():
        for alias in aliases:
            assert alias not in md.tables[collection].c, (collection, alias)
            assert any(
                r["one_collection"] == collection and r["one_field"] == alias
                for r in sysmeta.SYSTEM_RELATIONS
            ), (collection, alias)
    keys = set()
    for r in sysmeta.SYSTEM_RELATIONS:
        assert r["many_field"] in md.tables[r["many_collection"]].c, r
        assert r["one_collection"] in md.tables, r
        if r["junction_field"]:
            assert r["junction_field"] in md.tables[r["many_collection"]].c, r
        key = (r["many_collection"], r["many_field"], r["one_field"])
        assert key not in keys, key
        keys.add(key)
    # Every foreign key of the tables is declared as a relation.
    declared = {(r["many_collection"], r["many_field"]) for r in sysmeta.SYSTEM_RELATIONS}
    for table in md.tables.values():
        for fk in table.foreign_keys:
            assert (table.name, fk.parent.name) in declared, (table.name, fk.parent.name)


def test_documented_specials() -> None:
    assert sysmeta.field_special("directus_users", "password") == ("hash", "conceal")
    assert sysmeta.field_special("directus_users", "token") == ("conceal",)
    assert sysmeta.field_special("directus_users", "tfa_secret") == ("conceal",)
    assert sysmeta.field_special("directus_users", "tags") == ("cast-json",)
    assert sysmeta.field_special("directus_policies", "ip_access") == ("cast-csv",)
    assert sysmeta.field_special("directus_roles", "id") == ("uuid",)
    assert sysmeta.field_special("directus_roles", "name") == ()
    assert sysmeta.alias_fields("directus_roles") == {
        "children": "o2m",
        "users": "o2m",
        "policies": "m2m",
    }
    assert sysmeta.alias_fields("directus_users") == {"policies": "m2m"}
    assert sysmeta.alias_fields("directus_policies") == {
        "permissions": "o2m",
        "roles": "m2m",
        "users": "m2m",
    }
    access = sysmeta.relations_of("directus_access")
    assert {(r["many_field"], r["one_field"], r["junction_field"]) for r in access} == {
        ("role", "policies", "policy"),
        ("user", "policies", "policy"),
        ("policy", "roles", "role"),
        ("policy", "users", "user"),
    }
    # Shared shapes are copied, so one field's meta can be edited alone.
    a = sysmeta.SYSTEM_FIELD_META["directus_roles"]["id"]
    b = sysmeta.SYSTEM_FIELD_META["directus_users"]["id"]
    assert a == b and a is not b and a["special"] is not b["special"]


def test_metadata_is_fresh_per_call() -> None:
    a, b = system_metadata(), system_metadata()
    assert a is not b and a.tables["directus_users"] is not b.tables["directus_users"]
    assert set(a.tables) == set(SYSTEM_TABLES)


def test_the_shared_metadata_is_one_per_process_and_complete() -> None:
    shared = shared_system_metadata()
    assert shared is shared_system_metadata()
    assert set(shared.tables) == set(SYSTEM_TABLES)
    assert shared is not system_metadata()  # who must change tables still gets their own
