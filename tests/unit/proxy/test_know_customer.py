"""KnowCustomer keeps the standing it checked on the request; the Meter stage holds quota to it."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from gateway.identity.principal import Principal
from gateway.proxy.context import RequestContext
from gateway.proxy.stages import KnowCustomer, Meter

STANDING = object()


class Standings:
    """Answers as the standing cache does for a customer it lets through (its check() only)."""

    def __init__(self) -> None:
        self.checked: list[uuid.UUID] = []

    def check(self, customer_id: uuid.UUID) -> object:
        self.checked.append(customer_id)
        return STANDING


class QuotaMeter:
    def __init__(self) -> None:
        self.admitted: list[tuple[Any, ...]] = []

    async def admit(self, principal: Principal, standing: object, estimate: object) -> str:
        self.admitted.append((principal, standing, estimate))
        return "admission"


def context() -> RequestContext:
    ctx = RequestContext({"headers": [], "client": ("127.0.0.1", 1)}, None)
    ctx.principal = Principal(uuid.uuid4(), uuid.uuid4(), "0" * 16)
    return ctx


async def test_the_standing_checked_is_the_one_quota_is_held_to() -> None:
    standings, meter = Standings(), QuotaMeter()
    ctx = context()
    assert ctx.standing is None
    await KnowCustomer(standings)(ctx)  # type: ignore[arg-type]
    assert standings.checked == [ctx.principal.customer_id]  # type: ignore[union-attr]
    assert ctx.standing is STANDING
    ctx.upstream = SimpleNamespace()  # type: ignore[assignment]
    ctx.route = SimpleNamespace(reads_tokens=True, writes_tokens=True)  # type: ignore[assignment]
    ctx.head = SimpleNamespace(output_cap=lambda: 100)  # type: ignore[assignment]
    ctx.body = b"x" * 40
    prices = SimpleNamespace(for_model=lambda _model: None)
    await Meter(meter, 4096, lambda: prices)(ctx)  # type: ignore[arg-type]
    assert ctx.admission == "admission"
    [(principal, standing, estimate)] = meter.admitted
    assert principal is ctx.principal and standing is STANDING
    assert (estimate.requests, estimate.output_tokens) == (1, 100)
