from __future__ import annotations

import datetime as dt
import random

from gateway.detect.linkage import Cluster
from gateway.detect.score import findings, score_extractor, score_reseller, score_ring
from gateway.detect.signals import AccountStats, cohort

from .helpers import HOURS, SINCE, UNTIL, account, bursts, diurnal, flat, uid, waves

CUTOFF = 0.5


def _ordinary(rng: random.Random, n: int = 2000) -> list[AccountStats]:
    return [account(rng, rng.choice(range(40, 2000))) for _ in range(n)]


def _ring_member(rng: random.Random, schedule: list[float], **kw: object) -> AccountStats:
    """Small (below the median account), eliciting reasoning on code, varied templates, young."""
    calls = int(kw.pop("calls", rng.randint(40, 120)))  # type: ignore[call-overload]
    fields: dict[str, object] = {
        "reasoning_calls": int(calls * 0.8),
        "families": {"code": calls},
        "variant_share": 0.9,
        "shared_template_share": 0.9,
        "repeat_share": 0.0,
        "created_at": SINCE - dt.timedelta(days=3),
        "hourly": waves(rng, calls, schedule),
    }
    fields.update(kw)
    return account(rng, calls, **fields)


def _cluster(members: list[AccountStats], **kw: object) -> Cluster:
    fields: dict[str, object] = {
        "members": tuple(sorted(m.customer_id for m in members)),
        "links": (),
        "hard_members": 0,
        "network_members": 0,
        "template_members": len(members),
        "sync": 0.5,
    }
    fields.update(kw)
    return Cluster(**fields)  # type: ignore[arg-type]


def test_a_ring_of_500_small_accounts_stands_out_though_each_member_alone_does_not() -> None:
    rng = random.Random(1)
    ordinary = _ordinary(rng)
    schedule = [1.0 if rng.random() < 0.5 else 0.0 for _ in range(HOURS)]
    ring = [_ring_member(rng, schedule) for _ in range(500)]
    stats = ordinary + ring
    base = cohort(stats)
    found = score_ring(_cluster(ring), {s.customer_id: s for s in stats}, base, SINCE, UNTIL)
    assert found is not None and found.kind == "ring" and found.score >= 0.8
    assert found.signals["members"] == 500 and found.signals["volume_z"] > 3
    assert "linked" in found.reasons[0] or "together" in found.reasons[0]
    assert max(score_extractor(m, base, SINCE, UNTIL).score for m in ring) < 0.1
    assert max(score_reseller(m, SINCE, UNTIL).score for m in ring) == 0.0


def test_a_linked_group_of_ordinary_accounts_is_not_a_ring() -> None:
    rng = random.Random(2)
    ordinary = _ordinary(rng)
    company = ordinary[:12]  # one company's accounts, one card
    base = cohort(ordinary)
    by_id = {s.customer_id: s for s in ordinary}
    found = score_ring(_cluster(company, hard_members=12, sync=0.0), by_id, base, SINCE, UNTIL)
    assert found is not None and found.score < 0.3
    # Accounts that merely share a popular template, at their own times:
    crowd = ordinary[100:400]
    found = score_ring(_cluster(crowd, sync=0.01), by_id, base, SINCE, UNTIL)
    assert found is not None and found.score < 0.3


def test_a_batch_company_with_several_accounts_is_not_a_ring() -> None:
    rng = random.Random(3)
    ordinary = _ordinary(rng)
    batch = [
        account(rng, 20_000, reasoning_calls=0, families={"extraction": 20_000}, variant_share=0.0,
                shared_template_share=1.0, repeat_share=1.0, top_template_share=1.0, hourly=flat(rng, 20_000))
        for _ in range(4)
    ]  # fmt: skip
    stats = ordinary + batch
    found = score_ring(_cluster(batch, hard_members=4, sync=0.0), {s.customer_id: s for s in stats},
                       cohort(stats), SINCE, UNTIL)  # fmt: skip
    assert found is not None and found.score < CUTOFF


def test_below_three_members_there_is_no_ring() -> None:
    rng = random.Random(4)
    pair = [_ring_member(rng, [1.0] * HOURS) for _ in range(2)]
    assert score_ring(_cluster(pair), {s.customer_id: s for s in pair}, cohort(pair), SINCE, UNTIL) is None


def test_a_heavy_extractor_is_found_and_legitimate_heavy_users_are_not() -> None:
    rng = random.Random(5)
    ordinary = _ordinary(rng)
    extractor = account(rng, 40_000, reasoning_calls=28_000, extraction_calls=10_000, families={"math": 40_000},
                        variant_share=0.9, repeat_share=0.05, hourly=flat(rng, 40_000))  # fmt: skip
    runs = [30, 31, 32, 33, 80, 81, 82, 83, 130, 131, 132, 133]
    lab = account(rng, 30_000, reasoning_calls=15_000, repeat_share=1.0, variant_share=0.9,
                  families={"math": 10_000, "code": 10_000, "reasoning": 10_000},
                  hourly=bursts(rng, 30_000, runs))  # fmt: skip
    batch = account(rng, 50_000, reasoning_calls=0, families={"extraction": 50_000}, repeat_share=1.0,
                    top_template_share=1.0, variant_share=0.0, hourly=flat(rng, 50_000))  # fmt: skip
    app = account(rng, 60_000, reasoning_calls=3000, hourly=diurnal(rng, 60_000))
    classifier = account(rng, 50_000, reasoning_calls=0, extraction_calls=50_000, families={"extraction": 50_000},
                         repeat_share=1.0, top_template_share=1.0, variant_share=0.0,
                         hourly=flat(rng, 50_000))  # fmt: skip
    base = cohort([*ordinary, extractor, lab, batch, app, classifier])
    found = score_extractor(extractor, base, SINCE, UNTIL)
    assert found.score >= 0.9 and found.members == (extractor.customer_id,)
    assert found.signals["heavy"] == 1.0 and found.reasons
    for legit in (lab, batch, app, classifier):
        assert score_extractor(legit, base, SINCE, UNTIL).score < CUTOFF


