"""Resolve a user (or nobody) to an :class:`Accountability`: role chain, policies, flags.

Directus 11's rules: a user's roles are its role and that role's ancestors; its policies are
the ``directus_access`` rows for the user or any of those roles; a user without a role and
anonymous callers get the public policies (rows with neither role nor user); a policy whose
``ip_access`` excludes the caller's address is dropped; ``admin_access``/``app_access`` are
OR-ed across the policies in effect.

Answers are cached for ``ACCESS_CACHE_TTL`` (short, so that revoking access takes effect on
every worker within that time) and the cache is cleared at once on this worker whenever a
user, role, policy or access row changes. The :class:`Accountability` built from a user's (or
the public) rows is kept in the same cache entry as those rows, per caller address, so it
lives and dies with them; callers always get their own copy of it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
import time
from typing import Any

import sqlalchemy as sa

from ..accountability import Accountability
from .rules import Permissions, RuleHost, load_permission_rows

ACCESS_COLLECTIONS = frozenset(
    {"directus_users", "directus_roles", "directus_policies", "directus_access",
     "directus_permissions"}
)


def ip_allowed(ip: str | None, rules: Any) -> bool:
    """Whether ``ip`` matches a policy's ``ip_access`` list (empty list: everyone)."""
    if not rules:
        return True
    items = rules if isinstance(rules, list) else [r for r in str(rules).split(",") if r.strip()]
    if not items:
        return True
    if ip is None:
        return False
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for item in items:
        try:
            if addr in ipaddress.ip_network(item.strip(), strict=False):
                return True
        except ValueError:
            continue
    return False


#: addresses whose accountability one cache entry keeps (past it, the entry starts afresh)
_BUILT_PER_ENTRY = 64


