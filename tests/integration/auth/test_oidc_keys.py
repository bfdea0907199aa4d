"""Where the validator gets the issuer's keys: discovery, JWKS cache, rotation, outages, stampedes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import msgspec
import pytest
from structlog.testing import capture_logs

from gateway.auth import OIDCValidator
from gateway.errors import ServiceUnavailable, Unauthorized
from tests.oidc_fixtures import Clock
from tests.oidc_issuer import AUDIENCE, SigningKey, TestIssuer

Make = Callable[..., OIDCValidator]


def fetches(issuer: TestIssuer) -> tuple[int, int]:
    return issuer.discovery_fetches, issuer.jwks_fetches


async def unavailable(validator: OIDCValidator, token: str) -> str:
    with pytest.raises(ServiceUnavailable) as info:
        await validator.validate(token)
    assert (info.value.code, info.value.status) == ("oidc_unavailable", 503)
    return info.value.message


async def test_cold_cache_concurrent_validations_fetch_once(
    oidc_issuer: TestIssuer, make_validator: Make
) -> None:
    validator = make_validator()
    tokens = [oidc_issuer.sign(sub=f"user-{i}") for i in range(50)]
    d0, j0 = fetches(oidc_issuer)
    with oidc_issuer.holding_jwks() as hold:
        tasks = [asyncio.ensure_future(validator.validate(t)) for t in tokens]
        await hold.wait_arrived()  # every task has run up to the fetch in flight by now
        hold.release()
        claims = await asyncio.gather(*tasks)
    assert [c.subject for c in claims] == [f"user-{i}" for i in range(50)]
    assert fetches(oidc_issuer) == (d0 + 1, j0 + 1)


async def test_keys_are_cached_then_refetched_after_cache_seconds(
    oidc_issuer: TestIssuer, make_validator: Make, clock: Clock
) -> None:
    validator = make_validator(cache_seconds=300)
    await validator.validate(oidc_issuer.sign())
    d0, j0 = fetches(oidc_issuer)
    clock.advance(299)
    await validator.validate(oidc_issuer.sign())
    assert fetches(oidc_issuer) == (d0, j0)
    clock.advance(1)
    await validator.validate(oidc_issuer.sign())
    assert fetches(oidc_issuer) == (d0 + 1, j0 + 1)


async def test_unknown_kid_after_rotation_refetches_once_then_validates(
    oidc_issuer: TestIssuer, make_validator: Make, clock: Clock
) -> None:
    validator = make_validator(min_refresh_seconds=30)
    old_token = oidc_issuer.sign()
    await validator.validate(old_token)
    new_key = oidc_issuer.rotate("RSA", keep_old=True)
    clock.advance(30)
    _, j0 = fetches(oidc_issuer)
    with oidc_issuer.holding_jwks() as hold:
        # The other nine see the new kid while the first one's refetch is in flight: they wait for it.
        tasks = [asyncio.ensure_future(validator.validate(oidc_issuer.sign())) for _ in range(10)]
        await hold.wait_arrived()
        hold.release()
        claims = await asyncio.gather(*tasks)
    assert len(claims) == 10 and oidc_issuer.current_kid("RSA") == new_key.kid
    assert fetches(oidc_issuer)[1] == j0 + 1
    await validator.validate(old_token)  # the old key is still published
    assert fetches(oidc_issuer)[1] == j0 + 1


async def test_unknown_kid_refetch_is_rate_limited(
    oidc_issuer: TestIssuer, make_validator: Make, clock: Clock
) -> None:
    validator = make_validator(min_refresh_seconds=30)
    await validator.validate(oidc_issuer.sign())
    stranger = SigningKey.generate("RSA", kid="never-published")
    token = stranger.sign(oidc_issuer.claims())
    _, j0 = fetches(oidc_issuer)
    for _ in range(5):  # within min_refresh_seconds of the last fetch: no fetch at all
        with pytest.raises(Unauthorized) as info:
            await validator.validate(token)
        assert info.value.code == "invalid_token"
        assert "key 'never-published' is not among the issuer's published keys" in info.value.message
    assert fetches(oidc_issuer)[1] == j0
    clock.advance(30)
    with pytest.raises(Unauthorized, match="not among the issuer's published keys"):
        await validator.validate(token)
    assert fetches(oidc_issuer)[1] == j0 + 1


async def test_key_withdrawn_by_the_issuer_is_dropped_on_refresh(
    oidc_issuer: TestIssuer, make_validator: Make, clock: Clock
) -> None:
    validator = make_validator(cache_seconds=300)
    old_token = oidc_issuer.sign(alg="ES256", exp=int(clock.now) + 3600)
    await validator.validate(old_token)
    oidc_issuer.rotate("EC", keep_old=False)
    clock.advance(299)
    await validator.validate(old_token)  # cached keys still hold it
    clock.advance(1)
    await validator.validate(oidc_issuer.sign(alg="ES256", exp=int(clock.now) + 60))
    with pytest.raises(Unauthorized, match="not among the issuer's published keys") as info:
        await validator.validate(old_token)
    assert info.value.code == "invalid_token"


async def test_outage_with_warm_cache_keeps_validating(
    oidc_issuer: TestIssuer, make_validator: Make, clock: Clock
) -> None:
    validator = make_validator(cache_seconds=300, min_refresh_seconds=30)
    token = oidc_issuer.sign(exp=int(clock.now) + 3600)
    await validator.validate(token)
    with oidc_issuer.down(), capture_logs() as logs:
        clock.advance(301)
        d0, _ = fetches(oidc_issuer)
        assert (await validator.validate(token)).subject
        assert fetches(oidc_issuer)[0] == d0 + 1  # it tried, failed, and used the cached keys
        await validator.validate(token)
        assert fetches(oidc_issuer)[0] == d0 + 1  # and does not retry on every request
    failures = [e for e in logs if e["event"] == "oidc_keys_refresh_failed"]
    assert len(failures) == 1 and failures[0]["cached_keys"] >= 2 and "HTTP 500" in failures[0]["error"]
    assert token not in repr(logs)
    clock.advance(30)
    d0, j0 = fetches(oidc_issuer)
    await validator.validate(token)
    assert fetches(oidc_issuer) == (d0 + 1, j0 + 1)  # recovered


async def test_outage_with_cold_cache_fails_closed(
    oidc_issuer: TestIssuer, make_validator: Make, clock: Clock
) -> None:
    validator = make_validator()
    token = oidc_issuer.sign()
    with oidc_issuer.down(), capture_logs() as logs:
        message = await unavailable(validator, token)
        assert "signing keys are unavailable" in message and "answered HTTP 500" in message
        d0, _ = fetches(oidc_issuer)
        await unavailable(validator, token)  # a failure a moment ago is not retried at once
        assert fetches(oidc_issuer)[0] == d0
    assert token not in repr(logs)
    clock.advance(1)
    assert (await validator.validate(token)).issuer == oidc_issuer.issuer


async def test_unreachable_issuer_fails_closed(clock: Clock) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    validator = OIDCValidator(f"http://127.0.0.1:{dead_port}/realms/x", AUDIENCE, clock=clock)
    try:
        message = await unavailable(validator, SigningKey.generate("EC").sign({"sub": "x"}, "ES256"))
    finally:
        await validator.close()
    assert f"GET http://127.0.0.1:{dead_port}/realms/x/.well-known/openid-configuration failed" in message


@pytest.mark.parametrize(
    ("discovery", "fragment"),
    [
        ({"issuer": "http://127.0.0.1:1/realms/other", "jwks_uri": "http://x/certs"}, "names issuer"),
        ({"issuer": "{issuer}"}, "discovery document is invalid"),
        ({"issuer": "{issuer}", "jwks_uri": "ftp://x/certs"}, "is not an https URL"),
    ],
)
async def test_bad_discovery_document(
    oidc_issuer: TestIssuer, clock: Clock, discovery: dict[str, str], fragment: str
) -> None:
    doc = {k: v.format(issuer=oidc_issuer.issuer) for k, v in discovery.items()}
    urls: list[str] = []

    async def fetch(url: str) -> bytes:
        urls.append(url)
        return msgspec.json.encode(doc if url.endswith("/openid-configuration") else oidc_issuer.jwks())

    validator = OIDCValidator(oidc_issuer.issuer, AUDIENCE, fetch=fetch, clock=clock)
    assert fragment in await unavailable(validator, oidc_issuer.sign())
    assert urls == [oidc_issuer.issuer + "/.well-known/openid-configuration"]


@pytest.mark.parametrize(
    ("jwks", "fragment"),
    [
        (b"not json", "the JWKS is invalid"),
        (b'{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}', "holds no public signing keys (1 keys in all)"),
        (b'{"keys": [{"kty": "RSA", "n": "AQAB"}]}', "could not be imported"),
    ],
)
async def test_bad_jwks(oidc_issuer: TestIssuer, clock: Clock, jwks: bytes, fragment: str) -> None:
    async def fetch(url: str) -> bytes:
        if url.endswith("/openid-configuration"):
            return msgspec.json.encode({"issuer": oidc_issuer.issuer, "jwks_uri": oidc_issuer.jwks_uri})
        return jwks

    validator = OIDCValidator(oidc_issuer.issuer, AUDIENCE, fetch=fetch, clock=clock)
    assert fragment in await unavailable(validator, oidc_issuer.sign())


async def test_symmetric_keys_in_the_jwks_are_never_used(oidc_issuer: TestIssuer, clock: Clock) -> None:
    async def fetch(url: str) -> bytes:
        if url.endswith("/openid-configuration"):
            return msgspec.json.encode({"issuer": oidc_issuer.issuer, "jwks_uri": oidc_issuer.jwks_uri})
        jwks = oidc_issuer.jwks()
        return msgspec.json.encode(
            {"keys": [{"kty": "oct", "kid": "shared", "k": "c2VjcmV0"}, *jwks["keys"]]}
        )

    validator = OIDCValidator(oidc_issuer.issuer, AUDIENCE, ("RS256",), fetch=fetch, clock=clock)
    assert (await validator.validate(oidc_issuer.sign())).audience == (AUDIENCE,)
    token = SigningKey.generate("RSA", kid="shared").sign(oidc_issuer.claims())
    with pytest.raises(Unauthorized, match="key 'shared' is not among"):
        await validator.validate(token)
