"""``POST /files/import``: fetch a URL, streamed, refusing addresses of the deny list.

As Directus's ``IMPORT_IP_DENY_LIST``: ``0.0.0.0`` stands for every local address
(loopback, private, link-local, reserved); other entries are addresses or networks. Every
redirect is checked again. The host is resolved once and checked before connecting.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import urllib.parse
from collections.abc import Iterator
from email.message import Message
from typing import Any

from transom.api import ForbiddenError, InvalidPayloadError, ServiceUnavailableError, ip_listed

CHUNK = 64 * 1024
MAX_REDIRECTS = 5


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the address that was checked, not to a second DNS answer (rebinding)."""

    def __init__(self, host: str, port: int, ip: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.pinned = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self.pinned, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, ip: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.pinned = ip

    def connect(self) -> None:
        raw = socket.create_connection((self.pinned, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def check_url(url: str, deny: list[str]) -> str:
    """400 for a URL that is not http(s); 403 when its host resolves to a denied address.
    Returns the address to connect to (every address of the host is checked)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidPayloadError('"url" must be an http or https URL')
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 80, type=socket.SOCK_STREAM)
    except OSError:
        raise ServiceUnavailableError("import", f"Couldn't resolve {parts.hostname}") from None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if ip_listed(ip, deny):
            raise ForbiddenError(f'Requested URL "{url}" resolves to a denied IP address')
    return str(infos[0][4][0])


def _filename(url: str, headers: Message) -> str:
    name = headers.get_param("filename", header="content-disposition")
    if isinstance(name, str) and name.strip():
        return name.strip().rsplit("/", 1)[-1]
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    return path.rsplit("/", 1)[-1] or "file"


def _get(url: str, ip: str, timeout: float) -> http.client.HTTPResponse:
    parts = urllib.parse.urlsplit(url)
    https = parts.scheme == "https"
    cls = _PinnedHTTPS if https else _PinnedHTTP
    conn = cls(str(parts.hostname), parts.port or (443 if https else 80), ip, timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn.request("GET", target, headers={"User-Agent": "Transom"})
    return conn.getresponse()


def fetch(url: str, deny: list[str], timeout: float = 30.0
          ) -> tuple[str, str | None, Iterator[bytes]]:
    """Open ``url``: its file name, declared type and a stream of chunks."""
    for _ in range(MAX_REDIRECTS + 1):
        ip = check_url(url, deny)
        try:
            resp = _get(url, ip, timeout)
        except OSError as exc:
            raise ServiceUnavailableError(
                "import", f"Couldn't fetch file from URL \"{url}\": {exc}") from None
        location = resp.getheader("Location")
        if resp.status in (301, 302, 303, 307, 308) and location:
            resp.close()
            url = urllib.parse.urljoin(url, location)
            continue
        if resp.status >= 400:
            resp.close()
            raise ServiceUnavailableError(
                "import", f"Couldn't fetch file from URL \"{url}\": HTTP {resp.status}")

        def chunks(resp: Any = resp) -> Iterator[bytes]:
            with resp:
                while chunk := resp.read(CHUNK):
                    yield chunk

        return _filename(url, resp.headers), resp.getheader("Content-Type"), chunks()
    raise InvalidPayloadError(f"Too many redirects from \"{url}\"")
