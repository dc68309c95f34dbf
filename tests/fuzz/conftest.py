"""Settings of the fuzz layer: a bounded pass in CI, a long pass on demand.

``FUZZ_PROFILE=ci`` (the default) keeps each database to about a minute; ``FUZZ_PROFILE=long``
runs 10,000 examples per test; ``FUZZ_EXAMPLES=N`` sets the number of examples outright.
Examples are reproducible: Hypothesis derandomises the CI profile, and prints the seed of
any failure in the long one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                              HealthCheck.filter_too_much, HealthCheck.data_too_large],
    "database": None,
    "print_blob": True,
}
settings.register_profile("ci", max_examples=300, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=10_000, **_COMMON)
settings.load_profile(os.environ.get("FUZZ_PROFILE", "ci"))
if os.environ.get("FUZZ_EXAMPLES"):
    settings.register_profile("custom", parent=settings.get_profile(
        os.environ.get("FUZZ_PROFILE", "ci")), max_examples=int(os.environ["FUZZ_EXAMPLES"]))
    settings.load_profile("custom")



def check_answer(status: int, body: bytes | str, what: Any) -> None:
    """Fail with the request (``what``) when the answer is a 5xx or a 4xx without
    ``{"errors": [{"message": ..., "extensions": {"code": ...}}]}``."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    assert status < 500, f"{status} for {what!r}: {text[:500]}"
    if 400 <= status < 500:
        try:
            doc = json.loads(text)
        except ValueError:
            raise AssertionError(f"{status} without a JSON envelope for {what!r}: "
                                 f"{text[:300]}") from None
        errors = doc.get("errors") if isinstance(doc, dict) else None
        assert isinstance(errors, list) and errors, f"no errors[] for {what!r}: {text[:300]}"
        for err in errors:
            assert isinstance(err.get("message"), str), f"no message for {what!r}: {text}"
            assert isinstance((err.get("extensions") or {}).get("code"), str), \
                f"no extensions.code for {what!r}: {text[:300]}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A long pass may take many minutes: lift pytest-timeout for the fuzz tests then."""
    limit = 0 if os.environ.get("FUZZ_PROFILE") == "long" or os.environ.get(
        "FUZZ_EXAMPLES") else 600
    for item in items:
        if "fuzz" in item.nodeid.split("::")[0]:
            item.add_marker(pytest.mark.timeout(limit))


@pytest.fixture
def answer_ok() -> Callable[[int, bytes | str, Any], None]:
    """:func:`check_answer`, for the fuzz tests."""
    return check_answer
