"""A real OpenID Connect provider for the SSO tests, and a browser-less user agent.

``oidc_idp`` runs ``oidc_provider_mock`` (a complete authorization server) as an HTTP server
on a free port of 127.0.0.1 in a thread, for the session. ``Browser`` walks the
authorization-code flow the way a browser does: our start route, the provider's login form
(submitted with the chosen subject), our callback, each redirect by hand so every step can be
inspected or tampered with.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import oidc_provider_mock
import pytest
import requests
import werkzeug.serving

from transom.testing.helpers import RedirectBrowser


@dataclass(frozen=True)
class Idp:
    url: str

    def set_user(self, sub: str, **claims: Any) -> None:
        """Give the subject these claims in its next ID tokens and userinfo answers."""
        resp = requests.put(f"{self.url}/users/{sub}", json=claims, timeout=10)
        assert resp.status_code == 204, resp.text

    def settings(self, name: str = "google", **extra: str) -> dict[str, str]:
        """Directus-style settings of an ``openid`` provider using this server."""
        prefix = f"AUTH_{name.upper()}_"
        base = {"DRIVER": "openid", "CLIENT_ID": "transom-test", "CLIENT_SECRET": "s3cret",
                "ISSUER_URL": self.url, "ALLOW_PUBLIC_REGISTRATION": "true", **extra}
        return {"AUTH_PROVIDERS": name, **{prefix + k: v for k, v in base.items()}}


@pytest.fixture(scope="session")
def oidc_idp() -> Iterator[Idp]:
    app = oidc_provider_mock.app(require_nonce=True)
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    try:
        yield Idp(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class Browser(RedirectBrowser):
    """One user agent (see :class:`RedirectBrowser`) walking the authorization-code flow:
    our start route, the provider's login form, our callback."""

    def authorize(self, location: str, sub: str) -> str:
        """Log in at the provider as ``sub``; the callback URL it redirects to."""
        form = self.http.get(location, allow_redirects=False, timeout=30)
        assert form.status_code == 200, form.text
        resp = self.http.post(location, data={"sub": sub}, allow_redirects=False, timeout=30)
        assert resp.status_code == 302, resp.text
        return resp.headers["Location"]

    def start(self, provider: str = "google", redirect: str | None = None) -> str:
        """Our start route; the provider's authorization URL it redirects to."""
        url = f"/auth/login/{provider}"
        if redirect:
            url += "?" + urlencode({"redirect": redirect})
        status, headers, body, _ = self.get(url)
        assert status == 302, body
        return headers["Location"]

    def login(self, sub: str, provider: str = "google", redirect: str | None = None
              ) -> tuple[int, dict[str, str], Any, Any]:
        callback = self.authorize(self.start(provider, redirect), sub)
        return self.get(callback)


@pytest.fixture
def browser_cls() -> type[Browser]:
    return Browser
