"""The SMTP transport (core's ``core_mail_smtp``) against a tiny in-process SMTP sink."""

from __future__ import annotations

import base64
import email
import re
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from transom.mail import EmailMessage
from transom.testing.plugin import ADMIN_EMAIL

pytestmark = pytest.mark.backends("sqlite")


@dataclass
class Received:
    sender: str = ""
    recipients: list[str] = field(default_factory=list)
    data: bytes = b""
    auth: str | None = None
    ehlo: str = ""


class _Handler(socketserver.StreamRequestHandler):
    """Just enough of RFC 5321 for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    server: _SinkServer

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        current = Received()
        self.reply("220 sink ESMTP ready")
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                current.ehlo = line[5:]
                self.reply("250-sink greets you")
                self.reply("250-AUTH PLAIN")
                self.reply("250 8BITMIME")
            elif verb == "AUTH":
                parts = line.split(" ")
                decoded = base64.b64decode(parts[2]).split(b"\0") if len(parts) > 2 else []
                current.auth = b":".join(decoded[1:]).decode()
                self.reply("235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                current.sender = re.search(r"<(.*?)>", line).group(1)
                self.reply("250 OK")
            elif verb == "RCPT":
                current.recipients.append(re.search(r"<(.*?)>", line).group(1))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                chunks = []
                while True:
                    chunk = self.rfile.readline()
                    if chunk in (b".\r\n", b""):
                        break
                    chunks.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                current.data = b"".join(chunks)
                self.server.messages.append(current)
                current = Received(ehlo=current.ehlo, auth=current.auth)
                self.reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class _SinkServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.messages: list[Received] = []


@pytest.fixture
def smtp_sink() -> Iterator[_SinkServer]:
    server = _SinkServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def smtp_config(sink: _SinkServer, **extra: Any) -> dict[str, Any]:
    return {"EMAIL_TRANSPORT": "smtp", "EMAIL_SMTP_HOST": "127.0.0.1",
            "EMAIL_SMTP_PORT": str(sink.server_address[1]), "EMAIL_SMTP_NAME": "transom.test",
            "EMAIL_FROM": "Transom <noreply@transom.test>", **extra}


def test_smtp_delivers_text_and_html(auth_app: Callable[..., Any],
                                     smtp_sink: _SinkServer) -> None:
    app = auth_app(**smtp_config(smtp_sink, EMAIL_SMTP_USER="mailer",
                                 EMAIL_SMTP_PASSWORD="pw"))
    cms = app.extensions["transom"]
    message = EmailMessage(to=["a@example.com", "b@example.com"], subject="Hello",
                           text="Plain body", html="<p>HTML body</p>")
    assert cms.hook.send_email(cms=cms, message=message) is True
    (got,) = smtp_sink.messages
    assert got.sender == "noreply@transom.test"
    assert got.recipients == ["a@example.com", "b@example.com"]
    assert got.auth == "mailer:pw" and got.ehlo == "transom.test"
    parsed = email.message_from_bytes(got.data)
    assert parsed["Subject"] == "Hello" and parsed["From"] == "Transom <noreply@transom.test>"
    assert parsed.is_multipart()
    bodies = {part.get_content_type(): part.get_payload(decode=True).decode()
              for part in parsed.walk() if not part.is_multipart()}
    assert bodies["text/plain"].strip() == "Plain body"
    assert bodies["text/html"].strip() == "<p>HTML body</p>"
    # The log transport did not answer: nothing kept in memory.
    assert not cms.extensions.get("sent_mail")


def test_password_reset_mail_goes_through_smtp(auth_app: Callable[..., Any],
                                               smtp_sink: _SinkServer) -> None:
    app = auth_app(**smtp_config(smtp_sink))
    client = app.test_client()
    assert client.post("/auth/password/request", json={"email": ADMIN_EMAIL}).status_code == 204
    (got,) = smtp_sink.messages
    assert got.recipients == [ADMIN_EMAIL] and got.auth is None
    body = email.message_from_bytes(got.data)
    text = next(p for p in body.walk() if p.get_content_type() == "text/plain")
    assert "/admin/reset-password?token=" in text.get_payload(decode=True).decode()


def test_log_transport_by_default(auth_app: Callable[..., Any],
                                  smtp_sink: _SinkServer) -> None:
    app = auth_app()
    cms = app.extensions["transom"]
    assert cms.hook.send_email(cms=cms, message=EmailMessage("x@example.com", "S", "T"))
    assert smtp_sink.messages == [] and len(cms.extensions["sent_mail"]) == 1


def test_smtp_without_host_fails_loudly(auth_app: Callable[..., Any]) -> None:
    app = auth_app(EMAIL_TRANSPORT="smtp")
    cms = app.extensions["transom"]
    with pytest.raises(RuntimeError, match="EMAIL_SMTP_HOST"):
        cms.hook.send_email(cms=cms, message=EmailMessage("x@example.com", "S", "T"))
