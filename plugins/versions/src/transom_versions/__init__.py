"""Content versions (save, compare, promote) for Transom."""

from __future__ import annotations
