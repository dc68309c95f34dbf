"""The default mail transport: writes each message to the log instead of sending it.

With ``EMAIL_TRANSPORT=smtp`` the ``core_mail_smtp`` plugin sends real mail; this one answers
only when no other ``send_email`` implementation did.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from .. import hookimpl

log = logging.getLogger("transom.mail")


@hookimpl(trylast=True)
def send_email(cms: Any, message: Any) -> Any:
    log.info("email to %s: %s\n%s", getattr(message, "to", None),
             getattr(message, "subject", ""), getattr(message, "text", ""))
    # The last few messages stay readable (tests, the CLI); bounded so nothing grows.
    cms.extensions.setdefault("sent_mail", deque(maxlen=50)).append(message)
    return True
