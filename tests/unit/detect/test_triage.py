"""The pure rules of detection: stable cluster ids, the re-flag rule, actions by policy, scope, mode."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import pytest

from gateway.detect.findings import Finding, Link
from gateway.detect.runner import window
from gateway.detect.triage import (
    Known,
    assign,
    earned,
    evidence,
    evidence_hash,
    jaccard,
    plan,
    problem,
    reflagged,
)
from gateway.errors import BadRequest
from gateway.policy.detection import Detection, DetectionActions
from gateway.policy.loader import load_policy
from gateway.policy.store import policy_dirs
from gateway.settings import Settings

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
IDS = [uuid.UUID(int=i) for i in range(1, 40)]


def finding(members: list[uuid.UUID], score: float = 0.9, kind: str = "ring", **kw: object) -> Finding:
    return Finding(
        kind=kind,  # type: ignore[arg-type]
        members=tuple(sorted(members)),
        score=score,
        signals=kw.pop("signals", {"reasoning_share": 0.8}),  # type: ignore[arg-type]
        reasons=("shares one payment instrument",),
        links=kw.pop("links", ()),  # type: ignore[arg-type]
        first_seen=T0,
        since=T0,
        until=T0 + dt.timedelta(days=7),
    )


def known(members: list[uuid.UUID], *, status: str = "open", score: float = 0.9, kind: str = "ring") -> Known:
    return Known(id=uuid.uuid4(), kind=kind, status=status, score=score, members=frozenset(members))


def test_jaccard() -> None:
    assert jaccard(IDS[:4], IDS[2:6]) == pytest.approx(2 / 6)
    assert jaccard(IDS[:2], IDS[:2]) == 1.0
    assert jaccard([], []) == 0.0


def test_a_finding_continues_the_cluster_it_overlaps_by_half_or_more_of_the_same_kind() -> None:
    a = known(IDS[:10])
    b = known(IDS[20:30])
    other_kind = known(IDS[:10], kind="extractor")
    f1 = finding([*IDS[:9], IDS[35]])  # 9 shared of 11: 0.82
    f2 = finding(IDS[20:25])  # 5 of 10: exactly 0.5
    f3 = finding(IDS[20:24])  # 4 of 10: below
    assert assign([f1, f2], [other_kind, a, b]) == [a, b]
    assert assign([f3], [a, b]) == [None]


def test_each_cluster_is_continued_by_one_finding_at_most_the_closest() -> None:
    a = known(IDS[:10])
    far = finding(IDS[:6])  # 0.6
    close = finding(IDS[:9])  # 0.9
    assert assign([far, close], [a]) == [None, a]


def test_a_dismissed_cluster_comes_back_only_clearly_stronger_or_grown() -> None:
    gone = known(IDS[:20], status="dismissed", score=0.7)
    assert not reflagged(gone, finding(IDS[:20], score=0.79))
    assert reflagged(gone, finding(IDS[:20], score=0.8))
    assert not reflagged(gone, finding(IDS[:21], score=0.7))  # one new of 20: under 10 %
    assert reflagged(gone, finding(IDS[:22], score=0.7))  # two new: 10 %
    assert not reflagged(gone, finding(IDS[:15], score=0.75))  # shrunk
    single = known(IDS[:1], status="dismissed", score=0.7)
    assert reflagged(single, finding(IDS[:2], score=0.5))  # at least one member always counts


def test_a_score_earns_every_action_whose_cutoff_it_reaches() -> None:
    actions = DetectionActions(flag=0.5, throttle=0.8, edd=0.9, suspend=None)
    assert earned("ring", 0.49, actions) == ()
    assert earned("ring", 0.5, actions) == ("flag",)
    assert earned("ring", 0.85, actions) == ("flag", "throttle")
    assert earned("extractor", 1.0, actions) == ("flag", "throttle", "edd")
    assert earned("ring", 1.0, DetectionActions(flag=0.5, throttle=None, suspend=0.95)) == ("flag", "suspend")


def test_a_reseller_gets_the_policys_reseller_action_instead_of_the_ladder() -> None:
    actions = DetectionActions(flag=0.5, throttle=0.6, reseller="edd")
    assert earned("reseller", 0.55, actions) == ("flag", "edd")
    assert earned("reseller", 0.99, actions) == ("flag", "edd")  # not throttled by the ladder
    assert earned("reseller", 0.4, actions) == ()
    assert earned("reseller", 0.7, DetectionActions(reseller="flag")) == ("flag",)


def test_scope_and_mode() -> None:
    actions = DetectionActions(flag=0.5, throttle=0.8)
    ring = finding(IDS[:3], score=0.9)
    one = finding(IDS[5:6], score=0.9, kind="extractor")
    wide = Detection(scope="cluster", actions=actions)
    assert plan(ring, wide) == [("flag", m) for m in IDS[:3]] + [("throttle", m) for m in IDS[:3]]
    narrow = Detection(scope="account", actions=actions)
    assert plan(ring, narrow) == [("flag", m) for m in IDS[:3]]  # a ring's stronger actions: an operator's
    assert plan(one, narrow) == [("flag", IDS[5]), ("throttle", IDS[5])]
    assert plan(ring, Detection(mode="off", actions=actions)) == []
    assert plan(ring, Detection(mode="shadow", actions=actions)) == plan(ring, wide)  # recorded, not done


def test_the_evidence_hash_is_sha256_of_the_canonical_finding_and_changes_with_it() -> None:
    link = Link(a=IDS[0], b=IDS[1], kind="payment", hard=True, weight=1.0)
    f = finding(IDS[:2], links=(link,), signals={"b": 2.0, "a": 0.5})
    raw = evidence(f)
    assert raw.startswith(b'{"first_seen":"2026-12-01T00:00:00Z","kind":"ring","links":[{"a":')  # sorted keys
    assert evidence_hash(f) == hashlib.sha256(raw).hexdigest()
    assert evidence_hash(finding(IDS[:2], links=(link,), signals={"a": 0.5, "b": 2.0})) == evidence_hash(f)
    assert evidence_hash(finding(IDS[:2], score=0.91, links=(link,), signals={"a": 0.5, "b": 2.0})) != (
        evidence_hash(f)
    )


def test_a_finding_that_cannot_be_recorded_says_why() -> None:
    assert problem(finding(IDS[:2])) is None
    assert problem(finding([])) == "a finding without members"
    assert problem(finding([IDS[0], IDS[0]])) == "a finding with a member listed twice"
    assert problem(finding(IDS[:2], score=1.5)) == "score 1.5 is not in 0..1"
    assert problem(finding(IDS[:2], score=float("nan"))) == "score nan is not in 0..1"
    assert problem(finding(IDS[:2], signals={"z": float("inf")})) == "signals ['z'] are not finite numbers"


def test_the_window_of_a_run() -> None:
    policy = load_policy(*policy_dirs(Settings()))  # window_days = 7
    assert window(policy, None, None, T0) == (T0 - dt.timedelta(days=7), T0)
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert window(policy, dt.datetime(2026, 11, 1, 2, tzinfo=plus2), None, T0) == (
        dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        T0,
    )
    for since, until, message in [
        (T0, T0, "must be before until"),
        (T0.replace(tzinfo=None), None, "need a time zone offset"),
        (None, dt.datetime(1, 1, 3, tzinfo=dt.UTC), "beyond the dates"),
        (dt.datetime(1, 1, 1, tzinfo=plus2), None, "beyond the dates"),
    ]:
        with pytest.raises(BadRequest, match=message) as err:
            window(policy, since, until, T0)
        assert err.value.code == "invalid_window"
