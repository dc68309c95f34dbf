"""Flows and operations (Directus-compatible automation) for Transom."""

from __future__ import annotations
