"""The messenger: how one worker tells every other worker and instance that something changed.

Every per-process cache (schema snapshot, resolved access, compiled plans, GraphQL schemas,
OpenAPI documents, settings, static tokens, plugin stores) is invalidated through it, never
by a timer alone. See :mod:`transom.messenger.bus` for the semantics.
"""

from .bus import RESYNC, Message, Messenger, Transport

__all__ = ["RESYNC", "Message", "Messenger", "Transport"]
