"""Prometheus metrics for Transom."""
