"""Static tokens: ``directus_users.token`` sent as a Bearer token, for service accounts.

Runs after token plugins that recognise their own format (JWTs in transom-auth-jwt), so a
token nobody recognises ends here as 401 ``INVALID_CREDENTIALS``.
"""

from __future__ import annotations

from typing import Any

from .. import hookimpl
from ..auth.tokens import extract_token
from ..errors import InvalidCredentialsError, UserSuspendedError
from ..http.context import client_ip


@hookimpl(trylast=True)
def accountability_from_request(cms: Any, request: Any) -> Any:
    cookie = cms.config.get("SESSION_COOKIE_NAME", "directus_session_token")
    token = extract_token(request, cookie)
    if not token:
        return None
    user = cms.access.user_by_static_token(token)
    if user is None:
        raise InvalidCredentialsError()
    if user["status"] != "active":
        raise UserSuspendedError() if user["status"] == "suspended" else \
            InvalidCredentialsError()
    return cms.access.for_user(str(user["id"]), user["role"], client_ip())
