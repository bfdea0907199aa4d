"""[parameters.*]: matching rules merged into the tightest limits; a request checked against them."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest

from gateway.errors import Forbidden
from gateway.policy.detection import ParameterRule
from gateway.policy.parameters import Asked, Cap, Limits, check, merge
from gateway.proxy.adapters.base import decode_head
from gateway.proxy.stages import GuardParameters

from .helpers import SHIPPED, rebuilt


def test_the_tightest_limit_wins_and_every_rule_that_sets_it_is_named() -> None:
    limits = merge(
        [
            ("a", ParameterRule(max_top_logprobs=5, max_n=8)),
            ("b", ParameterRule(max_top_logprobs=3, deny_logit_bias_with_logprobs=True)),
            ("c", ParameterRule(max_top_logprobs=3, max_n=16, deny_logprobs=False)),
        ]
    )
    assert limits == Limits(
        deny_logit_bias_with_logprobs=("parameters.b",),
        max_top_logprobs=Cap(3, ("parameters.b", "parameters.c")),
        max_n=Cap(8, ("parameters.a",)),
    )
    assert merge([]).empty and not limits.empty


def test_shipped_rules_for_a_standard_and_an_enhanced_customer() -> None:
    standard = merge(SHIPPED.parameter_rules_for("tier2", "standard"))
    enhanced = merge(SHIPPED.parameter_rules_for("tier2", "enhanced"))
    assert standard.deny_logit_bias_with_logprobs == ("parameters.standard_due_diligence",)
    assert standard.max_top_logprobs == Cap(
        5, ("parameters.default_tier", "parameters.standard_due_diligence")
    )
    assert enhanced.deny_logit_bias_with_logprobs == () and enhanced.max_n == Cap(
        8, ("parameters.default_tier",)
    )


LIMITS = merge(
    [
        ("hard", ParameterRule(deny_logit_bias_with_logprobs=True, max_top_logprobs=5, max_n=4)),
    ]
)


@pytest.mark.parametrize(
    ("asked", "message"),
    [
        (Asked(logprobs=True, logit_bias=True), "logit_bias together with logprobs is not allowed for this "
         "account (policy parameters.hard)"),
        (Asked(logprobs=True, top_logprobs=6), "top_logprobs 6 is above the limit of 5 (policy parameters.hard)"),
        (Asked(n=5), "n 5 is above the limit of 4 (policy parameters.hard)"),
    ],
)  # fmt: skip
def test_refusals_name_the_parameter_the_limit_and_the_rule(asked: Asked, message: str) -> None:
    assert check(LIMITS, asked) == ("parameter_not_allowed", message)


@pytest.mark.parametrize(
    "asked",
    [Asked(), Asked(logprobs=True, top_logprobs=5), Asked(logit_bias=True), Asked(logprobs=True), Asked(n=4)],
)
def test_within_the_limits(asked: Asked) -> None:
    assert check(LIMITS, asked) is None


def test_outright_denials() -> None:
    limits = merge([("x", ParameterRule(deny_logit_bias=True, deny_logprobs=True))])
    assert check(limits, Asked(logit_bias=True)) == (
        "parameter_not_allowed", "logit_bias is not allowed for this account (policy parameters.x)",
    )  # fmt: skip
    assert check(limits, Asked(logprobs=True))[1].startswith("logprobs is not allowed")  # type: ignore[index]


def test_the_head_reads_every_dialect_of_the_parameters() -> None:
    head = decode_head(b'{"model": "m", "logprobs": 3}')  # legacy completions: 3 alternatives
    assert (head.asks_logprobs(), head.alternatives()) == (True, 3)
    head = decode_head(b'{"model": "m", "logprobs": true, "top_logprobs": 7, "logit_bias": {"1": 2}}')
    assert (head.asks_logprobs(), head.alternatives(), head.biases_logits()) == (True, 7, True)
    head = decode_head(b'{"model": "m", "logprobs": false, "logit_bias": {}}')
    assert (head.asks_logprobs(), head.alternatives(), head.biases_logits()) == (False, None, False)
    assert decode_head(b'{"model": "m", "logit_bias": null}').biases_logits() is False


def standing(tier: str, level: str) -> Any:
    return SimpleNamespace(entitlement=SimpleNamespace(tier=tier), facts=SimpleNamespace(kyc_level=level))


def context(body: bytes, tier: str = "tier2", level: str = "standard") -> Any:
    return SimpleNamespace(
        head=decode_head(body), standing=standing(tier, level), request_id=str(uuid.uuid4())
    )


def test_the_stage_refuses_by_tier_and_level_and_remembers_the_merge() -> None:
    guard = GuardParameters(lambda: SHIPPED)
    body = msgspec.json.encode({"model": "m", "logprobs": True, "logit_bias": {"5": 1}})
    with pytest.raises(Forbidden) as refused:
        asyncio.run(guard(context(body)))
    assert refused.value.code == "parameter_not_allowed" and "parameters.standard_due_diligence" in str(
        refused.value
    )
    asyncio.run(guard(context(body, level="enhanced")))  # allowed after enhanced due diligence
    asyncio.run(guard(context(b'{"model": "m"}')))  # nothing set: nothing to check
    assert set(guard._limits) == {(SHIPPED.hash, "tier2", "standard"), (SHIPPED.hash, "tier2", "enhanced")}
    # A new policy (another hash) is merged afresh.
    looser = rebuilt(parameters={})
    guard.policy = lambda: looser
    asyncio.run(guard(context(body)))


def test_in_shadow_mode_the_stage_only_logs() -> None:
    guard = GuardParameters(lambda: SHIPPED, shadow=True)
    asyncio.run(guard(context(b'{"model": "m", "top_logprobs": 20, "logprobs": true}')))
