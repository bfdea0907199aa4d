"""The validator refuses, at construction, any algorithm outside the public-key allow-list."""

from __future__ import annotations

import pytest

from gateway.auth import OIDCValidator
from gateway.auth.oidc import ALLOWED_ALGORITHMS

ISSUER = "http://127.0.0.1:9/realms/x"


@pytest.mark.parametrize(
    "algorithms",
    [("HS256",), ("none",), ("RS256", "HS256"), ("HS384",), ("HS512",), ("ES256K",), ("rs256",)],
)
def test_refuses_algorithms_outside_the_allow_list(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="is not allowed for OIDC tokens; use public-key algorithms only"):
        OIDCValidator(ISSUER, "gateway-kyc", algorithms)


@pytest.mark.parametrize("algorithms", [(), "RS256"])
def test_refuses_an_empty_or_bare_string_algorithm_list(algorithms: tuple[str, ...] | str) -> None:
    with pytest.raises(ValueError, match="non-empty sequence of algorithm names"):
        OIDCValidator(ISSUER, "gateway-kyc", algorithms)


PUBLIC_KEY_ALGORITHMS = [
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
]


def test_accepts_every_public_key_algorithm_and_nothing_else() -> None:
    assert set(PUBLIC_KEY_ALGORITHMS) == ALLOWED_ALGORITHMS
    for alg in PUBLIC_KEY_ALGORITHMS:
        OIDCValidator(ISSUER, "gateway-kyc", [alg])


@pytest.mark.parametrize(("issuer", "audience"), [("", "gateway-kyc"), (ISSUER, "")])
def test_refuses_an_empty_issuer_or_audience(issuer: str, audience: str) -> None:
    with pytest.raises(ValueError, match="issuer and audience must be non-empty"):
        OIDCValidator(issuer, audience)
