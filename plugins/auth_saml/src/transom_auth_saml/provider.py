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

from transom.api import AuthProvider, InvalidCredentialsError, InvalidPayloadError

from . import replay
from .settings import DRIVER, SamlSettings
from .sp import ServiceProvider
from .users import link_or_create, profile

#: key of the user dict that carries the proof the response was verified
VERIFIED = "_sso_verified"
PAYLOAD_KEYS = ("SAMLResponse", "request_id", "root")


class SamlProvider(AuthProvider):
    """A SAML 2.0 identity provider (Web Browser SSO profile, SP-initiated)."""

    def __init__(self, settings: SamlSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.driver = DRIVER
        self.label = settings.label
        self.icon = settings.icon
        self.sp = ServiceProvider(settings)
        self._seal = object()  # only this instance can mark a user as proven

    def validate(self, payload: Mapping[str, Any]) -> None:
        raise InvalidPayloadError(
            f'"{self.name}" logs in through the browser: GET /auth/login/{self.name}')

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
        user = link_or_create(cms, self.settings, identifier.lower(),
                              profile(self.settings, assertion))
        if user is not None and user.get("provider") == self.name:
            user[VERIFIED] = self._seal
        return user

    def verify(self, cms: Any, user: dict[str, Any] | None,
               payload: Mapping[str, Any]) -> None:
        if user is None or user.get(VERIFIED) is not self._seal:
            raise InvalidCredentialsError()
