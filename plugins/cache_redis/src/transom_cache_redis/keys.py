"""Which requests may be cached, and under which key.

A key is a hash of: the method, the path, the query string with its parameters in a stable
order, who is asking (see :meth:`IdentityRules.identity`) and the schema version. A cached
answer is therefore only ever served to a caller who would have been given the same answer.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus, urlencode

from transom.api import has_dynamic_variables

if TYPE_CHECKING:
    from transom.api import Accountability

#: Path prefixes never cached: logins and tokens, live health, metrics, binary assets,
#: websockets. ``/auth`` is Directus's own rule.
NEVER_CACHED = ("/auth", "/server/health", "/server/ping", "/status", "/metrics", "/assets",
                "/websocket", "/utils", "/flows/trigger")

#: Routes whose answer is about the caller, not about a permission set.
SELF_SEGMENT = "me"


def cacheable_path(path: str) -> bool:
    return not any(path == p or path.startswith(p + "/") for p in NEVER_CACHED)


def stable_query(pairs: list[tuple[str, str]]) -> str:
    """Parameters sorted by name; repeated names keep their order (``fields[]`` lists).
    Re-encoded, so that a value holding ``&`` or ``=`` can't pass for two parameters."""
    return urlencode(sorted(pairs, key=lambda kv: kv[0]))


def digest(*parts: str) -> str:
    """A hash of the parts, each length-prefixed so that no two lists of parts collide."""
    h = hashlib.blake2b(digest_size=20)
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        h.update(b"%d:" % len(data))
        h.update(data)
    return h.hexdigest()


class IdentityRules:
    """Decides how much of the caller goes into a key.

    The rule: callers share cached answers by *permission set* (``permission_key()``: the
    sorted policy ids, or ``admin``), which is what decides what they may see. The user and
    role are added when the answer can depend on them:

    * the caller is not admin and one of its read rules (its policies' rows, or the rules
      app access adds) holds a dynamic variable (``$CURRENT_USER``, ``$CURRENT_ROLE``,
      ``$CURRENT_POLICIES``, ``$NOW``): a row filter such as ``owner = $CURRENT_USER``
      gives each user other rows;
    * any installed plugin implements ``permission_rules``: its rules cannot be listed in
      advance, so they are assumed to depend on the user;
    * the query string itself holds ``$CURRENT_...`` (``filter[owner][_eq]=$CURRENT_USER``);
    * the path has a ``me`` segment (``/users/me``, ``/permissions/me``), for admins too.

    Anonymous callers and shares are told apart from users with the same policies. The
    verdict per policy set is remembered for ``ACCESS_CACHE_TTL`` and forgotten at once when
    permissions change on this instance.
    """

    def __init__(self, cms: Any) -> None:
        self.cms = cms
        self._memo: dict[tuple[str, ...], tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def forget(self) -> None:
        with self._lock:
            self._memo.clear()

    def _ttl_s(self) -> float:
        return float(self.cms.config.get("ACCESS_CACHE_TTL", 1000)) / 1000.0

    def per_user(self, acc: Accountability) -> bool:
        """Whether the caller's read rules can give two users of its policies other rows."""
        if acc.admin:
            return False
        if self.cms.hook.permission_rules.get_hookimpls():
            return True
        key = (*acc.policies, "app" if acc.app else "")
        now = time.monotonic()
        hit = self._memo.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        perms = self.cms.access.permissions(acc)
        dynamic = False
        for collection in perms.collections("read"):
            for rule in perms.access(collection, "read").rules:
                if has_dynamic_variables([rule.filter, rule.presets, rule.validation]):
                    dynamic = True
                    break
            if dynamic:
                break
        with self._lock:
            self._memo[key] = (now + self._ttl_s(), dynamic)
        return dynamic

    def identity(self, acc: Accountability, path: str, query: str) -> str:
        parts = [acc.permission_key()]
        if acc.is_anonymous:
            parts.append("anon")
        if acc.share:
            parts.append(f"share={acc.share}")
        if acc.user is not None and (
            SELF_SEGMENT in path.split("/")
            or ("$CURRENT_" in query or "$CURRENT_" in unquote_plus(query))
            or self.per_user(acc)
        ):
            parts.append(f"user={acc.user}")
            parts.append(f"role={acc.role}")
        return "|".join(parts)
