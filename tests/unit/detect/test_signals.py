from __future__ import annotations

import datetime as dt
import random

import pytest

from gateway.detect.signals import (
    account_signals,
    active_hour_share,
    cohort,
    flatness,
    herfindahl,
    hour_of_day,
    volume_z,
)

from .helpers import SINCE, UNTIL, account, bursts, diurnal, flat


def test_the_cohort_is_robust_to_a_few_giants() -> None:
    rng = random.Random(1)
    ordinary = [account(rng, c) for c in rng.choices(range(50, 500), k=300)]
    giants = [account(rng, 1_000_000) for _ in range(5)]
    base = cohort(ordinary + giants)
    assert volume_z(200, 200 * 600, base) < 1.5
    assert volume_z(1_000_000, 1_000_000 * 600, base) > 5
    assert base.accounts == 305


def test_a_cohort_of_equal_accounts_does_not_make_small_differences_extreme() -> None:
    rng = random.Random(2)
    base = cohort([account(rng, 100) for _ in range(50)])
    assert volume_z(110, 110 * 600, base) < 1


def test_concentration_counts_task_families_not_chat() -> None:
    assert herfindahl({"code": 100}) == 1.0
    assert herfindahl({"code": 50, "math": 50}) == pytest.approx(0.5)
    assert herfindahl({"chat": 100}) == 0.0
    assert herfindahl({}) == 0.0


def test_flatness_tells_a_machine_from_a_working_day_even_for_small_accounts() -> None:
    rng = random.Random(3)
    assert flatness(hour_of_day(flat(rng, 20_000), SINCE)) > 0.9
    assert flatness(hour_of_day(flat(rng, 150), SINCE)) > 0.6  # noisy, but flat
    assert flatness(hour_of_day(diurnal(rng, 20_000), SINCE)) == 0.0
    assert flatness([0] * 24) == 0.0


def test_hour_of_day_follows_the_window_start() -> None:
    bins = hour_of_day({0: 5, 25: 1}, SINCE.replace(hour=22))
    assert bins[22] == 5 and bins[23] == 1


def test_active_hour_share_is_low_for_bursts_and_counts_from_the_first_call() -> None:
    rng = random.Random(4)
    assert active_hour_share(bursts(rng, 5000, [30, 31, 32, 100, 101]), SINCE, UNTIL) < 0.05
    assert active_hour_share(flat(rng, 5000), SINCE, UNTIL) > 0.95
    late = flat(rng, 5000, start_hour=120)
    assert active_hour_share(late, SINCE + dt.timedelta(hours=120), UNTIL) > 0.95


def test_account_signals_name_their_figures() -> None:
    rng = random.Random(5)
    young = account(rng, 400, reasoning_calls=300, created_at=SINCE - dt.timedelta(days=2))
    signals = account_signals(young, cohort([young, account(rng, 100)]), SINCE, UNTIL)
    assert signals["reasoning_share"] == 0.75
    assert signals["young"] == 1.0
    assert {"volume_z", "flatness", "family_concentration", "variant_share", "networks_per_key"} <= set(
        signals
    )
