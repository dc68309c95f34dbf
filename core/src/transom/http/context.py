"""Per-request access to the kernel and the caller, resolved lazily and once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app, g, request

from ..accountability import Accountability

if TYPE_CHECKING:
    from flask import Request

    from ..kernel import Transom


def current_cms() -> Transom:
    return current_app.extensions["transom"]


#: where :func:`client_ip` keeps its answer for the rest of the request
_IP_KEY = "transom.client_ip"
_UNSET = object()


def client_ip() -> str | None:
    """The caller's address; trusts ``X-Forwarded-For`` only when ``IP_TRUST_PROXY`` is on.

    Worked out once per request (kept in the WSGI environ): authentication, the rate limiter
    and the request log all ask."""
    req = request._get_current_object()  # type: ignore[attr-defined]  # not the proxy
    environ = req.environ
    ip = environ.get(_IP_KEY, _UNSET)
    if ip is _UNSET:
        ip = _client_ip(req)
        environ[_IP_KEY] = ip
    return ip  # type: ignore[return-value]


def _client_ip(req: Request) -> str | None:
    if current_cms().config.get("IP_TRUST_PROXY"):
        forwarded = req.headers.get("X-Forwarded-For")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return req.remote_addr


def get_accountability() -> Accountability:
    """Who is calling; resolved through ``accountability_from_request`` on first use."""
    acc = g.get("_transom_accountability")
    if acc is not None:
        return acc
    cms = current_cms()
    req = request._get_current_object()  # type: ignore[attr-defined]  # not the proxy
    acc = cms.hook.accountability_from_request(cms=cms, request=req)
    if acc is None:  # the caller's address, so that the public policies' ip_access applies
        acc = cms.access.public(client_ip())
    headers = req.headers
    acc = acc.with_request(client_ip(), headers.get("User-Agent"), headers.get("Origin"))
    g._transom_accountability = acc
    return acc
