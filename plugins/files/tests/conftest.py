"""Helpers for transom-files tests: multipart bodies, raw HTTP with headers, test images."""

from __future__ import annotations

import http.client
import io
import json
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from transom.testing.live import LIVE_ADMIN_TOKEN


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def multipart(items: list[tuple[str, Any]]) -> tuple[bytes, str]:
    """A form body: ``("title", "x")`` is a field, ``("file", (name, bytes, type))`` a file."""
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in items:
        out.write(f"--{boundary}\r\n".encode())
        if isinstance(value, tuple):
            filename, content, mime = value
            out.write(f'Content-Disposition: form-data; name="{name}"; filename="{filename}"'
                      f"\r\nContent-Type: {mime}\r\n\r\n".encode())
            out.write(content)
        else:
            out.write(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
            out.write(str(value).encode())
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def request(base_url: str, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None, token: str | None = LIVE_ADMIN_TOKEN
            ) -> Answer:
    """One request to a live server, headers kept (``LiveServer.call`` drops them)."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    hdrs = dict(headers or {})
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        return Answer(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def upload(base_url: str, items: list[tuple[str, Any]], token: str | None = LIVE_ADMIN_TOKEN,
           path: str = "/files", method: str = "POST") -> Answer:
    body, ctype = multipart(items)
    return request(base_url, method, path, body, {"Content-Type": ctype}, token)


def jpeg(width: int = 640, height: int = 480, exif: bool = True) -> bytes:
    """A JPEG with a gradient (so resizing is visible) and, by default, EXIF Make/Model."""
    img = Image.new("RGB", (width, height))
    img.putdata([(x * 255 // width, y * 255 // height, 128)
                 for y in range(height) for x in range(width)])
    out = io.BytesIO()
    kwargs: dict[str, Any] = {}
    if exif:
        data = Image.Exif()
        data[0x010F] = "TransomCam"  # Make
        data[0x0110] = "Model 7"  # Model
        kwargs["exif"] = data.tobytes()
    img.save(out, format="JPEG", quality=90, **kwargs)
    return out.getvalue()


def png(width: int = 32, height: int = 16) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (10, 200, 30, 255)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server on 127.0.0.1 serving ``tmp_path/www`` (for /files/import), and
    ``/redirect?to=<url>``."""
    root = tmp_path / "www"
    root.mkdir()

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - /redirect?to=<url> answers a 302
            if self.path.startswith("/redirect?to="):
                self.send_response(302)
                self.send_header("Location", urllib.parse.unquote(self.path.split("=", 1)[1]))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def ft() -> Any:
    """The helpers above, for the test modules (conftest is not importable by name)."""
    from types import SimpleNamespace

    return SimpleNamespace(multipart=multipart, request=request, upload=upload, jpeg=jpeg,
                           png=png, ADMIN=LIVE_ADMIN_TOKEN)
