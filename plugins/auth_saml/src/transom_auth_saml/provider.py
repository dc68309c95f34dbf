"""The ``saml`` provider.

Its proof is a signed ``SAMLResponse`` posted by the browser to the ACS route; ``POST
/auth/login/<name>`` has nothing to check and is refused. The ACS route hands the auth
plugin's login policy (events, status, provider, sessions) a payload of the response, the
request it must answer and the public root: :meth:`identify` verifies the response, records
the assertion as used and links the user; :meth:`verify` accepts only a user that
:meth:`identify` proved in this same login.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from transom_auth_jwt.sso import BrowserProvider

from transom.api import InvalidCredentialsError

from . import replay
from .settings import DRIVER, SamlSettings
from .sp import ServiceProvider
from .users import link_or_create, profile

PAYLOAD_KEYS = ("SAMLResponse", "request_id", "root")


class SamlProvider(BrowserProvider):
    """A SAML 2.0 identity provider (Web Browser SSO profile, SP-initiated)."""

    settings: SamlSettings

    def __init__(self, settings: SamlSettings) -> None:
        super().__init__(settings)
        self.driver = DRIVER
        self.sp = ServiceProvider(settings)

    def identify(self, cms: Any, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        if any(not isinstance(payload.get(k), str) for k in PAYLOAD_KEYS):
            return None
        assertion = self.sp.parse(payload["root"], payload["SAMLResponse"],
                                  payload["request_id"])
        identifier = assertion.first(self.settings.identifier_key)
        if identifier is None:
            raise InvalidCredentialsError()
        replay.consume(cms, replay.assertion_key(self.name, assertion.issuer,
                                                 assertion.assertion_id),
                       assertion.expires, time.time())
        return self.seal(link_or_create(cms, self.settings, identifier.lower(),
                                        profile(self.settings, assertion)))
