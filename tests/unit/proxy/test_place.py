"""The Place stage: a denial refuses the request, in shadow mode it is only logged."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from structlog.testing import capture_logs

from gateway.errors import Forbidden
from gateway.identity.principal import Principal
from gateway.policy.decide import Decision
from gateway.proxy.context import RequestContext
from gateway.proxy.stages import Place

DENY = Decision("deny", "origin_denied", "requests from RU are not served", "origin.tier3", "h" * 64, "tier1")
ALLOW = Decision("allow", "allowed", "ok", "rules.tier1", "h" * 64, "tier1")


class Standings:
    """Answers as the standing cache does once a customer is known (its decide() only)."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        self.asked: list[tuple[Any, ...]] = []

    def decide(self, customer_id: uuid.UUID, action: str, region: str, origin: str | None) -> Decision:
        self.asked.append((customer_id, action, region, origin))
        return self.decision


def context(origin: str | None = "RU") -> RequestContext:
    ctx = RequestContext({"headers": [], "client": ("127.0.0.1", 1)}, None)
    ctx.principal = Principal(uuid.uuid4(), uuid.uuid4(), "0" * 16)
    ctx.upstream = SimpleNamespace(region="US")  # type: ignore[assignment]
    ctx.origin_country = origin
    return ctx


async def test_a_denial_refuses_with_its_code_and_records_the_policy() -> None:
    standings = Standings(DENY)
    ctx = context()
    with pytest.raises(Forbidden) as err:
        await Place(standings)(ctx)  # type: ignore[arg-type]
    assert err.value.code == "origin_denied" and ctx.policy_hash == "h" * 64
    assert standings.asked == [(ctx.principal.customer_id, "inference", "US", "RU")]  # type: ignore[union-attr]


async def test_shadow_mode_logs_and_lets_through() -> None:
    ctx = context()
    with capture_logs() as logs:
        await Place(Standings(DENY), shadow=True)(ctx)  # type: ignore[arg-type]
    assert [e["event"] for e in logs] == ["policy_would_deny"]
    assert logs[0]["code"] == "origin_denied" and ctx.policy_hash == "h" * 64


async def test_nothing_forwarded_nothing_decided() -> None:
    standings = Standings(DENY)
    ctx = context()
    ctx.upstream = None
    await Place(standings)(ctx)  # type: ignore[arg-type]
    assert standings.asked == [] and ctx.policy_hash is None
    await Place(Standings(ALLOW))(context())  # type: ignore[arg-type]
