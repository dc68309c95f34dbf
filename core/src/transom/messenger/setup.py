"""Choose the messenger's transports from the settings and the plugins."""

from __future__ import annotations

import os
from typing import Any, Protocol

import sqlalchemy as sa

from ..config import redis_url
from ..errors import StartupError
from ..plugins import flatten
from .bus import Messenger
from .local import default_path, open_local_bus
from .redis import RedisTransport


class MessengerHost(Protocol):
    """What choosing transports needs of the kernel (``cms``, handed on to the
    ``register_message_transports`` hook): its database URL, config and hooks."""

    url: sa.URL
    config: Any
    hook: Any


def database_identity(cms: MessengerHost) -> str:
    """What makes two processes part of one deployment: the same database (and schema)."""
    url = cms.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return "sqlite:" + os.path.realpath(str(url.database))
    return f"{url.render_as_string(hide_password=True)}|{cms.config.get('DB_SCHEMA') or ''}"


def build_messenger(cms: MessengerHost) -> Messenger:
    config = cms.config
    namespace = str(config.get("MESSENGER_NAMESPACE") or "transom")
    path = config.get("MESSENGER_LOCAL_PATH")
    local = None
    if path is None or str(path).strip().lower() not in ("false", "0", "off", "no", ""):
        local = open_local_bus(str(path) if path else
                               default_path(database_identity(cms), namespace))
    store = str(config.get("MESSENGER_STORE") or "auto").lower()
    messenger = Messenger((), local)
    offered = {t.name: t for t in flatten(cms.hook.register_message_transports(
        cms=cms, namespace=namespace, resync=messenger.resync)) if t is not None}
    url = redis_url(config)
    if store == "auto":
        # tests build many short-lived apps: no listener threads unless asked for
        if config.get("TESTING"):
            chosen = []
        elif url:
            chosen = ["redis"]
        else:
            chosen = [name for name in ("postgres",) if name in offered]
    elif store in ("memory", "none", "local", "false"):
        chosen = []
    else:
        chosen = [store]
    transports = []
    for name in chosen:
        if name == "redis":
            if not url:
                raise StartupError("MESSENGER_STORE=redis needs REDIS (a redis:// URL) or "
                                   "REDIS_HOST.")
            transports.append(RedisTransport(url, namespace, messenger.resync))
        elif name in offered:
            transports.append(offered[name])
        else:
            raise StartupError(f"MESSENGER_STORE={name} is not offered by the installed "
                               f"plugins (the {name} transport needs its database).")
    messenger.transports = transports
    return messenger
