"""URL rules whose reverse builders are compiled on first use, not at registration.

Werkzeug compiles two Python functions per rule (``url_for`` builders, through ``ast`` and
``compile``) the moment the rule is added to the map. An app registers about 250 rules and
builds URLs for a handful of them, if any: that compilation was ~40 % of ``create_app``
(about 0.1 s of every worker's cold start, docs/performance.md). Matching is unchanged:
the parts and converters the matcher needs are still made in ``Rule.compile``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.routing import Rule


class LazyBuildRule(Rule):
    """A :class:`werkzeug.routing.Rule` that compiles each builder when it first builds."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        slot = "_build_unknown" if append_unknown else "_build"

        def build_once(rule: Any, *args: Any, **kwargs: Any) -> tuple[str, str]:
            real = Rule._compile_builder(rule, append_unknown).__get__(rule, None)
            setattr(rule, slot, real)  # later builds go straight to the compiled builder
            return real(*args, **kwargs)

        return build_once
