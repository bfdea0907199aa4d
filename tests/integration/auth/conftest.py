"""Fixtures for the OIDC tests: the loopback issuer, a settable clock, validators closed after use."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gateway.auth import OIDCValidator
from tests.oidc_fixtures import Clock
from tests.oidc_issuer import AUDIENCE, TestIssuer


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def make_validator(
    oidc_issuer: TestIssuer,
    clock: Clock,
) -> AsyncIterator[Callable[..., OIDCValidator]]:
    made: list[OIDCValidator] = []

    def make(**options: Any) -> OIDCValidator:
        options.setdefault("clock", clock)
        validator = OIDCValidator(oidc_issuer.issuer, AUDIENCE, **options)
        made.append(validator)
        return validator

    yield make
    for validator in made:
        await validator.close()
