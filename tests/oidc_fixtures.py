"""The loopback OIDC issuer as a session fixture (and a settable clock); import it into a conftest:

    from tests.oidc_fixtures import oidc_issuer  # noqa: F401

Tests share one issuer: they sign with its current keys (so a rotation in one test does not
break the next) and scope outages with ``with oidc_issuer.down():``, so order does not matter.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.oidc_issuer import TestIssuer


class Clock:
    """Wall time that a test moves forward by hand."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))  # whole seconds, like the NumericDate claims

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def oidc_issuer() -> Iterator[TestIssuer]:
    issuer = TestIssuer().start()
    try:
        yield issuer
    finally:
        issuer.stop()
