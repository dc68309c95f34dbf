"""Admin web app (Data Studio) for Transom editors and administrators."""

from __future__ import annotations
