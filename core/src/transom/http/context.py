"""Per-request access to the kernel and the caller, resolved lazily and once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app, g, request

from ..accountability import Accountability

if TYPE_CHECKING:
    from ..kernel import Transom


def current_cms() -> Transom:
    return current_app.extensions["transom"]


def client_ip() -> str | None:
    """The caller's address; trusts ``X-Forwarded-For`` only when ``IP_TRUST_PROXY`` is on."""
    cms = current_cms()
    if cms.config.get("IP_TRUST_PROXY"):
        forwarded = request.headers.get("X-Forwarded-For")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.remote_addr


def get_accountability() -> Accountability:
    """Who is calling; resolved through ``accountability_from_request`` on first use."""
    acc = g.get("_transom_accountability")
    if acc is not None:
        return acc
    cms = current_cms()
    req = request._get_current_object()  # type: ignore[attr-defined]  # not the proxy
    acc = cms.hook.accountability_from_request(cms=cms, request=req)
    if acc is None:
        acc = cms.access.public()
    headers = req.headers
    acc = acc.with_request(client_ip(), headers.get("User-Agent"), headers.get("Origin"))
    g._transom_accountability = acc
    return acc
