"""Directus's ``IMPORT_IP_DENY_LIST`` rule, for every outbound request a plugin makes on a
caller's behalf (file imports, the flows ``request`` operation): one place decides which
addresses a server-side fetch may reach, so the plugins cannot drift apart.

An entry is an address or a network (``10.0.0.0/8``); the entry ``0.0.0.0`` stands for every
local address (loopback, private, link-local, reserved, unspecified, multicast), as in
Directus. Entries that are neither are ignored, as Directus ignores them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: the entry that means "any local address"
LOCAL_WILDCARD = "0.0.0.0"


def is_local(ip: IPAddress) -> bool:
    """Whether ``ip`` is one of the addresses ``0.0.0.0`` stands for."""
    return (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_reserved
            or ip.is_unspecified or ip.is_multicast)


def ip_listed(ip: IPAddress, entries: Iterable[str], *, local_wildcard: bool = True) -> bool:
    """Whether ``ip`` matches an entry of the list (entries trimmed, empty ones skipped);
    ``local_wildcard``: ``0.0.0.0`` means every local address (deny lists) rather than
    that one address (allow lists)."""
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        if local_wildcard and entry == LOCAL_WILDCARD:
            if is_local(ip):
                return True
            continue
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False
