"""Fixtures for transom-auth-jwt: apps with a fast login stall and a ``/test/whoami`` route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Blueprint
from transom_auth_jwt import CLAIMS_KEY, request_claims

from transom import hookimpl
from transom.http.context import get_accountability
from transom.http.responses import json_response

FAST = {"LOGIN_STALL_TIME": "0"}

whoami_bp = Blueprint("test_whoami", __name__)


@whoami_bp.get("/test/whoami")
def whoami() -> Any:
    acc = get_accountability()
    return json_response({"data": {
        "user": acc.user, "role": acc.role, "admin": acc.admin, "app": acc.app,
        "session": acc.session, "ip": acc.ip,
        "claims": acc.extra.get(CLAIMS_KEY), "request_claims": request_claims(),
    }})


class WhoAmI:
    """A test-only plugin: tells who the kernel thinks is calling."""

    name = "test_whoami"

    @hookimpl
    def register_blueprints(self, cms: Any) -> Any:
        return whoami_bp


@pytest.fixture
def auth_app(make_app: Callable[..., Any]) -> Callable[..., Any]:
    """``auth_app(**config)``: an app with the plugin, LOGIN_STALL_TIME=0 unless given."""
    def factory(plugins: list[Any] | None = None, **config: Any) -> Any:
        return make_app(config={**FAST, **config}, plugins=[WhoAmI(), *(plugins or [])])

    return factory


@pytest.fixture
def app(auth_app: Callable[..., Any]) -> Any:
    return auth_app()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()
