"""Internationalisation helpers for Transom."""
