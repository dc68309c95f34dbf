"""Where a request's token comes from: header, query string, or session cookie."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidPayloadError

SESSION_COOKIE_DEFAULT = "directus_session_token"


def extract_token(request: Any, session_cookie: str = SESSION_COOKIE_DEFAULT) -> str | None:
    """The token a request carries, or None.

    Both a query token and a header token is an error (RFC 6750: one method only); the
    session cookie is used only when neither is present.
    """
    memo = request.environ.get("transom.token", _UNSET)
    if memo is not _UNSET:
        return memo  # every token plugin asks; the headers are read once per request
    token = _extract(request, session_cookie)
    request.environ["transom.token"] = token
    return token


_UNSET = object()


def _extract(request: Any, session_cookie: str) -> str | None:
    query_token = request.args.get("access_token")
    header = request.headers.get("Authorization", "")
    header_token = None
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            header_token = value.strip()
    if query_token and header_token:
        raise InvalidPayloadError("The request uses more than one method for including an "
                                  "access token")
    token = header_token or query_token
    if token:
        return token
    return request.cookies.get(session_cookie) or None


def looks_like_jwt(token: str) -> bool:
    parts = token.split(".")
    return len(parts) == 3 and all(parts[:2])
