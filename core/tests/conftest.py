"""Shared fixtures for core tests: the sample blog of ``transom.testing.helpers``."""

from __future__ import annotations

from typing import Any

import pytest

from transom.testing.helpers import seed_blog


@pytest.fixture
def blog(app: Any) -> Any:
    seed_blog(app)
    return app


@pytest.fixture
def blog_o2m(app: Any) -> Any:
    """The blog with the ``articles.comments`` o2m alias declared."""
    seed_blog(app, o2m=True)
    return app
