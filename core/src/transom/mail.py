"""The one shape of an outgoing email, shared by whoever writes mail and whoever sends it.

Features that need to mail someone (password reset, invitations) build an
:class:`EmailMessage` and pass it to ``cms.hook.send_email(cms=cms, message=...)``; transport
plugins (the log transport in core, SMTP, a vendor API) turn it into whatever they speak. It
stays a plain value so that transports never depend on the feature that wrote it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EmailMessage:
    """An email to send.

    :param to: one address, or several (a list, or a comma-separated string).
    :param subject: the subject line.
    :param text: the plain-text body; always present, so every client can read it.
    :param html: an optional HTML alternative of the same content.
    :param sender: the ``From`` address; transports use ``EMAIL_FROM`` when it is None.
    :param headers: extra headers (``Reply-To``...); transports may ignore unknown ones.
    """

    to: str | Sequence[str]
    subject: str
    text: str
    html: str | None = None
    sender: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def recipients(self) -> list[str]:
        """Every address in ``to``, trimmed, without empties."""
        items = self.to.split(",") if isinstance(self.to, str) else list(self.to)
        return [item.strip() for item in items if item and item.strip()]
