"""Talking to the identity provider: authorization URL, code exchange, ID token, profile.

Endpoints of an ``openid`` provider come from its discovery document (``ISSUER_URL``: the
issuer or the document itself), fetched once per process; an ``oauth2`` provider names them.
Every failure of the provider's side is a ``SERVICE_UNAVAILABLE``; every answer that does not
prove the login (a refused code, a bad ID token, a wrong nonce) is ``INVALID_CREDENTIALS``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2 import OAuth2Error
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from transom.api import InvalidCredentialsError, ServiceUnavailableError

from .settings import OAuthSettings

log = logging.getLogger("transom.auth.oidc")

TIMEOUT_S = 10
#: signature algorithms accepted on ID tokens (never ``none``, never HMAC with a public key)
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                       "ES256", "ES384", "ES512", "EdDSA"]


@dataclass(frozen=True)
class Endpoints:
    authorize: str
    token: str
    userinfo: str | None
    issuer: str | None = None
    jwks_uri: str | None = None


class IdentityProvider:
    """The client side of one provider's authorization-code flow (with PKCE)."""

    def __init__(self, settings: OAuthSettings) -> None:
        self.settings = settings
        self._endpoints: Endpoints | None = None
        self._lock = threading.Lock()

    def _unavailable(self, reason: str) -> ServiceUnavailableError:
        return ServiceUnavailableError(self.settings.name, reason)

    def _get_json(self, url: str, **kwargs: Any) -> Any:
        try:
            resp = requests.get(url, timeout=TIMEOUT_S, **kwargs)
        except requests.RequestException as exc:
            log.warning("identity provider %s unreachable: %s", url, exc)
            raise self._unavailable("The identity provider cannot be reached") from None
        if resp.status_code in (401, 403):
            raise InvalidCredentialsError()
        if resp.status_code != 200:
            raise self._unavailable(f"The identity provider answered {resp.status_code}")
        try:
            return resp.json()
        except ValueError:
            raise self._unavailable("The identity provider answered no JSON") from None

    def endpoints(self) -> Endpoints:
        with self._lock:
            if self._endpoints is None:
                self._endpoints = self._discover()
            return self._endpoints

    def _discover(self) -> Endpoints:
        s = self.settings
        if s.driver != "openid":
            assert s.authorize_url and s.access_url
            return Endpoints(s.authorize_url, s.access_url, s.profile_url)
        url = str(s.issuer_url)
        if "/.well-known/" not in url:
            url = url.rstrip("/") + "/.well-known/openid-configuration"
        doc = self._get_json(url)
        try:
            return Endpoints(doc["authorization_endpoint"], doc["token_endpoint"],
                             doc.get("userinfo_endpoint"), doc["issuer"], doc["jwks_uri"])
        except (KeyError, TypeError):
            raise self._unavailable("The discovery document is incomplete") from None

    def _session(self, redirect_uri: str) -> OAuth2Session:
        s = self.settings
        return OAuth2Session(s.client_id, s.client_secret, scope=s.scope,
                             redirect_uri=redirect_uri, code_challenge_method="S256",
                             default_timeout=TIMEOUT_S)

    def authorization_url(self, redirect_uri: str, state: str, nonce: str,
                          verifier: str) -> str:
        extra = {"nonce": nonce} if self.settings.driver == "openid" else {}
        with self._session(redirect_uri) as session:
            url, _ = session.create_authorization_url(
                self.endpoints().authorize, state=state, code_verifier=verifier, **extra)
        return str(url)

    def exchange(self, code: str, verifier: str, redirect_uri: str,
                 nonce: str) -> dict[str, Any]:
        """The user's claims for an authorization code: the ID token's (checked: signature,
        issuer, audience, expiry, nonce) merged with the userinfo or profile answer."""
        ends = self.endpoints()
        try:
            with self._session(redirect_uri) as session:
                token = session.fetch_token(ends.token, grant_type="authorization_code",
                                            code=code, code_verifier=verifier)
        except (OAuth2Error, OAuthError) as exc:
            log.info("provider %s refused the code: %s", self.settings.name, exc)
            raise InvalidCredentialsError() from None
        except requests.RequestException as exc:
            log.warning("token endpoint %s unreachable: %s", ends.token, exc)
            raise self._unavailable("The identity provider cannot be reached") from None
        access = token.get("access_token")
        claims: dict[str, Any] = {}
        if self.settings.driver == "openid":
            claims.update(self._id_token_claims(token.get("id_token"), nonce, ends))
        if ends.userinfo and access:
            info = self._get_json(ends.userinfo,
                                  headers={"Authorization": f"Bearer {access}"})
            if isinstance(info, dict):
                if "sub" in claims and info.get("sub", claims["sub"]) != claims["sub"]:
                    raise InvalidCredentialsError()  # userinfo of somebody else
                claims = {**info, **claims}
        return claims

    def _id_token_claims(self, id_token: Any, nonce: str, ends: Endpoints) -> dict[str, Any]:
        if not isinstance(id_token, str):
            raise InvalidCredentialsError()
        assert ends.jwks_uri is not None
        keys = KeySet.import_key_set(self._get_json(ends.jwks_uri))
        try:
            decoded = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
            jwt.JWTClaimsRegistry(
                leeway=60,
                iss={"essential": True, "value": ends.issuer},
                aud={"essential": True, "value": self.settings.client_id},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            log.warning("provider %s: ID token refused: %s", self.settings.name, exc)
            raise InvalidCredentialsError() from None
        return dict(decoded.claims)
