import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.quota import GcraState, gcra, reset_after

# 8 per second: the emission interval (0.125 s) and the arrival grid (1/64 s) are exact in binary,
# so these counts are exact too.
RATE, PERIOD = 8.0, 1.0


def run(times: list[float], **kw: float) -> list[float]:
    """The times admitted, starting from a fresh state."""
    state = GcraState()
    admitted = []
    for now in times:
        ok, state.tat, _, _ = gcra(state.tat, now, **kw)
        if ok:
            admitted.append(now)
    return admitted


def test_steady_overload_admits_exactly_rate_per_period_after_the_burst() -> None:
    admitted = run([j / 64 for j in range(64 * 100)], rate=RATE, period_seconds=PERIOD, burst=RATE)
    per_second = [sum(1 for t in admitted if k <= t < k + 1) for k in range(100)]
    assert per_second[0] == 8 + 7  # the burst at t=0, then one every 0.125 s
    assert per_second[1:] == [8] * 99


def test_long_run_with_an_inexact_interval() -> None:
    # 10 per second (0.1 s is not exact in binary), offered 1000 per second for 60 s.
    admitted = run([j / 1000 for j in range(60_000)], rate=10, period_seconds=1, burst=5)
    assert abs(len(admitted) - (5 + 10 * 60)) <= 1


def test_burst_defaults_to_the_rate_and_remaining_counts_down() -> None:
    tat, remaining = 0.0, []
    for _ in range(4):
        ok, tat, wait, left = gcra(tat, 100.0, rate=3, period_seconds=60)
        remaining.append((ok, wait, left))
    assert remaining[:3] == [(True, 0.0, 2.0), (True, 0.0, 1.0), (True, 0.0, 0.0)]
    ok, wait, left = remaining[3]
    assert (ok, wait, left) == (False, 20.0, 0.0)  # one unit comes back every 20 s
    assert reset_after(tat, 100.0) == 60.0


def test_refused_requests_do_not_consume() -> None:
    kw = {"rate": RATE, "period_seconds": PERIOD, "burst": RATE}
    quiet = run([0.0] * 8 + [0.125], **kw)
    hammered = run([0.0] * 8 + [j / 1024 for j in range(1, 128)] + [0.125], **kw)
    assert quiet == hammered == [0.0] * 8 + [0.125]
    tat = 1.0  # a full burst taken at t=0
    ok, new_tat, wait, _ = gcra(tat, 0.05, **kw)
    assert (ok, new_tat, wait) == (False, tat, 0.075)
    assert gcra(tat, 0.12, **kw)[0] is False
    assert gcra(tat, 0.125, **kw)[:2] == (True, 1.125)


def test_cost_above_burst_is_refused_forever_and_leaves_the_state() -> None:
    assert gcra(0.0, 10.0, rate=100, period_seconds=60, burst=10, cost=11) == (False, 0.0, math.inf, 10.0)
    ok, tat, wait, _ = gcra(15.0, 10.0, rate=100, period_seconds=60, burst=10, cost=10.5)
    assert (ok, tat, wait) == (False, 15.0, math.inf)
    # Exactly the burst fits, from idle.
    assert gcra(0.0, 10.0, rate=100, period_seconds=60, burst=10, cost=10)[:3] == (True, 16.0, 0.0)


def test_a_zero_rate_forbids_everything_but_free_requests() -> None:
    assert gcra(0.0, 5.0, rate=0, period_seconds=60, burst=0) == (False, 0.0, math.inf, 0.0)
    assert gcra(0.0, 5.0, rate=0, period_seconds=60, cost=0) == (True, 0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    "kw",
    [
        {"rate": -1, "period_seconds": 1},
        {"rate": 1, "period_seconds": 0},
        {"rate": 1, "period_seconds": 1, "cost": -1},
        {"rate": 1, "period_seconds": 1, "burst": math.nan},
        {"rate": math.inf, "period_seconds": 1},
    ],
)
def test_bad_arguments_are_refused(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        gcra(0.0, 1.0, **kw)


limits = st.fixed_dictionaries(
    {
        "rate": st.floats(0.5, 1000),
        "period_seconds": st.sampled_from([1.0, 60.0, 3600.0, 0.3]),
        "burst": st.floats(1, 100),
    }
)
arrivals = st.lists(st.tuples(st.floats(0, 2), st.floats(0, 1)), min_size=1, max_size=120)


@settings(deadline=None, max_examples=300)
@given(limit=limits, arrivals=arrivals, start=st.sampled_from([0.0, 1234.5, 1.7e9]))
def test_no_span_admits_more_than_burst_plus_rate(
    limit: dict[str, float], arrivals: list[tuple[float, float]], start: float
) -> None:
    # gaps are fractions of the period; costs fractions of the burst (some whole units too)
    rate, period, burst = limit["rate"], limit["period_seconds"], limit["burst"]
    state, now, admitted = GcraState(), start, []
    for gap, share in arrivals:
        now += gap * period
        cost = round(share * burst) if share < 0.5 else share * burst
        ok, state.tat, _, _ = gcra(state.tat, now, rate=rate, period_seconds=period, burst=burst, cost=cost)
        if ok:
            admitted.append((now, cost))
    # The largest total is reached on a span that starts and ends on admissions.
    for i, (t0, _) in enumerate(admitted):
        total = 0.0
        for t1, cost in admitted[i:]:
            total += cost
            bound = burst + rate * (t1 - t0) / period
            assert total <= bound * (1 + 1e-9) + 1e-9, (t0, t1, total, bound)


@settings(deadline=None, max_examples=500)
@given(
    limit=limits,
    ahead=st.floats(0, 5),
    now=st.sampled_from([0.0, 17.25, 1.7e9, 1.7e9 + 0.1]),
    share=st.floats(0, 1),
)
def test_waiting_retry_after_makes_the_same_request_pass(
    limit: dict[str, float], ahead: float, now: float, share: float
) -> None:
    tat = now + ahead * limit["period_seconds"]
    cost = share * limit["burst"]
    ok, new_tat, wait, _ = gcra(tat, now, cost=cost, **limit)
    if ok:
        assert wait == 0.0 and new_tat >= tat
        return
    assert new_tat == tat and 0 < wait < math.inf
    assert gcra(tat, now + wait, cost=cost, **limit)[0] is True


def test_retry_after_is_rounded_so_that_now_plus_wait_reaches_the_admission_time() -> None:
    # A pair where float(now + float(allow_at - now)) < allow_at: the wait must be nudged up.
    now, allow_at = float.fromhex("0x1.c644ea2b2d450p+31"), float.fromhex("0x1.f924c74e088a9p+36")
    assert now + (allow_at - now) < allow_at
    # rate 1/s, burst 1, cost 1: the next admission is exactly at the TAT.
    ok, _, wait, _ = gcra(allow_at, now, rate=1, period_seconds=1, burst=1)
    assert not ok and now + wait >= allow_at
    assert gcra(allow_at, now + wait, rate=1, period_seconds=1, burst=1)[0] is True
