"""Outbound HTTP for the ``request`` operation, refusing addresses of the deny list.

Directus sends its request operation through the same guarded client as file imports, so the
deny list is ``IMPORT_IP_DENY_LIST`` (default ``0.0.0.0,169.254.169.254``; ``0.0.0.0`` stands
for every loopback, private, link-local, reserved, multicast or unspecified address; other
entries are addresses or networks). ``FLOWS_REQUEST_IP_ALLOW_LIST`` (a Transom setting, empty
by default) names addresses or networks let through anyway, e.g. ``127.0.0.1`` for a service
on the same host.

The host is resolved once, every address it resolves to is checked, and the connection goes
to the checked address (no second DNS answer can swap it: rebinding); TLS still verifies the
certificate against the host name. Redirects are followed by hand, each target checked the
same way, 5 at most.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from transom.api import ForbiddenError, InvalidPayloadError, ip_listed

if TYPE_CHECKING:  # urllib3 (~0.03 s to import) loads with the first request operation
    import urllib3

DEFAULT_DENY = ("0.0.0.0", "169.254.169.254")
MAX_REDIRECTS = 5
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RequestFailed(Exception):
    """The peer could not be reached or answered nothing usable."""


def csv_list(value: Any, default: Iterable[str] = ()) -> list[str]:
    """A csv setting as a list, whether the config parsed it already or not."""
    if value is None:
        return list(default)
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v).strip() for v in value if str(v).strip()]


@dataclass(frozen=True)
class Guard:
    """The deny and allow lists of one app."""

    deny: tuple[str, ...] = DEFAULT_DENY
    allow: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Any) -> Guard:
        return cls(tuple(csv_list(config.get("IMPORT_IP_DENY_LIST"), DEFAULT_DENY)),
                   tuple(csv_list(config.get("FLOWS_REQUEST_IP_ALLOW_LIST"))))

    def denied(self, ip: IPAddress) -> bool:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        return ip_listed(ip, self.deny) and not ip_listed(ip, self.allow, local_wildcard=False)

    def resolve(self, url: str) -> tuple[urllib.parse.SplitResult, str]:
        """The URL's parts and the checked address to connect to; 400 for a URL that is
        not http(s), 403 when any address of its host is denied."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidPayloadError('"url" must be an http(s) URL')
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise InvalidPayloadError('"url" has an invalid port') from exc
        try:
            infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise RequestFailed(f"Couldn't resolve {parts.hostname}") from exc
        addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
        if not addresses or any(self.denied(ip) for ip in addresses):
            raise ForbiddenError(f'Requested URL "{url}" resolves to a denied IP address')
        return parts, str(addresses[0])


@dataclass
class Answer:
    status: int
    reason: str
    headers: dict[str, str]
    data: Any


def send(guard: Guard, method: str, url: str, headers: dict[str, str], body: bytes | None,
         timeout: float) -> Answer:
    """One request (and its redirects), every hop checked by ``guard``."""
    import urllib3

    for _ in range(MAX_REDIRECTS + 1):
        parts, ip = guard.resolve(url)
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        host = str(parts.hostname)
        kwargs: dict[str, Any] = {"timeout": urllib3.Timeout(total=timeout), "retries": False,
                                  "maxsize": 1}
        if https:
            pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
                ip, port, server_hostname=host, assert_hostname=host,
                cert_reqs="CERT_REQUIRED", **kwargs)
        else:
            pool = urllib3.HTTPConnectionPool(ip, port, **kwargs)
        default_port = port == (443 if https else 80)
        sent = {"Host": host if default_port else f"{host}:{port}", "User-Agent": "Transom",
                **headers}
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            resp = pool.urlopen(method, target, body=body, headers=sent, redirect=False,
                                assert_same_host=False, preload_content=True)
        except urllib3.exceptions.HTTPError as exc:
            raise RequestFailed(exc.__class__.__name__) from exc
        finally:
            pool.close()
        location = resp.headers.get("Location")
        if resp.status in (301, 302, 303, 307, 308) and location:
            url = urllib.parse.urljoin(url, location)
            if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
                method, body = "GET", None  # what browsers (and axios) do
            continue
        raw = resp.data or b""
        text = raw.decode(errors="replace")
        try:
            data: Any = json.loads(text) if text else text
        except ValueError:
            data = text
        return Answer(resp.status, resp.reason or "", dict(resp.headers.items()), data)
    raise RequestFailed(f"Too many redirects from \"{url}\"")
