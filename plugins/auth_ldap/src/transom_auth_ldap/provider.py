"""The LDAP provider: ``POST /auth/login/<name>`` with ``{identifier, password}``.

A login searches the user's entry with the service account (``BIND_DN``), then binds as that
entry with the given password: only a successful bind proves the password, and only then is a
``directus_users`` row created or its role synchronised from the directory's groups.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from transom_auth_jwt.sso import SealedProvider

from transom.api import (
    InvalidPayloadError,
    ItemsService,
    ServiceUnavailableError,
    find_user,
)

from .settings import LdapSettings
from .users import link_or_create

log = logging.getLogger("transom.auth.ldap")

SCOPES = {"base": ldap3.BASE, "one": ldap3.LEVEL, "sub": ldap3.SUBTREE}
TIMEOUT_S = 10


def _require_string(payload: Mapping[str, Any], key: str) -> None:
    value = payload.get(key)
    if value is None:
        raise InvalidPayloadError(f'"{key}" is required')
    if not isinstance(value, str):
        raise InvalidPayloadError(f'"{key}" must be a string')
    if value == "":
        raise InvalidPayloadError(f'"{key}" is not allowed to be empty')


def _first(attributes: Mapping[str, Any], name: str) -> str | None:
    value = attributes.get(name)
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return str(value) if value not in (None, "") else None


class LdapProvider(SealedProvider):
    """Directus's ``ldap`` driver; its proof is the bind in :meth:`identify`."""

    settings: LdapSettings
    driver = "ldap"

    # -- directory access -------------------------------------------------------------------
    def _connection(self, user: str | None, password: str | None) -> ldap3.Connection:
        server = ldap3.Server(self.settings.client_url, get_info=ldap3.NONE,
                              connect_timeout=TIMEOUT_S)
        return ldap3.Connection(server, user=user, password=password, read_only=True,
                                receive_timeout=TIMEOUT_S, raise_exceptions=False)

    def _service(self) -> ldap3.Connection:
        """A connection bound as the service account; 503 when the directory is down."""
        s = self.settings
        conn = self._connection(s.bind_dn, s.bind_password)
        try:
            bound = conn.bind()
        except LDAPException as exc:
            log.warning("LDAP %s unreachable: %s", s.client_url, exc)
            raise ServiceUnavailableError("ldap", "The directory cannot be reached") from None
        if not bound:
            log.error("LDAP %s refused the service bind: %s", s.client_url, conn.result)
            raise ServiceUnavailableError("ldap", "The directory cannot be reached")
        return conn

    def _entries(self, conn: ldap3.Connection, base: str, flt: str, scope: str,
                 attributes: list[str]) -> list[tuple[str, dict[str, Any]]]:
        try:
            conn.search(base, flt, search_scope=SCOPES[scope], attributes=attributes,
                        size_limit=1000)
        except LDAPException as exc:
            log.warning("LDAP search under %s failed: %s", base, exc)
            raise ServiceUnavailableError("ldap", "The directory cannot be searched") from None
        return [(r["dn"], dict(r.get("attributes") or {})) for r in conn.response or ()
                if r.get("type") == "searchResEntry"]

    def _find_entry(self, conn: ldap3.Connection, identifier: str
                    ) -> tuple[str, dict[str, Any]] | None:
        s = self.settings
        flt = f"({s.user_attribute}={escape_filter_chars(identifier)})"
        found = self._entries(conn, s.user_dn, flt, s.user_scope,
                              [s.mail_attribute, s.first_name_attribute,
                               s.last_name_attribute, "uid"])
        return found[0] if len(found) == 1 else None  # ambiguous names log in nobody

    def _password_ok(self, dn: str, password: str) -> bool:
        if not password:  # an empty password is an anonymous bind: it always "succeeds"
            return False
        conn = self._connection(dn, password)
        try:
            return bool(conn.bind())
        except LDAPException as exc:
            log.warning("LDAP bind as %s failed: %s", dn, exc)
            raise ServiceUnavailableError("ldap", "The directory cannot be reached") from None
        finally:
            conn.unbind()

    def _role(self, cms: Any, conn: ldap3.Connection, dn: str,
              attributes: Mapping[str, Any]) -> str | None:
        """The role named like one of the user's groups (case-insensitive, as Directus),
        else ``DEFAULT_ROLE_ID``."""
        s = self.settings
        assert s.group_dn is not None
        value = _first(attributes, "uid") if s.group_attribute.lower() == "memberuid" else dn
        if value is None:
            return s.default_role_id
        flt = f"({s.group_attribute}={escape_filter_chars(value)})"
        groups = {g.lower() for _, attrs in self._entries(conn, s.group_dn, flt,
                                                           s.group_scope, ["cn"])
                  if (g := _first(attrs, "cn"))}
        roles = ItemsService(cms, "directus_roles").read_by_query(
            {"fields": ["id", "name"], "limit": -1})
        for role in roles:
            if str(role.get("name") or "").lower() in groups:
                return str(role["id"])
        return s.default_role_id

    # -- AuthProvider ------------------------------------------------------------------------
    def validate(self, payload: Mapping[str, Any]) -> None:
        _require_string(payload, "identifier")
        _require_string(payload, "password")
        for key in ("mode", "otp"):
            if payload.get(key) is not None and not isinstance(payload[key], str):
                raise InvalidPayloadError(f'"{key}" must be a string')
        if payload.get("mode") not in (None, "json", "cookie", "session"):
            raise InvalidPayloadError('"mode" must be one of [cookie, json, session]')

    def identify(self, cms: Any, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        s = self.settings
        conn = self._service()
        try:
            entry = self._find_entry(conn, str(payload["identifier"]))
            if entry is None:
                return None
            dn, attributes = entry
            if not self._password_ok(dn, str(payload["password"])):
                # the linked account, unproven: the login policy counts the failure on it
                return find_user(cms, external_identifier=dn)
            role = self._role(cms, conn, dn, attributes) if s.group_dn else s.default_role_id
        finally:
            conn.unbind()
        profile = {"email": _first(attributes, s.mail_attribute),
                   "first_name": _first(attributes, s.first_name_attribute),
                   "last_name": _first(attributes, s.last_name_attribute)}
        return self.seal(link_or_create(cms, self.name, dn, profile, role,
                                        sync_role=bool(s.group_dn)))
