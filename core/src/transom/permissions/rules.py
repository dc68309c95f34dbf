"""What one accountability may do: rules per collection and action, combined once.

Sources of rules: the ``directus_permissions`` rows of the caller's policies, plus whatever
``permission_rules`` hook implementations add. Combination (Directus 11, additive):

* no rule for (collection, action): no access;
* row filters are OR-ed; a rule without a filter gives every row;
* allowed fields are the union; a field some rules allow and others don't is *masked*: it
  reads as ``null`` on rows that none of the rules allowing it match;
* ``admin_access`` bypasses everything; a rule with ``allow=False`` (from a plugin) denies.

Every decision keeps its reasons, so an admin can ask why (the explain extension).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa

from ..accountability import Accountability
from ..errors import ForbiddenError
from ..plugins import flatten
from ..query.filters import dynamic_paths

#: ``exists(accountability, collection, key, row_filter)``: whether the caller can see the
#: item under that filter (what ``/permissions/me/:collection/:pk`` asks).
ItemProbe = Callable[[Accountability | None, str, Any, "dict[str, Any] | None"], bool]


class RuleHost(Protocol):
    """What the permission engine needs of the kernel (``cms``): the schema, a connection,
    the ``permission_rules`` hook, and the item probe the services install. Permissions
    sit below the kernel and take this instead of importing ``Transom``."""

    hook: Any
    config: Any
    item_exists: ItemProbe | None

    @property
    def schema(self) -> Any: ...

    def connect(self) -> AbstractContextManager[sa.Connection]: ...

ACTIONS = ("create", "read", "update", "delete", "share")
ALL = "*"


@dataclass(frozen=True)
class Rule:
    """One permission: which rows (``filter``), which fields, defaults and validation."""

    collection: str
    action: str
    filter: dict[str, Any] | None = None
    fields: frozenset[str] | str = ALL
    presets: dict[str, Any] | None = None
    validation: dict[str, Any] | None = None
    allow: bool = True
    reason: str = ""

    def allows_field(self, name: str) -> bool:
        return self.fields == ALL or name in self.fields


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _fields(value: Any) -> frozenset[str] | str:
    if value is None:
        return frozenset()
    items = value if isinstance(value, list) else [v for v in str(value).split(",")]
    items = [i.strip() for i in items if i and i.strip()]
    return ALL if ALL in items else frozenset(items)


@dataclass
class CollectionAccess:
    """The combined rules of one (collection, action) for one caller."""

    rules: list[Rule] = field(default_factory=list)
    full: bool = False

    @property
    def allowed(self) -> bool:
        return self.full or bool(self.rules)

    def row_filter(self) -> dict[str, Any] | None:
        """None for every row, otherwise ``{"_or": [...]}`` of the rules' filters."""
        if self.full or any(not r.filter for r in self.rules):
            return None
        filters = [r.filter for r in self.rules if r.filter]
        return filters[0] if len(filters) == 1 else {"_or": filters}

    def field_allowed(self, name: str) -> bool:
        return self.full or any(r.allows_field(name) for r in self.rules)

    def fields(self) -> frozenset[str] | str:
        if self.full or any(r.fields == ALL for r in self.rules):
            return ALL
        out: set[str] = set()
        for r in self.rules:
            out |= set(r.fields)  # type: ignore[arg-type]
        return frozenset(out)

    def field_condition(self, name: str) -> dict[str, Any] | None | bool:
        """True: always readable; False: never; a filter: readable where it matches."""
        if self.full:
            return True
        allowing = [r for r in self.rules if r.allows_field(name)]
        if not allowing:
            return False
        if len(allowing) == len(self.rules) or any(not r.filter for r in allowing):
            return True
        filters = [r.filter for r in allowing if r.filter]
        return filters[0] if len(filters) == 1 else {"_or": filters}

    def presets(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for r in self.rules:
            out.update(r.presets or {})
        return out

    def validations(self) -> list[dict[str, Any]]:
        return [r.validation for r in self.rules if r.validation]


def _app_access_rules(accountability: Accountability) -> list[Rule]:
    """What ``app_access`` grants beyond the policies' own rows: enough of the system
    collections for an editor to use the admin app (their own user and roles, settings,
    schema metadata, their presets)."""
    me = {"id": {"_eq": "$CURRENT_USER"}}
    rules = [
        Rule("directus_users", "read", me, ALL, reason="app access: own user"),
        Rule("directus_users", "update", me, frozenset({
            "first_name", "last_name", "email", "password", "location", "title",
            "description", "avatar", "language", "appearance", "theme_dark", "theme_light",
            "theme_light_overrides", "theme_dark_overrides", "tfa_secret",
            "email_notifications", "text_direction"}), reason="app access: edit own user"),
        Rule("directus_roles", "read", {"id": {"_in": "$CURRENT_ROLES"}}, ALL,
             reason="app access: own roles"),
        Rule("directus_policies", "read", {"id": {"_in": "$CURRENT_POLICIES"}}, ALL,
             reason="app access: own policies"),
        Rule("directus_settings", "read", None, ALL, reason="app access: settings"),
        Rule("directus_presets", "read", {"user": {"_eq": "$CURRENT_USER"}}, ALL,
             reason="app access: own presets"),
        Rule("directus_presets", "create", {"user": {"_eq": "$CURRENT_USER"}}, ALL,
             presets={"user": "$CURRENT_USER"}, reason="app access: own presets"),
        Rule("directus_presets", "update", {"user": {"_eq": "$CURRENT_USER"}}, ALL,
             reason="app access: own presets"),
        Rule("directus_presets", "delete", {"user": {"_eq": "$CURRENT_USER"}}, ALL,
             reason="app access: own presets"),
    ]
    for coll in ("directus_collections", "directus_fields", "directus_relations"):
        rules.append(Rule(coll, "read", None, ALL, reason="app access: schema"))
    return rules


class Permissions:
    """The rules in effect for one accountability against one schema snapshot."""

    def __init__(self, cms: RuleHost, accountability: Accountability | None,
                 rows: Iterable[dict[str, Any]] = ()) -> None:
        self.cms = cms
        self.accountability = accountability
        self.bypass = accountability is None or accountability.admin
        #: fingerprint of the stored rules behind this object (compiled reads depend on it)
        self.digest = "admin" if self.bypass else ""
        self._rules: dict[tuple[str, str], list[Rule]] = {}
        self._deny: set[tuple[str, str]] = set()
        for row in rows:
            rule = Rule(
                collection=row["collection"],
                action=row["action"],
                filter=_json(row.get("permissions")) or None,
                fields=_fields(row.get("fields")),
                presets=_json(row.get("presets")) or None,
                validation=_json(row.get("validation")) or None,
                reason=f"policy {row.get('policy')} permission {row.get('id')}",
            )
            self._rules.setdefault((rule.collection, rule.action), []).append(rule)
        self._hooked: set[tuple[str, str]] = set()
        #: whether a rule reads ``$CURRENT_USER.<path>``/``$CURRENT_ROLE.<path>``: values of
        #: rows that may change without a permission change (compiled reads can't be kept)
        self.reads_user_data = any(
            any(dynamic_paths([r.filter, r.presets, r.validation]).values())
            for rules in self._rules.values() for r in rules)
        if accountability is not None and accountability.app and not self.bypass:
            for rule in _app_access_rules(accountability):
                self._rules.setdefault((rule.collection, rule.action), []).append(rule)

    def _plugin_rules(self, collection: str, action: str) -> None:
        key = (collection, action)
        if key in self._hooked:
            return
        self._hooked.add(key)
        for rule in flatten(self.cms.hook.permission_rules(
                cms=self.cms, accountability=self.accountability, action=action,
                collection=collection)):
            if not rule.allow:
                self._deny.add(key)
            else:
                self._rules.setdefault(key, []).append(rule)

    def access(self, collection: str, action: str) -> CollectionAccess:
        if self.bypass:
            return CollectionAccess(full=True)
        self._plugin_rules(collection, action)
        if (collection, action) in self._deny:
            return CollectionAccess()
        return CollectionAccess(rules=list(self._rules.get((collection, action), [])))

    def require(self, collection: str, action: str) -> CollectionAccess:
        """The access for (collection, action), or 403 as for a collection that is missing."""
        acc = self.access(collection, action)
        if not acc.allowed:
            raise ForbiddenError.collection(collection)
        return acc

    def collections(self, action: str = "read") -> set[str]:
        """Collections the caller may do ``action`` on (not counting plugin rules)."""
        return {c for (c, a) in self._rules if a == action}

    def summary(self, schema: Any) -> dict[str, Any]:
        """``/permissions/me``: ``{collection: {action: {access, fields?, presets?}}}``."""
        out: dict[str, Any] = {}
        names = list(schema.collections) if self.bypass else sorted(
            {c for (c, _a) in self._rules})
        for name in names:
            entry = {}
            for action in ACTIONS:
                acc = self.access(name, action)
                if not acc.allowed:
                    entry[action] = {"access": "none"}
                    continue
                full = acc.row_filter() is None
                item: dict[str, Any] = {"access": "full" if full else "partial"}
                fields = acc.fields()
                item["fields"] = ["*"] if fields == ALL else sorted(fields)
                presets = acc.presets()
                if presets:
                    item["presets"] = presets
                entry[action] = item
            out[name] = entry
        return out

    def item_summary(self, cms: RuleHost, collection: str, key: str | None,
                     exists: ItemProbe | None = None) -> dict[str, Any]:
        """``/permissions/me/:collection/:pk``: may the caller update/delete/share it?

        ``exists`` (default: ``cms.item_exists``, which ``create_app`` installs from the
        items service) tells whether the item matches an action's row filter."""
        probe = exists if exists is not None else cms.item_exists
        out: dict[str, Any] = {}
        for action in ("update", "delete", "share"):
            acc = self.access(collection, action)
            allowed = acc.allowed
            if allowed and key is not None and not self.bypass:
                allowed = probe is not None and probe(self.accountability, collection, key,
                                                      acc.row_filter())
            item: dict[str, Any] = {"access": allowed}
            if action == "update" and allowed:
                fields = acc.fields()
                item["fields"] = ["*"] if fields == ALL else sorted(fields)
                item["presets"] = acc.presets() or None
            out[action] = item
        return out

    def explain(self, collection: str, action: str,
                field_names: Iterable[str] = ()) -> dict[str, Any]:
        """Why (collection, action) is allowed, limited or refused, rule by rule, and for
        each field whether it is always readable, never, or only where a filter matches."""
        acc = self.access(collection, action)
        if self.bypass:
            reason = "admin_access bypasses every rule"
        elif (collection, action) in self._deny:
            reason = "denied by a plugin's permission rule"
        elif not acc.rules:
            reason = "no rule of the caller's policies allows this action on this collection"
        elif acc.row_filter() is None:
            reason = "allowed on every item"
        else:
            reason = "allowed on the items matching the rules' filters (OR-ed)"
        fields: dict[str, Any] = {}
        for name in field_names:
            cond = acc.field_condition(name)
            fields[name] = ("always" if cond is True else "never" if cond is False
                            else {"where": cond})
        return {
            "collection": collection,
            "action": action,
            "allowed": acc.allowed,
            "admin": self.bypass,
            "reason": reason,
            "item_filter": acc.row_filter(),
            "rules": [
                {"reason": r.reason, "filter": r.filter,
                 "fields": r.fields if r.fields == ALL else sorted(r.fields),
                 "presets": r.presets, "validation": r.validation}
                for r in acc.rules
            ],
            "fields": fields,
        }


def load_permission_rows(cms: RuleHost, policies: tuple[str, ...]) -> list[dict[str, Any]]:
    """The ``directus_permissions`` rows of ``policies`` (one query)."""
    if not policies or cms.schema.get("directus_permissions") is None:
        return []
    t = cms.schema.get("directus_permissions").table
    with cms.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            sa.select(t).where(t.c.policy.in_(list(policies))))]
