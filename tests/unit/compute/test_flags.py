"""Training-scale flags: linked groups, the window, scopes, alert fractions, and split runs."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Sequence

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.compute import ComputeRecord, Flag, Link, customer_totals, evaluate, linked_groups
from gateway.policy.model import TrainingThreshold

from ..policy.helpers import SHIPPED

DAY = 86400.0
NOW = 1_800_000_000.0
THRESHOLDS = SHIPPED.thresholds.training  # bio 1e23, eu 1e25, general 1e26; fractions 0.1, 0.5, 1.0
OWNER = "shared beneficial owner own-1"


def level(name: str, flop: float, *fractions: float, scope: str = "all") -> TrainingThreshold:
    return TrainingThreshold(
        name=name,
        flop=flop,
        alert_fractions=fractions or (1.0,),
        scope=scope,  # type: ignore[arg-type]
        source="test",
        as_of=dt.date(2026, 1, 1),
    )


def ended(job: str, customer: str, flop: float, days_ago: float = 10, bio: bool = False) -> ComputeRecord:
    end = NOW - days_ago * DAY
    return ComputeRecord(job, customer, "ended", end - DAY, end, flop, 0.0, bio)


def live(
    job: str, customer: str, flop: float, state: str = "running", days_ago: float = 1, bio: bool = False
) -> ComputeRecord:
    return ComputeRecord(job, customer, state, NOW - days_ago * DAY, None, 0.0, flop, bio)  # type: ignore[arg-type]


def run(
    records: list[ComputeRecord],
    links: Sequence[Link] = (),
    thresholds: Sequence[TrainingThreshold] = THRESHOLDS,
    window_days: int = 365,
) -> list[Flag]:
    groups = linked_groups({r.customer for r in records}, links)
    return evaluate(records, groups, links, thresholds, now=NOW, window_days=window_days, utilisation=0.4)


def summary(flags: Iterable[Flag]) -> set[tuple[str, str, float]]:
    return {(f.customer, f.threshold, f.fraction) for f in flags}


# -- linked groups -------------------------------------------------------------------------------


def test_linked_groups_are_transitive() -> None:
    links = [Link("a", "b", OWNER), Link("c", "b", "shared director d-1"), Link("e", "f", OWNER)]
    groups = linked_groups(["a", "b", "c", "d", "e"], links)
    abc = frozenset({"a", "b", "c"})
    assert groups == {
        "a": abc,
        "b": abc,
        "c": abc,
        "d": frozenset({"d"}),
        "e": frozenset({"e", "f"}),
        "f": frozenset({"e", "f"}),  # a link's end is a customer too
    }


def test_linked_groups_without_links_and_with_a_self_link() -> None:
    assert linked_groups(["a", "b"], [Link("a", "a", "itself")]) == {
        "a": frozenset({"a"}),
        "b": frozenset({"b"}),
    }
    assert linked_groups([], []) == {}


def test_a_long_chain_is_one_group() -> None:
    names = [f"c{i:03}" for i in range(200)]
    links = [Link(names[i + 1], names[i], OWNER) for i in range(199)]
    random.Random(7).shuffle(links)
    groups = linked_groups(names, links)
    assert set(groups.values()) == {frozenset(names)}


# -- the split run -------------------------------------------------------------------------------


def split_run() -> tuple[list[ComputeRecord], list[Link]]:
    """A 1.05e25 FLOP run over 50 jobs of 3 customers (about 3.5e24 each), linked by one owner."""
    customers = ["acme-1", "acme-2", "acme-3"]
    records = []
    for i in range(50):
        customer = customers[i % 3]
        if i < 40:
            records.append(ended(f"slurm-a:{i}", customer, 2.1e23, days_ago=300 - i))
        elif i < 45:
            records.append(live(f"slurm-a:{i}", customer, 2.1e23))
        else:
            records.append(live(f"slurm-b:{i}", customer, 2.1e23, state="queued", days_ago=0.5))
    records.append(ended("slurm-a:999", "bystander", 5e23))
    links = [Link("acme-1", "acme-2", OWNER), Link("acme-3", "acme-2", OWNER)]
    return records, links


def test_a_run_split_over_linked_customers_crosses_a_level_no_one_of_them_does() -> None:
    records, links = split_run()
    flags = run(records, links)
    group = ["acme-1", "acme-2", "acme-3"]
    eu = [f for f in flags if f.threshold == "eu"]
    assert [f.customer for f in eu] == group
    for flag in eu:
        assert flag.fraction == 1.0
        assert flag.group == group
        assert flag.flop == pytest.approx(50 * 2.1e23)
        assert flag.flop_settled == pytest.approx(40 * 2.1e23)
        assert flag.flop_expected == pytest.approx(10 * 2.1e23)
        assert len(flag.jobs) == 50 and flag.jobs == sorted(flag.jobs)
        assert flag.links == [Link("acme-1", "acme-2", OWNER), Link("acme-3", "acme-2", OWNER)]
        assert "0.4" in flag.assumptions and "bound" in flag.assumptions
    assert summary(f for f in flags if f.threshold == "general") == {(c, "general", 0.1) for c in group}
    assert not [f for f in flags if f.customer == "bystander"]

    # Without the links, each customer is about 3.5e24: a tenth of the EU level, not the level.
    unlinked = run(records)
    assert summary(unlinked) == {(c, "eu", 0.1) for c in group}
    only_the_level = [level("eu", 1e25, 1.0)]
    assert len(run(records, links, only_the_level)) == 3
    assert run(records, [], only_the_level) == []


def test_a_linked_customer_without_jobs_is_flagged_with_its_group() -> None:
    records = [ended("c:1", "big", 1.2e25)]
    flags = run(records, [Link("big", "shell", OWNER)], [level("eu", 1e25)])
    assert [(f.customer, f.group) for f in flags] == [("big", ["big", "shell"]), ("shell", ["big", "shell"])]


def test_links_outside_the_group_are_not_listed() -> None:
    records = [ended("c:1", "a", 2e25), ended("c:2", "x", 1.0)]
    links = [Link("a", "b", OWNER), Link("x", "y", OWNER)]
    flags = run(records, links, [level("eu", 1e25)])
    assert {f.customer for f in flags} == {"a", "b"}
    assert all(f.links == [Link("a", "b", OWNER)] for f in flags)


# -- window --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_ago", "counts"), [(366, False), (365, False), (364.99, True), (364, True), (0, True)]
)
def test_an_ended_job_counts_if_it_ended_inside_the_window(days_ago: float, counts: bool) -> None:
    flags = run([ended("c:1", "a", 2e25, days_ago=days_ago)], thresholds=[level("eu", 1e25)])
    assert bool(flags) is counts


def test_live_jobs_count_whatever_their_submission_time() -> None:
    records = [live("c:1", "a", 2e25, days_ago=400), live("c:2", "b", 2e25, state="queued", days_ago=500)]
    assert {f.customer for f in run(records, thresholds=[level("eu", 1e25)])} == {"a", "b"}


def test_an_ended_job_without_end_time_is_judged_by_its_submission() -> None:
    old = ComputeRecord("c:1", "a", "ended", NOW - 400 * DAY, None, 2e25, 0.0)
    recent = ComputeRecord("c:2", "b", "ended", NOW - 40 * DAY, None, 2e25, 0.0)
    assert [f.customer for f in run([old, recent], thresholds=[level("eu", 1e25)])] == ["b"]


def test_the_window_is_the_policy_setting() -> None:
    records = [ended("c:1", "a", 2e25, days_ago=100)]
    assert run(records, thresholds=[level("eu", 1e25)], window_days=90) == []
    assert run(records, thresholds=[level("eu", 1e25)], window_days=365)
    assert (
        "90 days"
        in run([live("c:2", "a", 2e25)], thresholds=[level("eu", 1e25)], window_days=90)[0].assumptions
    )


# -- scopes and fractions -----------------------------------------------------------------------


def test_the_bio_level_counts_only_bio_jobs() -> None:
    records = [
        ended("c:1", "lab", 3e22, bio=True),
        live("c:2", "lab", 2.5e22, bio=True),
        ended("c:3", "lab", 5e24),  # a big general job: counts for eu, not bio
    ]
    flags = {f.threshold: f for f in run(records)}
    bio = flags["bio"]
    assert (bio.fraction, bio.jobs) == (0.5, ["c:1", "c:2"])
    assert bio.flop == pytest.approx(5.5e22)
    assert (bio.flop_settled, bio.flop_expected) == (3e22, 2.5e22)
    assert "biological" in bio.assumptions
    eu = flags["eu"]
    assert (eu.fraction, eu.jobs) == (0.5, ["c:1", "c:2", "c:3"])
    assert "biological" not in eu.assumptions
    assert not run([ended("c:3", "lab", 5e24)], thresholds=[t for t in THRESHOLDS if t.scope == "bio"])


def test_eu_and_all_scopes_count_the_same_compute() -> None:
    records = [ended("c:1", "a", 4e24), live("c:2", "a", 4e24, bio=True)]
    flags = run(records, thresholds=[level("all", 8e24, scope="all"), level("eu", 8e24, scope="eu")])
    assert [(f.threshold, f.flop, f.jobs) for f in flags] == [
        ("all", 8e24, ["c:1", "c:2"]),
        ("eu", 8e24, ["c:1", "c:2"]),
    ]


@pytest.mark.parametrize(
    ("share", "fraction"),
    [(0.05, None), (0.0999, None), (0.1, 0.1), (0.3, 0.1), (0.5, 0.5), (0.99, 0.5), (1.0, 1.0), (3.0, 1.0)],
)
def test_the_highest_alert_fraction_reached(share: float, fraction: float | None) -> None:
    total = share * 1e25 if share != 0.1 else 1e24  # exactly 1e24, below 0.1 x 1e25 in floats
    flags = run([live("c:1", "a", total)], thresholds=[level("eu", 1e25, 0.1, 0.5, 1.0)])
    assert [f.fraction for f in flags] == ([] if fraction is None else [fraction])


def test_one_flag_per_customer_and_level_sorted() -> None:
    records = [ended("c:1", "b", 2e26), ended("c:2", "a", 2e23, bio=True)]
    flags = run(records)
    assert [(f.customer, f.threshold, f.fraction) for f in flags] == [
        ("a", "bio", 1.0),  # 2e23: twice the bio level, a fiftieth of the EU one
        ("b", "eu", 1.0),
        ("b", "general", 1.0),
    ]
    assert [f.threshold_flop for f in flags] == [1e23, 1e25, 1e26]


def test_a_job_recorded_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="'c:1' is recorded twice"):
        run([ended("c:1", "a", 1.0), live("c:1", "a", 1.0)])


def test_customer_totals() -> None:
    records, links = split_run()
    group = linked_groups(["acme-1"], links)["acme-1"]
    totals = customer_totals(records, "acme-1", group, now=NOW, window_days=365)
    mine = [r for r in records if r.customer == "acme-1"]
    assert totals == {
        "flop_settled": pytest.approx(sum(r.flop_settled for r in mine)),
        "flop_expected": pytest.approx(sum(r.flop_expected for r in mine)),
        "flop": pytest.approx(len(mine) * 2.1e23),
        "group_flop_settled": pytest.approx(40 * 2.1e23),
        "group_flop_expected": pytest.approx(10 * 2.1e23),
        "group_flop": pytest.approx(50 * 2.1e23),
    }
    alone = customer_totals(records, "bystander", frozenset(), now=NOW, window_days=365)
    assert alone["flop"] == alone["group_flop"] == 5e23
    assert customer_totals(
        records, "bystander", frozenset(), now=NOW + 400 * DAY, window_days=365
    ) == dict.fromkeys(alone, 0.0)


def test_flags_encode_to_json() -> None:
    records, links = split_run()
    flag = run(records, links)[0]
    decoded = msgspec.json.decode(msgspec.json.encode(flag), type=Flag)
    assert decoded == flag


# -- properties ----------------------------------------------------------------------------------

UNIT = 2.0**60  # FLOP values are whole multiples of a power of two: sums of them are exact
GROUP = ["g1", "g2", "g3"]
CUSTOMERS = [*GROUP, "solo"]
PROPERTY_LEVELS = [
    level("general", 1e26, 0.1, 0.5, 1.0),
    level("eu", 1e25, 0.1, 0.5, 1.0, scope="eu"),
    level("bio", 1e23, 0.1, 0.5, 1.0, scope="bio"),
]
GROUP_LINKS = [Link("g1", "g2", OWNER), Link("g2", "g3", OWNER)]

records_st = st.lists(
    st.builds(
        lambda customer, state, days, amount, bio: ComputeRecord(
            "",
            customer,
            state,
            NOW - days * DAY - DAY,
            NOW - days * DAY if state == "ended" else None,
            amount * UNIT if state == "ended" else 0.0,
            0.0 if state == "ended" else amount * UNIT,
            bio,
        ),
        customer=st.sampled_from(CUSTOMERS),
        state=st.sampled_from(["queued", "running", "ended"]),
        days=st.sampled_from([0.0, 30.0, 364.0, 366.0]),
        amount=st.integers(0, 2**27),
        bio=st.booleans(),
    ),
    min_size=1,
    max_size=12,
).map(lambda rs: [msgspec.structs.replace(r, job=f"c:{i}") for i, r in enumerate(rs)])


def without_jobs(flags: list[Flag]) -> list[tuple[object, ...]]:
    return [(f.customer, f.threshold, f.fraction, f.flop, f.flop_settled, f.flop_expected) for f in flags]


@settings(deadline=None, max_examples=300)
@given(records=records_st, data=st.data())
def test_splitting_a_job_over_the_same_group_never_changes_the_flags(
    records: list[ComputeRecord], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(records) - 1), label="job split")
    job = records[index]
    k = data.draw(st.integers(2, 8), label="parts")
    members = GROUP if job.customer in GROUP else [job.customer]
    amount = int((job.flop_settled + job.flop_expected) / UNIT)
    cuts = sorted(data.draw(st.lists(st.integers(0, amount), min_size=k - 1, max_size=k - 1), label="cuts"))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, amount], strict=True)]
    pieces = [
        msgspec.structs.replace(
            job,
            job=f"{job.job}.{n}",
            customer=data.draw(st.sampled_from(members), label="customer"),
            flop_settled=part * UNIT if job.state == "ended" else 0.0,
            flop_expected=0.0 if job.state == "ended" else part * UNIT,
        )
        for n, part in enumerate(parts)
    ]
    split = records[:index] + pieces + records[index + 1 :]
    data.draw(st.randoms(use_true_random=False), label="order").shuffle(split)
    before = run(records, GROUP_LINKS, PROPERTY_LEVELS)
    after = run(split, GROUP_LINKS, PROPERTY_LEVELS)
    assert without_jobs(after) == without_jobs(before)


@settings(deadline=None, max_examples=200)
@given(records=records_st)
def test_linking_never_removes_a_flag_nor_lowers_its_fraction(records: list[ComputeRecord]) -> None:
    unlinked = {(f.customer, f.threshold): f.fraction for f in run(records, [], PROPERTY_LEVELS)}
    linked = {(f.customer, f.threshold): f.fraction for f in run(records, GROUP_LINKS, PROPERTY_LEVELS)}
    for key, fraction in unlinked.items():
        assert linked[key] >= fraction
