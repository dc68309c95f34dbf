"""The project's default content language, as every worker agrees on it.

Order: the ``directus_settings.default_language`` project setting (what the Directus admin
app edits), then the ``I18N_DEFAULT_LANG`` setting/environment variable, then the first
stored language, then ``en-US``.

The settings value is cached per app and dropped on every ``settings`` message, which the
items service publishes after each write to ``directus_settings``: the local bus delivers it
to every worker before its next request (docs/coherence.md), so a ``PATCH /settings`` takes
effect everywhere at once. The fallbacks are cheap and rare, and are not cached.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from transom.api import ItemsService

SETTINGS_TOPIC = "settings"
LANGUAGES = "languages"
LAST_RESORT = "en-US"


class DefaultLanguage:
    """The cached ``default_language`` of one app."""

    def __init__(self, cms: Any) -> None:
        self.cms = cms
        self._lock = threading.Lock()
        self._value: str | None = None
        self._generation = 0
        cms.messenger.subscribe(SETTINGS_TOPIC, self.forget)

    def forget(self, _payload: Any = None) -> None:
        with self._lock:
            self._value = None
            self._generation += 1

    def get(self) -> str:
        with self._lock:
            if self._value is not None:
                return self._value
            generation = self._generation
        found = self._from_settings()
        if found:
            with self._lock:
                if generation == self._generation:  # no change arrived meanwhile
                    self._value = found
            return found
        return self._fallback()

    def _from_settings(self) -> str | None:
        if self.cms.schema.get("directus_settings") is None:
            return None
        rows = ItemsService(self.cms, "directus_settings", None, emit_events=False
                            ).read_by_query({"fields": ["default_language"], "limit": 1})
        value = rows[0].get("default_language") if rows else None
        return value.strip() if isinstance(value, str) and value.strip() else None

    def _fallback(self) -> str:
        configured = str(self.cms.config.get("I18N_DEFAULT_LANG") or "").strip()
        if configured:
            return configured
        coll = self.cms.schema.get(LANGUAGES)
        if coll is not None and coll.primary_key:
            rows = ItemsService(self.cms, LANGUAGES, None, emit_events=False).read_by_query(
                {"fields": [coll.primary_key], "sort": [coll.primary_key], "limit": 1})
            if rows and rows[0].get(coll.primary_key):
                return str(rows[0][coll.primary_key])
        return LAST_RESORT


#: held weakly: the app's messenger subscription keeps its ``DefaultLanguage`` alive exactly
#: as long as the app, so a closed app (tests make thousands) is not kept by this module
_BY_APP: weakref.WeakValueDictionary[int, DefaultLanguage] = weakref.WeakValueDictionary()


def install(cms: Any) -> DefaultLanguage:
    """The app's ``DefaultLanguage``, created (and subscribed) once."""
    found = _BY_APP.get(id(cms))
    if found is None or found.cms is not cms:
        found = _BY_APP[id(cms)] = DefaultLanguage(cms)
    return found
