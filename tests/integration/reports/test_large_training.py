"""Large-training reports on a real database: due at the planning stage from expected compute, one
per linked group, threshold and level, with the customers' identity and owners, and corrected
when the ledger changes."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.audit.jws import verify_detached
from gateway.reports import generate
from gateway.reports.model import LargeTrainingReport, ReportError, decode
from gateway.reports.repository import list_reports

from .conftest import NIMBUS_FACTS, customer, issuer, workload

AT = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


async def test_a_planned_run_is_reported_once_with_its_identity_and_estimate(db, keys) -> None:
    owner = "Hedy Lamarr-Markey"
    nimbus = await customer(db, "nimbus", "DE", owner=owner, facts=NIMBUS_FACTS)
    nuage = await customer(db, "nuage", "FR", owner=owner)  # the same owner: one linked group
    small = await customer(db, "small", "US", owner="Somebody Else")
    await workload(db, nimbus, "1", "ended", expected=4e24, settled=3e24, submitted=AT - 20 * DAY,
                   ended=AT - 10 * DAY)  # fmt: skip
    await workload(db, nuage, "2", "running", expected=8e24, submitted=AT - 5 * DAY)
    await workload(db, small, "3", "running", expected=1e23, submitted=AT - 5 * DAY)
    await workload(db, nuage, "4", "queued", expected=5e25, submitted=AT + DAY)  # after the evaluation

    issued = await generate.issue_large_training(db, issuer(keys), at=AT)
    assert [(r.kind, r.jurisdiction, r.version) for r in issued] == [("large_training", "EU", 1)]
    (stored,) = issued
    report = decode("large_training", stored.body)
    assert isinstance(report, LargeTrainingReport)
    assert report.trigger == "projected"  # 3e24 settled: the level is met by what is expected
    assert report.compute.settled == "3000000000000000000000000"
    assert report.compute.expected == "8000000000000000000000000"
    assert report.dates.became_known_at == "2026-11-15T00:00:00Z" and report.dates.crossed_at is None
    assert report.deadline == "2026-11-29T00:00:00Z"  # two weeks (policy: report_within_days = 14)
    assert report.dates.projected_completion_at == "2026-12-15T00:00:00Z"
    assert report.dates.evaluated_at == "2026-11-20T00:00:00Z"
    assert sorted(report.group) == report.group and set(report.group) == {str(nimbus), str(nuage)}
    assert [w.job for w in report.workloads] == ["hpc:1", "hpc:2"]  # not job 4, submitted later
    assert "same name and country" in report.links[0].reason
    who = {c.account_name: c for c in report.customers}
    assert who["nimbus"].legal_name == "Nimbus Compute GmbH"
    assert who["nimbus"].addresses[0].city == "Berlin" and who["nimbus"].national_id.on_file
    assert who["nimbus"].national_id.types == ["lei"]
    assert b"5493001KJTIIGC8Y1R12" not in stored.body and b"legal@nimbus.example" not in stored.body
    (bo,) = who["nuage"].beneficial_owners
    assert (bo.name, bo.country, bo.percent) == (owner, "AT", "60")
    assert report.estimate.accelerators[0].peak_flops_per_gpu == ["989000000000000"]
    assert (stored.period_start, stored.period_end) == (AT - 365 * DAY, AT)
    assert verify_detached(stored.body, stored.jws, keys.jwks()) == keys.jws_kid

    # Already reported: the same group, threshold and level is not reported again.
    assert await generate.issue_large_training(db, issuer(keys), at=AT + DAY) == []
    # The group grows past the US level too: a report of its own, to the US.
    await workload(db, nimbus, "5", "running", expected=1.2e26, submitted=AT + DAY)
    later = await generate.issue_large_training(db, issuer(keys), at=AT + 2 * DAY, jurisdiction="EU")
    assert later == []  # only the EU's were asked for, and that one was issued
    us = await generate.issue_large_training(db, issuer(keys), at=AT + 2 * DAY)
    assert [(r.jurisdiction, decode(r.kind, r.body).threshold.name) for r in us] == [("US", "general")]  # type: ignore[union-attr]
    assert [r.jurisdiction for r in await list_reports(db)] == ["US", "EU"]


async def test_a_correction_regenerates_the_same_groups_report(db, keys) -> None:
    nimbus = await customer(db, "nimbus", "DE", facts=NIMBUS_FACTS)
    await workload(db, nimbus, "1", "running", expected=1.1e25, submitted=AT - 5 * DAY)
    (first,) = await generate.issue_large_training(db, issuer(keys), at=AT)
    with pytest.raises(ReportError, match="nothing to correct"):
        await generate.correct(db, issuer(keys), first.id)
    # The job ended before the evaluation time after all (the follower settled it late).
    await db.execute(
        "update workloads set state = 'ended', flop_settled = 1.05e25, ended_at = $1 where job_id = '1'",
        AT - DAY,
    )
    second = await generate.correct(db, issuer(keys), first.id)
    assert (second.version, second.supersedes, second.jurisdiction) == (2, first.id, "EU")
    report = decode("large_training", second.body)
    assert isinstance(report, LargeTrainingReport)
    assert report.trigger == "crossed" and report.dates.crossed_at == "2026-11-19T00:00:00Z"
    assert report.dates.evaluated_at == "2026-11-20T00:00:00Z"  # the same evaluation time
