"""Large-training reports, pure: which flags call for one (planning stage included), the dates, the
deadline from the policy, how the estimate is stated, and the identity fields."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
import pytest

from gateway.compute.flags import ComputeRecord, Link, evaluate
from gateway.kyc.facts import Address, Facts, Identifier
from gateway.kyc.models import Owner
from gateway.kyc.ownership import Holding, OwnershipReport
from gateway.policy.model import TrainingThreshold
from gateway.reports.model import ReportError, canonical
from gateway.reports.training import (
    IdentityFacts,
    WorkloadRow,
    build_large_training,
    deadline,
    qualifying,
    report_key,
    timeline,
)

from .helpers import DE, FR, POLICY, PROVIDER, flag

T0 = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
EMPTY = OwnershipReport((), (), 0.0, False, (), (), True)


def job(i: int, customer: str, state: str, expected: float, settled: float, submitted: dt.datetime,
        ended: dt.datetime | None = None, limit_days: int = 30) -> WorkloadRow:  # fmt: skip
    return WorkloadRow(
        id=str(uuid.UUID(int=i)), cluster="hpc", job_id=str(100 + i), customer_id=customer, state=state,
        accelerator="h100", gpus=4096, time_limit_seconds=limit_days * 86400, peak_flops_per_gpu=989e12,
        utilisation=0.4, gpu_seconds_settled=1e9 if state == "ended" else 0.0, flop_bound=expected / 0.4,
        flop_expected=expected, flop_settled=settled, bio=False, submitted_at=submitted,
        started_at=submitted if state != "queued" else None, ended_at=ended,
    )  # fmt: skip


def record(w: WorkloadRow) -> ComputeRecord:
    return ComputeRecord(
        job=w.job, customer=w.customer_id, state=w.state, submitted_at=w.submitted_at.timestamp(),  # type: ignore[arg-type]
        ended_at=w.ended_at.timestamp() if w.ended_at else None,
        flop_settled=w.flop_settled if w.state == "ended" else 0.0,
        flop_expected=w.flop_expected if w.state != "ended" else 0.0,
    )  # fmt: skip


def identity(customer: str, **kw: object) -> IdentityFacts:
    fields: dict[str, object] = {"id": customer, "name": f"acct-{customer[-1]}", "kind": "organisation",
                                 "country": "DE", "kyc_status": "verified", "verified_at": T0, "facts": None,
                                 "owners": [], "ownership": EMPTY}  # fmt: skip
    fields.update(kw)
    return IdentityFacts(**fields)  # type: ignore[arg-type]


def flags_for(workloads: list[WorkloadRow], at: dt.datetime, links: list[Link] = ()) -> list:  # type: ignore[assignment]
    groups = {DE: frozenset({DE, FR}), FR: frozenset({DE, FR})} if links else {}
    return evaluate([record(w) for w in workloads], groups, links, POLICY.thresholds.training,
                    now=at.timestamp(), window_days=365, utilisation=0.4)  # fmt: skip


def test_a_running_job_expected_to_reach_the_level_is_reported_at_the_planning_stage() -> None:
    # Nothing has been computed yet: a queued job of 1.2e25 expected FLOP. The EU level is due now.
    planned = [job(1, DE, "queued", 1.2e25, 0.0, T0)]
    due = qualifying(flags_for(planned, T0 + DAY))
    assert [(f.threshold, f.fraction) for f in due] == [("eu", 1.0)]
    report = build_large_training(provider=PROVIDER, policy=POLICY, flag=due[0], evaluated_at=T0 + DAY,
                                  workloads=planned, identities=[identity(DE)])  # fmt: skip
    assert report.trigger == "projected" and report.dates.crossed_at is None
    assert report.compute.settled == "0" and report.compute.expected == "12000000000000000000000000"
    assert report.dates.became_known_at == "2026-10-01T00:00:00Z"  # at the submission
    assert report.deadline == "2026-10-15T00:00:00Z"  # Art. 52(1): two weeks (policy: 14 days)
    assert report.dates.projected_completion_at == "2026-10-31T00:00:00Z"  # queued: from submission
    assert report.jurisdiction == "EU" and report.threshold.report_within_days == 14
    # Below the level (0.5 of it): flagged, but no report.
    assert qualifying(flags_for([job(1, DE, "queued", 5e24, 0.0, T0)], T0 + DAY)) == []


def test_crossed_and_known_dates_and_one_report_per_group() -> None:
    jobs = [
        job(1, DE, "ended", 4e24, 3e24, T0, T0 + 10 * DAY),
        job(2, FR, "running", 8e24, 0.0, T0 + 11 * DAY),
        job(3, DE, "ended", 3e24, 3e24, T0 + 12 * DAY, T0 + 13 * DAY),
    ]
    link = [Link(DE, FR, "a beneficial owner with the same name and country")]
    flags = flags_for(jobs, T0 + 20 * DAY, link)
    due = qualifying(flags)
    assert {(f.threshold, tuple(f.group)) for f in due} == {("eu", (DE, FR))}  # one for the group
    assert len([f for f in flags if f.threshold == "eu"]) == 2  # though both customers are flagged
    first_seen, known, crossed, projected = timeline(jobs, 1e25, T0 + 20 * DAY)
    assert first_seen == T0
    assert known == T0 + 11 * DAY  # 4e24 (job 1 as expected) + 8e24 (job 2) >= 1e25
    assert crossed is None  # settled: 3e24 + 3e24 < 1e25
    assert projected == T0 + 41 * DAY  # job 2 started on day 11, 30 days of time limit
    ended = [*jobs[:1], msgspec.structs.replace(jobs[1], state="ended", flop_settled=7e24,
                                                ended_at=T0 + 15 * DAY), jobs[2]]  # fmt: skip
    assert timeline(ended, 1e25, T0 + 20 * DAY)[2] == T0 + 15 * DAY  # 3e24 + 7e24 on day 15
    report = build_large_training(provider=PROVIDER, policy=POLICY, flag=due[0], evaluated_at=T0 + 20 * DAY,
                                  workloads=jobs, identities=[identity(DE), identity(FR, country="FR")])  # fmt: skip
    assert report.group == [DE, FR] and [c.id for c in report.customers] == [DE, FR]
    assert [w.job for w in report.workloads] == ["hpc:101", "hpc:102", "hpc:103"]
    assert report.links[0].reason.startswith("a beneficial owner")
    assert report.deadline == "2026-10-26T00:00:00Z"
    assert report_key(report.group, report.threshold.name, report.threshold.level) == report_key(
        [FR, DE], "eu", "1"
    )


def test_how_it_was_estimated_is_stated() -> None:
    jobs = [job(1, DE, "running", 1.1e25, 0.0, T0)]
    (due,) = qualifying(flags_for(jobs, T0 + DAY))
    report = build_large_training(provider=PROVIDER, policy=POLICY, flag=due, evaluated_at=T0 + DAY,
                                  workloads=jobs, identities=[identity(DE)])  # fmt: skip
    estimate = report.estimate
    assert "x utilisation" in estimate.method and "time_limit_seconds" in estimate.formula
    (h100,) = estimate.accelerators
    assert h100.peak_flops_per_gpu == ["989000000000000"] and h100.utilisation == ["0.4"]
    assert h100.catalog_title == POLICY.accelerators["h100"].title and h100.catalog_source
    assert estimate.policy_utilisation == "0.4" and estimate.window_days == 365
    assert "utilisation 0.4" in estimate.assumptions
    workload = report.workloads[0]
    assert (workload.gpus, workload.time_limit_seconds, workload.utilisation) == (4096, 2592000, "0.4")
    assert report.threshold.source.startswith("EU AI Act")
    assert report.compute.fraction_of_threshold == "1.1"


def test_the_deadline_comes_from_the_policy() -> None:
    level = TrainingThreshold(name="x", flop=1e24, alert_fractions=(1.0,), scope="all", source="s",
                              as_of=dt.date(2026, 1, 1))  # fmt: skip
    assert deadline(T0, level) is None
    assert deadline(T0, msgspec.structs.replace(level, report_within_days=15)) == T0 + 15 * DAY
    jobs = [job(1, DE, "running", 2e26, 0.0, T0)]
    due = {f.threshold: f for f in qualifying(flags_for(jobs, T0 + DAY))}
    general = build_large_training(provider=PROVIDER, policy=POLICY, flag=due["general"],
                                   evaluated_at=T0 + DAY, workloads=jobs, identities=[identity(DE)])  # fmt: skip
    assert general.deadline is None and general.jurisdiction == "US"  # the policy sets no deadline


def test_identity_fields_and_beneficial_owners() -> None:
    owner, minor = uuid.UUID(int=77), uuid.UUID(int=78)
    facts = Facts(
        legal_name="Nimbus GmbH", addresses=(Address("Str 1", "Berlin", "DE", postal_code="10115"),),
        identifiers=(Identifier("de_handelsregisternummer", "HRB 12345", "DE", True),),
        incorporation_country="DE", email="ceo@nimbus.example",
    )  # fmt: skip
    owners = [Owner(owner, "person", "AT", "Hedy Lamarr", None, None, T0),
              Owner(minor, "person", "CH", "Minor Holder", None, None, T0)]  # fmt: skip
    ownership = OwnershipReport(
        holdings=(Holding(str(owner), 60.0, ("director",), True), Holding(str(minor), 10.0, (), False)),
        beneficial_owners=(str(owner),), listed_percent=0.0, treated_as_listed=False, cycles=(),
        warnings=(), complete=False,
    )  # fmt: skip
    jobs = [job(1, DE, "running", 1.1e25, 0.0, T0)]
    (due,) = qualifying(flags_for(jobs, T0 + DAY))
    report = build_large_training(
        provider=PROVIDER, policy=POLICY, flag=due, evaluated_at=T0 + DAY, workloads=jobs,
        identities=[identity(DE, facts=facts, owners=owners, ownership=ownership)],
    )  # fmt: skip
    (who,) = report.customers
    assert who.legal_name == "Nimbus GmbH" and who.addresses[0].postal_code == "10115"
    assert who.national_id.on_file and who.national_id.types == ["de_handelsregisternummer"]
    body = canonical(report)
    assert b"HRB 12345" not in body and b"ceo@nimbus.example" not in body  # presence, not the number
    (bo,) = who.beneficial_owners
    assert (bo.name, bo.country, bo.percent, bo.control_roles) == ("Hedy Lamarr", "AT", "60", ["director"])


def test_missing_facts_are_refused() -> None:
    jobs = [job(1, DE, "running", 1.1e25, 0.0, T0)]
    (due,) = qualifying(flags_for(jobs, T0 + DAY))
    with pytest.raises(ReportError, match="not in the workloads read"):
        build_large_training(provider=PROVIDER, policy=POLICY, flag=due, evaluated_at=T0 + DAY, workloads=[],
                             identities=[identity(DE)])  # fmt: skip
    with pytest.raises(ReportError, match="no KYC record"):
        build_large_training(provider=PROVIDER, policy=POLICY, flag=due, evaluated_at=T0 + DAY,
                             workloads=jobs, identities=[])  # fmt: skip


def test_the_body_is_the_same_bytes_for_the_same_facts() -> None:
    jobs = [job(1, DE, "running", 1.1e25, 0.0, T0), job(2, DE, "ended", 1e24, 1e24, T0, T0 + DAY)]
    (due,) = qualifying(flags_for(jobs, T0 + 2 * DAY))
    make = lambda ws: canonical(build_large_training(provider=PROVIDER, policy=POLICY, flag=due,  # noqa: E731
                                evaluated_at=T0 + 2 * DAY, workloads=ws, identities=[identity(DE)]))  # fmt: skip
    assert make(jobs) == make(list(reversed(jobs)))
    assert flag(DE, "eu", 1.0).fraction == 1.0
