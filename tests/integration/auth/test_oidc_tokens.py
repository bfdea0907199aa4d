"""Which tokens the OIDC validator accepts, and the precise reason it gives for refusing the rest."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from gateway.auth import Claims, OIDCValidator
from gateway.errors import Unauthorized
from tests.oidc_fixtures import Clock
from tests.oidc_issuer import AUDIENCE, SUBJECT, SigningKey, TestIssuer, b64url, forge_token

Make = Callable[..., OIDCValidator]


async def refused(validator: OIDCValidator, token: str) -> str:
    with pytest.raises(Unauthorized) as info:
        await validator.validate(token)
    assert (info.value.code, info.value.status) == ("invalid_token", 401)
    return info.value.message


async def test_valid_rs256_token(oidc_issuer: TestIssuer, make_validator: Make, clock: Clock) -> None:
    exp = int(clock.now) + 300
    token = oidc_issuer.sign(exp=exp, email="ada@example.com", name="Ada Lovelace")
    claims = await make_validator().validate(token)
    assert claims == Claims(oidc_issuer.issuer, SUBJECT, (AUDIENCE,), exp, "ada@example.com", "Ada Lovelace")


async def test_valid_es256_token(oidc_issuer: TestIssuer, make_validator: Make) -> None:
    token = oidc_issuer.sign(alg="ES256", sub="ec-user")
    assert jwt.get_unverified_header(token)["kid"] == oidc_issuer.current_kid("EC")
    claims = await make_validator().validate(token)
    assert (claims.subject, claims.email, claims.name) == ("ec-user", None, None)


async def test_audience_list_that_includes_ours(oidc_issuer: TestIssuer, make_validator: Make) -> None:
    claims = await make_validator().validate(oidc_issuer.sign(aud=["account", AUDIENCE]))
    assert claims.audience == ("account", AUDIENCE)


async def test_expiry_allows_the_leeway_and_no_more(
    oidc_issuer: TestIssuer, make_validator: Make, clock: Clock
) -> None:
    validator = make_validator(leeway_seconds=30)
    now = int(clock.now)
    assert (await validator.validate(oidc_issuer.sign(exp=now - 29))).expires_at == now - 29
    message = await refused(validator, oidc_issuer.sign(exp=now - 31))
    assert "expired at" in message and "leeway 30 s" in message


async def test_not_yet_valid(oidc_issuer: TestIssuer, make_validator: Make, clock: Clock) -> None:
    message = await refused(make_validator(), oidc_issuer.sign(nbf=int(clock.now) + 120))
    assert "not valid before" in message


async def test_issued_in_the_future(oidc_issuer: TestIssuer, make_validator: Make, clock: Clock) -> None:
    message = await refused(make_validator(), oidc_issuer.sign(iat=int(clock.now) + 600))
    assert "issued in the future" in message


@pytest.mark.parametrize(
    "near_miss",
    [
        lambda iss: iss + "-other",
        lambda iss: iss + "/",
        lambda iss: iss[:-1],
        lambda iss: "https://evil.example",
    ],
    ids=["longer", "trailing-slash", "prefix", "other"],
)
async def test_wrong_issuer_exact_match_only(
    oidc_issuer: TestIssuer, make_validator: Make, near_miss: Callable[[str], str]
) -> None:
    # A substring or prefix match (PyJWT CVE-2024-53861) would let the near misses through.
    iss = near_miss(oidc_issuer.issuer)
    message = await refused(make_validator(), oidc_issuer.sign(iss=iss))
    assert f"issued by {iss!r}" in message and repr(oidc_issuer.issuer) in message


@pytest.mark.parametrize("aud", ["another-api", ["account", "another-api"], ""])
async def test_wrong_audience(oidc_issuer: TestIssuer, make_validator: Make, aud: object) -> None:
    message = await refused(make_validator(), oidc_issuer.sign(aud=aud))
    assert "audience" in message and repr(AUDIENCE) in message


@pytest.mark.parametrize("claim", ["sub", "exp", "iss", "aud"])
async def test_missing_essential_claim(oidc_issuer: TestIssuer, make_validator: Make, claim: str) -> None:
    message = await refused(make_validator(), oidc_issuer.sign({claim: None}))
    assert message == f"the token has no {claim!r} claim"


async def test_mistyped_claim(oidc_issuer: TestIssuer, make_validator: Make) -> None:
    message = await refused(make_validator(), oidc_issuer.sign(email=42))
    assert "claims are malformed" in message and "$.email" in message


async def test_signed_by_another_key_under_the_issuers_kid(
    oidc_issuer: TestIssuer, make_validator: Make
) -> None:
    impostor = SigningKey.generate("RSA", kid=oidc_issuer.current_kid("RSA"))
    message = await refused(make_validator(), impostor.sign(oidc_issuer.claims(sub="admin")))
    assert "signature does not verify" in message


async def test_payload_changed_after_signing(oidc_issuer: TestIssuer, make_validator: Make) -> None:
    head, _, signature = oidc_issuer.sign().split(".")
    payload = b64url(json.dumps(oidc_issuer.claims(sub="someone-else")).encode())
    message = await refused(make_validator(), f"{head}.{payload}.{signature}")
    assert "signature does not verify" in message


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_alg_none(oidc_issuer: TestIssuer, make_validator: Make, alg: str) -> None:
    header = {"alg": alg, "typ": "JWT", "kid": oidc_issuer.current_kid("RSA")}
    message = await refused(make_validator(), forge_token(header, oidc_issuer.claims()))
    assert f"algorithm {alg!r} is not allowed" in message


@pytest.mark.parametrize("secret_form", ["pem", "jwk"])
async def test_hmac_with_the_public_key_as_secret(
    oidc_issuer: TestIssuer, make_validator: Make, secret_form: str
) -> None:
    key = oidc_issuer.rsa_keys[-1]
    if secret_form == "pem":
        secret = key.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    else:
        secret = json.dumps(key.public_jwk()).encode()
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    token = forge_token(header, oidc_issuer.claims(), lambda data: hmac.digest(secret, data, hashlib.sha256))
    message = await refused(make_validator(), token)
    assert "algorithm 'HS256' is not allowed" in message


@pytest.mark.parametrize("name", ["jwk", "jku", "x5u", "x5c"])
async def test_key_carried_or_pointed_at_by_the_header(
    oidc_issuer: TestIssuer, make_validator: Make, name: str
) -> None:
    attacker = SigningKey.generate("RSA")
    attacker_url = f"{oidc_issuer.base_url}/attacker/{name}"
    value = {
        "jwk": attacker.public_jwk(),
        "jku": attacker_url,
        "x5u": attacker_url,
        "x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"],
    }[name]
    token = attacker.sign(oidc_issuer.claims(), "RS256", headers={name: value})
    message = await refused(make_validator(), token)
    assert f"carries {name!r}" in message and "published JWKS" in message
    assert not any(p.startswith("/attacker/") for p in oidc_issuer.paths)


async def test_unknown_critical_header(oidc_issuer: TestIssuer, make_validator: Make) -> None:
    token = oidc_issuer.sign(headers={"crit": ["b64"], "b64": False})
    message = await refused(make_validator(), token)
    assert "['b64'] as critical" in message


async def test_no_kid_while_the_issuer_publishes_several_keys(
    oidc_issuer: TestIssuer, make_validator: Make
) -> None:
    token = jwt.encode(oidc_issuer.claims(), oidc_issuer.rsa_keys[-1].private, algorithm="RS256")
    assert "kid" not in jwt.get_unverified_header(token)
    message = await refused(make_validator(), token)
    assert "names no key ('kid')" in message and "publishes" in message


async def test_kid_of_a_key_of_another_type(oidc_issuer: TestIssuer, make_validator: Make) -> None:
    token = oidc_issuer.sign(headers={"kid": oidc_issuer.current_kid("EC")})
    message = await refused(make_validator(), token)
    assert "RS256 does not fit the issuer's EC key" in message


@pytest.mark.parametrize(
    ("token", "fragment"),
    [
        ("", "3 dot-separated parts, not 1"),
        ("abc.def", "not 2"),
        ("a.b.c.d.e", "not 5"),
        ("!!!.e30.", "not base64url-encoded JSON"),
        (b64url(b"[1]") + ".e30.", "not a JSON object"),
        (b64url(b'{"typ":"JWT"}') + ".e30.", "has no 'alg'"),
        ("eyJhbGciOiJSUzI1NiJ9.ey\u00e9.x", "not ASCII"),
    ],
)
async def test_malformed(make_validator: Make, token: str, fragment: str) -> None:
    message = await refused(make_validator(), token)
    assert "malformed" in message and fragment in message


async def test_oversized_token_refused_before_any_fetch(
    oidc_issuer: TestIssuer, make_validator: Make
) -> None:
    token = oidc_issuer.sign(padding="x" * 9000)
    before = (oidc_issuer.discovery_fetches, oidc_issuer.jwks_fetches)
    message = await refused(make_validator(max_token_bytes=8192), token)
    assert "too large" in message and "8192-byte limit" in message
    assert (oidc_issuer.discovery_fetches, oidc_issuer.jwks_fetches) == before
