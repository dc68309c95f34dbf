"""Who is making a request: the one object every service takes to decide what is allowed."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Accountability:
    """The caller, as Directus 11 describes it.

    ``roles`` is the caller's role and its ancestors (parent first); ``policies`` the ids of
    every policy in effect (public policies for anonymous callers). ``admin`` bypasses all
    permission checks. Services given ``None`` instead of an accountability act as the
    system itself (no checks), as Directus's services do.
    """

    user: str | None = None
    role: str | None = None
    roles: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    admin: bool = False
    app: bool = False
    ip: str | None = None
    user_agent: str | None = None
    origin: str | None = None
    share: str | None = None
    session: str | None = None
    #: one of the caller's policies requires two-factor authentication (``enforce_tfa``)
    enforce_tfa: bool = False
    #: extra facts a plugin attached (an OAuth provider's claims, a share's scope...)
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    #: the user's and role's rows read for ``$CURRENT_USER.<path>`` / ``$CURRENT_ROLE.<path>``
    #: during this request (``{kind: (paths, row)}``); never copied by ``replace``
    dynamic: dict[str, Any] = field(default_factory=dict, compare=False, hash=False,
                                    repr=False, init=False)

    @property
    def is_anonymous(self) -> bool:
        return self.user is None and self.share is None

    def permission_key(self) -> str:
        """Identifies the permission set, not the person: callers with the same policies
        share cached GraphQL schemas and cached answers (when no rule uses $CURRENT_*)."""
        if self.admin:
            return "admin"
        return "p:" + ",".join(sorted(self.policies))

    def evolve(self, **changes: Any) -> Accountability:
        """A copy with ``changes``, as :func:`dataclasses.replace` makes it (same errors for
        a name that is not an ``__init__`` field, ``extra`` shared unless given, a fresh
        ``dynamic``), without its per-call field walk and ``__init__``: every request makes
        one or two."""
        if not changes.keys() <= _INIT_FIELDS:
            bad = sorted(changes.keys() - _INIT_FIELDS)
            if "dynamic" in bad:
                raise ValueError("field dynamic is declared with init=False, it cannot be "
                                 "specified with replace()")
            raise TypeError(f"Accountability.__init__() got an unexpected keyword argument "
                            f"{bad[0]!r}")
        return self._copy(changes)

    def with_request(self, ip: str | None, user_agent: str | None,
                     origin: str | None) -> Accountability:
        """This caller as seen on one request: its address, user agent and origin."""
        return self._copy({"ip": ip, "user_agent": user_agent, "origin": origin})

    def _copy(self, changes: dict[str, Any]) -> Accountability:
        # The class is frozen and defines no __post_init__: filling the instance dict is
        # what its __init__ would do, field by field, with the same values.
        new = object.__new__(type(self))
        state = new.__dict__
        state.update(self.__dict__)
        state.update(changes)
        state["dynamic"] = {}
        return new


#: the fields :meth:`Accountability.evolve` may change (``dynamic`` is per request)
_INIT_FIELDS = frozenset(f.name for f in fields(Accountability) if f.init)


#: The accountability of the system itself when a request must act as admin.
SYSTEM_ADMIN = Accountability(admin=True, app=True)
