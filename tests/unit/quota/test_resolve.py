import math

import msgspec
import pytest

from gateway.policy.model import Caps
from gateway.quota import Effective, Limit, Usage, caps_to_limits, effective_limits, estimate_chat


def lim(limit: float, source: str, **kw: object) -> Limit:
    fields: dict[str, object] = {"dimension": "requests", "period": "day"} | kw
    return Limit(limit=limit, source=source, **fields)  # type: ignore[arg-type]


def test_tightest_wins_and_the_losers_are_reported() -> None:
    plan = [lim(1000, "plan:tier2"), lim(60, "plan:tier2", period="minute")]
    override = [lim(500, "override:7")]
    policy = [lim(800, "policy:rules.tier2.caps")]
    result = effective_limits(plan, override, policy)
    assert result == [
        Effective(
            limit=lim(500, "override:7"),
            overridden=(lim(1000, "plan:tier2"), lim(800, "policy:rules.tier2.caps")),
        ),
        Effective(limit=lim(60, "plan:tier2", period="minute"), overridden=()),
    ]


def test_groups_are_per_dimension_scope_and_window() -> None:
    limits = [
        lim(10, "a"),
        lim(5, "b", scope="key"),
        lim(3, "c", dimension="output_tokens"),
        lim(2, "d", period="month"),
        lim(1, "e", period=None, rolling_days=30),
        lim(4, "f", period=None, rolling_days=90),
    ]
    result = effective_limits(limits)
    assert [e.limit.source for e in result] == ["a", "b", "c", "d", "e", "f"]
    assert all(e.overridden == () for e in result)


def test_ties_keep_the_first_source() -> None:
    result = effective_limits([lim(100, "override:1")], [lim(100, "plan:x")], [lim(100, "policy:y")])
    assert len(result) == 1
    assert result[0].limit.source == "override:1"
    assert [o.source for o in result[0].overridden] == ["plan:x", "policy:y"]
    # Same numbers in the other order: the other source wins.
    assert effective_limits([lim(100, "plan:x")], [lim(100, "override:1")])[0].limit.source == "plan:x"


def test_a_hard_limit_keeps_its_group_hard() -> None:
    policy = [lim(5e23, "policy:caps", dimension="flop", period="month", hard=True)]
    override = [lim(1e23, "override:3", dimension="flop", period="month")]
    (effective,) = effective_limits(override, policy)
    assert effective.limit == lim(1e23, "override:3", dimension="flop", period="month", hard=True)
    assert effective.overridden == (policy[0],)
    # A soft looser limit does not soften a hard winner.
    (effective,) = effective_limits(policy, [lim(6e23, "plan:z", dimension="flop", period="month")])
    assert effective.limit.hard and effective.limit.source == "policy:caps"


def test_no_sources_no_limits() -> None:
    assert effective_limits() == []
    assert effective_limits([], []) == []


def test_caps_become_a_hard_flop_month_and_daily_token_budgets() -> None:
    caps = Caps(max_gpus_per_job=256, flop_per_month=5e23, tokens_per_day=1_000_000)
    assert caps_to_limits(caps, "policy:rules.tier2.caps") == [
        Limit(
            dimension="flop",
            period="month",
            limit=5e23,
            hard=True,
            source="policy:rules.tier2.caps.flop_per_month",
        ),
        Limit(
            dimension="input_tokens", period="day", limit=1e6, source="policy:rules.tier2.caps.tokens_per_day"
        ),
        Limit(
            dimension="output_tokens",
            period="day",
            limit=1e6,
            source="policy:rules.tier2.caps.tokens_per_day",
        ),
    ]
    assert caps_to_limits(Caps(max_gpus_per_job=8), "policy:x") == []  # per job: not a quota
    assert caps_to_limits(None, "policy:x") == []


def test_a_zero_cap_forbids() -> None:
    (flop,) = caps_to_limits(Caps(flop_per_month=0), "policy:r")
    assert flop.limit == 0 and flop.hard


@pytest.mark.parametrize(
    ("chars", "max_tokens", "expected"),
    [
        (0, None, Usage(requests=1, input_tokens=0, output_tokens=4096)),
        (1, 10, Usage(requests=1, input_tokens=1, output_tokens=10)),
        (4, 10, Usage(requests=1, input_tokens=1, output_tokens=10)),
        (5, 0, Usage(requests=1, input_tokens=2, output_tokens=0)),
        (4001, 256, Usage(requests=1, input_tokens=1001, output_tokens=256)),
    ],
)
def test_estimate_chat(chars: int, max_tokens: int | None, expected: Usage) -> None:
    estimate = estimate_chat(chars, max_tokens)
    assert math.isnan(estimate.spend)  # no price given: unpriced
    assert msgspec.structs.replace(estimate, spend=0.0) == expected


def test_estimate_chat_default_and_bad_input() -> None:
    assert estimate_chat(8, None, default_max_tokens=100).output_tokens == 100
    with pytest.raises(ValueError, match="body_prompt_chars"):
        estimate_chat(-1, None)
    with pytest.raises(ValueError, match="max_tokens"):
        estimate_chat(1, -5)


def test_a_callers_limits_per_scope_with_only_its_own_overrides() -> None:
    from gateway.quota.resolve import limits_for

    ids = {"customer": "c1", "project": "p1", "key": "k1"}
    plans = [
        lim(50, "plan:default", period="second", scope="key"),
        lim(1200, "plan:default", period="minute"),
    ]
    caps = [lim(5e23, "policy:caps", dimension="flop", period="month", hard=True)]
    overrides = [
        (lim(10, "override:1", period="second", scope="key"), "k1"),  # this key: tighter
        (lim(1, "override:2", period="second", scope="key"), "k2"),  # another key of the customer
        (lim(100, "override:3", period="minute", scope="project"), "p1"),
    ]
    applied = limits_for(ids, caps=caps, plans=plans, overrides=overrides)
    by = {(lm.scope, lm.dimension, lm.period): (lm.limit, lm.source, sid) for lm, sid in applied}
    assert by == {
        ("customer", "requests", "minute"): (1200, "plan:default", "c1"),
        ("customer", "flop", "month"): (5e23, "policy:caps", "c1"),
        ("project", "requests", "minute"): (100, "override:3", "p1"),
        ("key", "requests", "second"): (10, "override:1", "k1"),
    }
