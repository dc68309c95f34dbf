"""OpenID Connect and OAuth2 single sign-on for Transom."""

from __future__ import annotations
