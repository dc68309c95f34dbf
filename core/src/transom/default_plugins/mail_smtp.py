"""SMTP mail transport (``EMAIL_TRANSPORT=smtp``), with the standard library's ``smtplib``.

It answers ``send_email`` only when SMTP is the chosen transport and returns None otherwise,
so the log transport (``core_mail_log``, tried last) keeps answering by default. TLS follows
Directus's settings: ``EMAIL_SMTP_SECURE`` opens an implicitly encrypted connection (SMTPS,
port 465); otherwise STARTTLS is used whenever the server offers it, unless
``EMAIL_SMTP_IGNORE_TLS`` is set. Certificates are always verified.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from .. import hookimpl
from ..config import Setting

SETTINGS: tuple[Setting, ...] = (
    Setting("EMAIL_TRANSPORT", "log", "str",
            "How mail is sent: log (written to the log) or smtp."),
    Setting("EMAIL_FROM", "no-reply@example.com", "str", "Sender address of outgoing mail."),
    Setting("EMAIL_SMTP_HOST", None, "str", "SMTP server host."),
    Setting("EMAIL_SMTP_PORT", None, "int",
            "SMTP server port (default 465 when EMAIL_SMTP_SECURE, else 587)."),
    Setting("EMAIL_SMTP_USER", None, "str", "SMTP user name (no login when unset)."),
    Setting("EMAIL_SMTP_PASSWORD", None, "str", "SMTP password."),
    Setting("EMAIL_SMTP_SECURE", False, "bool", "Use implicit TLS (SMTPS)."),
    Setting("EMAIL_SMTP_IGNORE_TLS", False, "bool", "Never upgrade with STARTTLS."),
    Setting("EMAIL_SMTP_NAME", None, "str",
            "Host name this client announces in EHLO (default: this machine's name)."),
    Setting("EMAIL_SMTP_TIMEOUT", 30_000, "duration", "Socket timeout of SMTP connections."),
)


@hookimpl
def register_settings() -> Any:
    return list(SETTINGS)


def build_mime(message: Any, default_sender: str) -> MimeMessage:
    """The MIME form of a :class:`transom.mail.EmailMessage`: text, plus HTML if given."""
    mime = MimeMessage()
    sender = getattr(message, "sender", None) or default_sender
    mime["From"] = sender
    mime["To"] = ", ".join(_recipients(message))
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(localtime=False)
    domain = parseaddr(sender)[1].rpartition("@")[2] or None
    mime["Message-ID"] = make_msgid(domain=domain)
    for name, value in (getattr(message, "headers", None) or {}).items():
        if name not in mime:
            mime[name] = value
    mime.set_content(message.text or "")
    if getattr(message, "html", None):
        mime.add_alternative(message.html, subtype="html")
    return mime


def _recipients(message: Any) -> list[str]:
    recipients = getattr(message, "recipients", None)
    if recipients is not None:
        return list(recipients)
    to = message.to
    items = to.split(",") if isinstance(to, str) else list(to)
    return [i.strip() for i in items if i and i.strip()]


@hookimpl
def send_email(cms: Any, message: Any) -> Any:
    config = cms.config
    if str(config.get("EMAIL_TRANSPORT", "log")).lower() != "smtp":
        return None
    host = config.get("EMAIL_SMTP_HOST")
    if not host:
        raise RuntimeError("EMAIL_TRANSPORT=smtp needs EMAIL_SMTP_HOST")
    secure = bool(config.get("EMAIL_SMTP_SECURE"))
    port = int(config.get("EMAIL_SMTP_PORT") or (465 if secure else 587))
    timeout = float(config.get("EMAIL_SMTP_TIMEOUT", 30_000)) / 1000.0
    # socket.getfqdn() (smtplib's default) may wait on DNS; the plain host name does not.
    local_name = config.get("EMAIL_SMTP_NAME") or socket.gethostname()
    context = ssl.create_default_context()
    mime = build_mime(message, config.get("EMAIL_FROM", "no-reply@example.com"))
    smtp: smtplib.SMTP
    if secure:
        smtp = smtplib.SMTP_SSL(host, port, local_hostname=local_name, timeout=timeout,
                                context=context)
    else:
        smtp = smtplib.SMTP(host, port, local_hostname=local_name, timeout=timeout)
    with smtp:
        smtp.ehlo()
        if not secure and not config.get("EMAIL_SMTP_IGNORE_TLS") \
                and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
        user = config.get("EMAIL_SMTP_USER")
        if user:
            smtp.login(user, config.get("EMAIL_SMTP_PASSWORD") or "")
        smtp.send_message(mime, to_addrs=_recipients(message))
    return True
