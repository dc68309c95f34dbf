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

from transom_auth_jwt.sso import BrowserProvider

from transom.api import InvalidCredentialsError

from .client import IdentityProvider
from .settings import OAuthSettings
from .users import link_or_create, profile

CALLBACK_KEYS = ("code", "code_verifier", "nonce", "redirect_uri")


class OAuthProvider(BrowserProvider):
    """An OpenID Connect (``openid``) or plain OAuth2 (``oauth2``) login."""

    settings: OAuthSettings

    def __init__(self, settings: OAuthSettings) -> None:
        super().__init__(settings)
        self.driver = settings.driver
        self.idp = IdentityProvider(settings)

    def identify(self, cms: Any, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        if any(not isinstance(payload.get(k), str) for k in CALLBACK_KEYS):
            return None
        claims = self.idp.exchange(payload["code"], payload["code_verifier"],
                                   payload["redirect_uri"], payload["nonce"])
        identifier = claims.get(self.settings.identifier_key)
        if not isinstance(identifier, str | int) or str(identifier) == "":
            raise InvalidCredentialsError()
        return self.seal(link_or_create(cms, self.settings, str(identifier),
                                        profile(self.settings, claims)))
