"""LDAP login for Transom."""

from __future__ import annotations
