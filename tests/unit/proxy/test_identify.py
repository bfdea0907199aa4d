"""A genuine key that is refused still names its customer, so the ledger can record the refusal."""

from __future__ import annotations

import uuid

import pytest

from gateway.errors import GatewayError, Unauthorized
from gateway.identity import Principal
from gateway.identity.cache import IdentityUnavailable, RevokedKey
from gateway.proxy.context import RequestContext
from gateway.proxy.stages import Identify

OWNER = Principal(uuid.uuid4(), uuid.uuid4(), "0123456789abcdef")


class Refusing:
    def __init__(self, error: GatewayError) -> None:
        self.error = error

    def authenticate(self, presented: str | None) -> Principal:
        raise self.error


def context() -> RequestContext:
    scope = {"headers": [(b"authorization", b"Bearer gk_x")], "client": ("127.0.0.1", 1)}
    return RequestContext(scope, None)


@pytest.mark.parametrize(
    ("error", "principal"),
    [
        (RevokedKey(OWNER), OWNER),
        (IdentityUnavailable(OWNER), OWNER),  # a stale cache, but the key matches the one it holds
        (IdentityUnavailable(None), None),  # ... or matches none: nobody to name
        (Unauthorized("no", code="invalid_api_key"), None),
    ],
)
async def test_refused_keys_name_their_owner_when_genuine(
    error: GatewayError, principal: Principal | None
) -> None:
    ctx = context()
    with pytest.raises(GatewayError) as refused:
        await Identify(Refusing(error))(ctx)  # type: ignore[arg-type]
    assert refused.value is error
    assert ctx.principal == principal
