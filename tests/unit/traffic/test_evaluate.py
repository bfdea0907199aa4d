"""The evaluation's metrics on hand-made campaigns and findings."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.traffic.evaluate import Flag, Planted, evaluate, table

T0 = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)


def ids(n: int) -> list[uuid.UUID]:
    return [uuid.uuid4() for _ in range(n)]


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


RING = ids(10)
UNLINKED = ids(6)
EXTRACTOR = ids(1)
RESELLER = ids(1)
BENIGN = ids(20)
HEAVY = BENIGN[:3]
CAMPAIGNS = [
    Planted("ring", "ring_linked", frozenset(RING), at(2)),
    Planted("unlinked", "ring_unlinked", frozenset(UNLINKED), at(5)),
    Planted("x", "extractor", frozenset(EXTRACTOR), at(24)),
    Planted("r", "reseller", frozenset(RESELLER), at(0)),
]


def run(flags: list[Flag], active: int = 1000, days: float = 3):
    return evaluate(CAMPAIGNS, flags, legit_heavy=HEAVY, active_accounts=active, days=days)


def test_perfect_findings_give_recall_and_precision_one_and_the_time_to_flag() -> None:
    flags = [
        Flag("ring", frozenset(RING), at(8)),
        Flag("ring", frozenset(UNLINKED), at(29)),
        Flag("extractor", frozenset(EXTRACTOR), at(30)),
        Flag("reseller", frozenset(RESELLER), at(12)),
    ]
    report = run(flags)
    for r in report.types.values():
        assert (r.recall, r.precision) == (1.0, 1.0)
    assert report.types["ring_linked"].times_to_flag == [dt.timedelta(hours=6)]
    assert report.types["ring_unlinked"].median_time_to_flag == dt.timedelta(hours=24)
    assert report.types["extractor"].times_to_flag == [dt.timedelta(hours=6)]
    assert report.false_alerts == 0 and report.meets() == []
    assert "ring_linked" in table(report)


def test_half_the_members_detect_a_campaign_and_fewer_do_not() -> None:
    half = Flag("ring", frozenset(RING[:5]), at(10))
    less = Flag("ring", frozenset(UNLINKED[:2]), at(10))
    report = run([half, less])
    assert report.types["ring_linked"].detected == 1
    assert report.types["ring_unlinked"].detected == 0
    assert report.types["ring_unlinked"].missed == ["unlinked"]
    # Both findings are mostly campaign members: true positives, though one detects nothing.
    assert report.types["ring_unlinked"].true_positives == 1
    assert report.meets()[0].startswith("ring_unlinked: recall 0.00")


def test_the_earliest_covering_flag_sets_the_time_to_flag() -> None:
    report = run([Flag("ring", frozenset(RING), at(20)), Flag("ring", frozenset(RING[:6]), at(7))])
    assert report.types["ring_linked"].times_to_flag == [dt.timedelta(hours=5)]
    assert report.types["ring_linked"].true_positives == 2


def test_a_finding_mostly_of_benign_accounts_is_a_false_positive_charged_to_every_type_of_its_kind() -> None:
    mixed = Flag("ring", frozenset(RING[:4] + BENIGN[5:10]), at(10))  # 4 of 9 from the ring
    report = run([Flag("ring", frozenset(RING), at(10)), mixed])
    assert report.types["ring_linked"].true_positives == 1
    assert report.types["ring_linked"].false_positives == 1
    assert report.types["ring_unlinked"].false_positives == 1  # same kind: charged too
    assert report.types["ring_linked"].precision == 0.5
    assert report.types["extractor"].false_positives == 0
    assert report.false_positive_findings == 1


def test_a_finding_of_the_wrong_kind_neither_detects_nor_counts_as_true() -> None:
    report = run([Flag("ring", frozenset(EXTRACTOR), at(30))])
    assert report.types["extractor"].detected == 0
    assert report.types["extractor"].true_positives == 0
    assert report.types["ring_linked"].false_positives == 1
    assert report.types["extractor"].precision is None


def test_benign_members_are_false_alerts_once_per_account_and_day() -> None:
    flags = [
        Flag("ring", frozenset(RING + BENIGN[3:5]), at(10)),  # a true positive with 2 benign accounts
        Flag("extractor", frozenset(BENIGN[3:4]), at(11)),  # the same account, same day
        Flag("extractor", frozenset(BENIGN[3:4]), at(30)),  # the next day: another alert
        Flag("reseller", frozenset(HEAVY[:1]), at(40)),  # a legit heavy user
    ]
    report = run(flags, active=500, days=2)
    assert report.false_alerts == 4
    assert report.false_alerts_per_1000_per_day == pytest.approx(4 / 0.5 / 2)
    assert report.legit_heavy_flagged == [HEAVY[0]]
    assert any("legitimate heavy users flagged" in m for m in report.meets())


def test_no_findings_leave_precision_undefined_and_recall_zero() -> None:
    report = run([])
    assert all(r.recall == 0.0 and r.precision is None for r in report.types.values())
    assert len(report.meets()) == 8