def test_a_popular_app_is_not_a_reseller_and_a_reseller_is() -> None:
    rng = random.Random(6)
    reseller = account(rng, 20_000, networks=300, max_networks_per_key=300, countries=25, system_prompts=80,
                       system_top_share=0.1, hourly=flat(rng, 20_000))  # fmt: skip
    app = account(rng, 60_000, networks=2000, max_networks_per_key=2000, countries=30, system_prompts=1,
                  system_top_share=1.0, hourly=diurnal(rng, 60_000))  # fmt: skip
    agency = account(rng, 5000, networks=2, max_networks_per_key=2, countries=1, system_prompts=40,
                     system_top_share=0.1, hourly=diurnal(rng, 5000))  # fmt: skip
    found = score_reseller(reseller, SINCE, UNTIL)
    assert found.kind == "reseller" and found.score >= 0.9
    assert "client networks behind one key" in " ".join(found.reasons)
    assert score_reseller(app, SINCE, UNTIL).score == 0.0
    assert score_reseller(agency, SINCE, UNTIL).score == 0.0


def test_findings_report_each_account_once_and_in_a_stable_order() -> None:
    rng = random.Random(7)
    ordinary = _ordinary(rng, 500)
    schedule = [1.0 if rng.random() < 0.5 else 0.0 for _ in range(HOURS)]
    ring = [_ring_member(rng, schedule) for _ in range(60)]
    loud = _ring_member(rng, schedule, calls=30_000, reasoning_calls=25_000, hourly=flat(rng, 30_000))
    ring.append(loud)
    solo = account(rng, 40_000, reasoning_calls=30_000, families={"math": 40_000}, repeat_share=0.0,
                   hourly=flat(rng, 40_000), customer_id=uid(rng))  # fmt: skip
    stats = [*ordinary, *ring, solo]
    out = findings(stats, [_cluster(ring)], SINCE, UNTIL, cutoff=CUTOFF, base=cohort(stats))
    assert [f.kind for f in out] == ["extractor", "ring"]
    assert out[0].members == (solo.customer_id,)
    assert loud.customer_id in out[1].members  # in its ring, not also an extractor on its own
    assert findings(list(reversed(stats)), [_cluster(ring)], SINCE, UNTIL, cutoff=CUTOFF,
                    base=cohort(stats)) == out  # fmt: skip


def test_a_ring_padded_with_ordinary_calls_still_stands_out_but_acting_in_step_alone_does_not() -> None:
    rng = random.Random(8)
    ordinary = _ordinary(rng, 1000)
    schedule = [1.0 if rng.random() < 0.3 else 0.0 for _ in range(HOURS)]
    padded = []
    for _ in range(100):  # half the calls chat, one-off; half reasoning on two task families
        calls = rng.randint(100, 200)
        padded.append(
            account(
                rng,
                calls,
                reasoning_calls=int(calls * 0.35),
                variant_share=0.5,
                shared_template_share=0.5,
                families={
                    "chat": calls // 2,
                    "reasoning": calls // 4,
                    "tools": calls - calls // 2 - calls // 4,
                },
                hourly=waves(rng, calls, schedule),
            )
        )
    stats = ordinary + padded
    by_id = {s.customer_id: s for s in stats}
    found = score_ring(_cluster(padded, sync=0.8), by_id, cohort(stats), SINCE, UNTIL)
    assert found is not None and found.score >= CUTOFF and found.signals["concealed"] == 1.0
    in_step = ordinary[:100]  # ordinary accounts, somehow in step, sharing nothing declared
    found = score_ring(_cluster(in_step, sync=0.8), by_id, cohort(stats), SINCE, UNTIL)
    assert found is not None and found.score < CUTOFF


def test_labs_rerunning_one_public_benchmark_in_step_are_not_a_ring() -> None:
    """The same prompts, eliciting reasoning, in step after a launch: but reruns harvest nothing new.
    The same cluster sending novel prompts is a ring."""
    rng = random.Random(5)
    ordinary = _ordinary(rng)
    schedule = [1.0 if h % 24 in (9, 10, 11) else 0.0 for h in range(HOURS)]
    labs = [_ring_member(rng, schedule, calls=2000, repeat_share=1.0, created_at=SINCE - dt.timedelta(days=900))
            for _ in range(3)]  # fmt: skip
    stats = ordinary + labs
    base = cohort(stats)
    by_id = {s.customer_id: s for s in stats}
    rerun = score_ring(_cluster(labs), by_id, base, SINCE, UNTIL)
    assert rerun is not None and rerun.score < CUTOFF and rerun.signals["repeat_share"] == 1.0
    novel = [AccountStats(**{**{f: getattr(m, f) for f in AccountStats.__struct_fields__}, "repeat_share": 0.1})
             for m in labs]  # fmt: skip
    harvest = score_ring(_cluster(novel), {**by_id, **{m.customer_id: m for m in novel}}, base, SINCE, UNTIL)
    assert harvest is not None and harvest.score >= CUTOFF