class _Resolved:
    """One cache entry of a user (or of the public): the rows read, and the accountability
    built from them for each caller address seen while they are fresh."""

    __slots__ = ("built", "roles", "rows")

    def __init__(self, roles: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
        self.roles = roles
        self.rows = rows
        self.built: dict[str | None, Accountability] = {}


class AccessResolver:
    """Looks up roles and policies; one per kernel."""

    def __init__(self, cms: RuleHost) -> None:
        self.cms = cms
        self._cache: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        #: (snapshot, whether it has the access tables): asked on every request
        self._tables_of: tuple[Any, bool] = (None, False)

    @property
    def ttl(self) -> float:
        return float(self.cms.config.get("ACCESS_CACHE_TTL", 1000)) / 1000.0

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    def _cached(self, key: Any, compute: Any) -> Any:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = compute()
        with self._lock:
            self._cache[key] = (now + self.ttl, value)
        return value

    def _has_tables(self) -> bool:
        schema = self.cms.schema
        seen, answer = self._tables_of
        if seen is not schema:  # snapshots never change: a new one is a new object
            answer = all(schema.get(t) is not None for t in
                         ("directus_roles", "directus_policies", "directus_access",
                          "directus_users"))
            self._tables_of = (schema, answer)
        return answer

    def _table(self, name: str) -> sa.Table:
        table = self.cms.schema.get(name).table  # typed columns (uuid on PostgreSQL)
        assert table is not None
        return table

    # -- lookups ------------------------------------------------------------------------
    def _role_chain(self, conn: sa.Connection, role: str | None) -> tuple[str, ...]:
        if role is None:
            return ()
        parents = dict(conn.execute(sa.text("SELECT id, parent FROM directus_roles")).all())
        chain: list[str] = []
        current: Any = role
        while current is not None and str(current) not in chain:
            chain.append(str(current))
            current = parents.get(current) if current in parents else parents.get(str(current))
        return tuple(reversed(chain))  # parents first, as Directus orders them

    def _policies(
        self, conn: sa.Connection, user: str | None, roles: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        access = self._table("directus_access")
        policies = self._table("directus_policies")
        if user is None and not roles:
            cond = sa.and_(access.c.role.is_(None), access.c.user.is_(None))
        else:
            parts = []
            if user is not None:
                parts.append(access.c.user == user)
            if roles:
                parts.append(access.c.role.in_(roles))
            cond = sa.or_(*parts)
        stmt = (
            sa.select(policies.c.id, policies.c.admin_access, policies.c.app_access,
                      policies.c.ip_access, policies.c.enforce_tfa, access.c.role, access.c.user)
            .select_from(access.join(policies, policies.c.id == access.c.policy))
            .where(cond)
            .order_by(access.c.sort)
        )
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
        order = {r: i for i, r in enumerate(roles)}
        # Directus order: parent roles' policies, then child roles', then the user's own.
        rows.sort(key=lambda r: (order.get(str(r["role"]), len(order)) if r["role"] is not None
                                 else len(order) + 1))
        return rows

    def _build(self, user: str | None, role: str | None, ip: str | None,
               rows: list[dict[str, Any]], roles: tuple[str, ...]) -> Accountability:
        seen: list[str] = []
        admin = app = tfa = False
        for r in rows:
            if not ip_allowed(ip, r["ip_access"]):
                continue
            pid = str(r["id"])
            if pid not in seen:
                seen.append(pid)
            admin = admin or bool(r["admin_access"])
            app = app or bool(r["app_access"])
            tfa = tfa or bool(r["enforce_tfa"])
        return Accountability(user=user, role=role, roles=roles, policies=tuple(seen),
                              admin=admin, app=app or admin, ip=ip, enforce_tfa=tfa)

    def _built(self, entry: _Resolved, user: str | None, role: str | None,
               ip: str | None) -> Accountability:
        """The accountability of ``entry`` for a caller at ``ip``, built once per address
        while the entry lives (it goes with the rows when they expire or are invalidated)."""
        acc = entry.built.get(ip)
        if acc is None:
            acc = self._build(user, role, ip, entry.rows, entry.roles)
            built = entry.built
            if len(built) >= _BUILT_PER_ENTRY:
                built.clear()
            built[ip] = acc
        return acc

    def public(self, ip: str | None = None) -> Accountability:
        """The accountability of an anonymous caller (the public policies)."""
        if not self._has_tables():
            return Accountability(ip=ip)

        def compute() -> _Resolved:
            with self.cms.connect() as conn:
                return _Resolved((), self._policies(conn, None, ()))

        entry = self._cached(("public",), compute)
        # a copy: the kept one must not carry one request's ``extra`` into the next
        return self._built(entry, None, None, ip).evolve(extra={})

    def for_user(self, user_id: str, role: str | None, ip: str | None = None,
                 **extra: Any) -> Accountability:
        """The accountability of an authenticated, active user (``extra``: fields to set on
        it, as :func:`dataclasses.replace` takes them)."""
        def compute() -> _Resolved:
            with self.cms.connect() as conn:
                roles = self._role_chain(conn, role)
                rows = self._policies(conn, user_id, roles)
                if role is None:
                    rows += self._policies(conn, None, ())
                return _Resolved(roles, rows)

        entry = self._cached(("user", user_id, role), compute)
        acc = self._built(entry, str(user_id), str(role) if role else None, ip)
        # a copy, with its own ``extra`` unless one is given, as a new build had
        return acc.evolve(**extra) if "extra" in extra else acc.evolve(extra={}, **extra)

    def user_by_static_token(self, token: str) -> dict[str, Any] | None:
        """The active user whose ``directus_users.token`` equals ``token``."""
        if not self._has_tables():
            return None

        def compute() -> dict[str, Any] | None:
            users = self._table("directus_users")
            with self.cms.connect() as conn:
                row = conn.execute(
                    sa.select(users.c.id, users.c.role, users.c.status).where(
                        users.c.token == token)
                ).first()
            return dict(row._mapping) if row is not None else None

        return self._cached(("token", token), compute)

    def permissions(self, accountability: Accountability | None) -> Permissions:
        """The :class:`~transom.permissions.rules.Permissions` of a caller (rows cached)."""
        if accountability is None or accountability.admin:
            return Permissions(self.cms, accountability)
        def load() -> tuple[list[dict[str, Any]], str]:
            rows = load_permission_rows(self.cms, accountability.policies)
            return rows, hashlib.sha256(repr(sorted(
                rows, key=lambda r: str(r.get("id")))).encode()).hexdigest()[:16]

        rows, digest = self._cached(("perm", accountability.policies), load)
        perms = Permissions(self.cms, accountability, rows)
        perms.digest = digest
        return perms
