"""The ``openid`` and ``oauth2`` providers.

Their proof is an authorization code, exchanged by the callback route; ``POST
/auth/login/<name>`` has nothing to check and is refused. The callback hands the auth
plugin's login policy (events, status, provider, sessions) a payload of the code, the PKCE
verifier, the nonce and the redirect URI: :meth:`identify` exchanges the code and links the
user, :meth:`verify` accepts only a user that :meth:`identify` proved in this same login.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transom.api import AuthProvider, InvalidCredentialsError, InvalidPayloadError

from .client import IdentityProvider
from .settings import OAuthSettings
from .users import link_or_create, profile

#: key of the user dict that carries the proof the code exchange succeeded
VERIFIED = "_sso_verified"
CALLBACK_KEYS = ("code", "code_verifier", "nonce", "redirect_uri")


class OAuthProvider(AuthProvider):
    """An OpenID Connect (``openid``) or plain OAuth2 (``oauth2``) login."""

    def __init__(self, settings: OAuthSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.driver = settings.driver
        self.label = settings.label
        self.icon = settings.icon
        self.idp = IdentityProvider(settings)
        self._seal = object()  # only this instance can mark a user as proven

    def validate(self, payload: Mapping[str, Any]) -> None:
        raise InvalidPayloadError(
            f'"{self.name}" logs in through the browser: GET /auth/login/{self.name}')

    def identify(self, cms: Any, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        if any(not isinstance(payload.get(k), str) for k in CALLBACK_KEYS):
            return None
        claims = self.idp.exchange(payload["code"], payload["code_verifier"],
                                   payload["redirect_uri"], payload["nonce"])
        identifier = claims.get(self.settings.identifier_key)
        if not isinstance(identifier, str | int) or str(identifier) == "":
            raise InvalidCredentialsError()
        user = link_or_create(cms, self.settings, str(identifier),
                              profile(self.settings, claims))
        if user is not None and user.get("provider") == self.name:
            user[VERIFIED] = self._seal
        return user

    def verify(self, cms: Any, user: dict[str, Any] | None,
               payload: Mapping[str, Any]) -> None:
        if user is None or user.get(VERIFIED) is not self._seal:
            raise InvalidCredentialsError()
