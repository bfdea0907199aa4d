"""Large-training reports: which flags call for one, and the report of one. Pure.

**When.** A linked group's flag at level 1.0 of a threshold: its compute, *settled plus expected*,
reaches the threshold (:mod:`gateway.compute.flags`). Expected compute is what queued and running
jobs will compute (bound x utilisation), known when they are admitted, so a report is due at the
planning stage already (EU AI Act Art. 52(1): within two weeks of meeting the level "or it
becomes known that it will be met"; recital 112: providers know before training completes). Its
``trigger`` says which: ``projected`` (the settled compute has not reached the level yet) or
``crossed``. One report per linked group, threshold and level: the group's customers are
all in it, each with their identity and owners.

**Dates.** ``became_known_at``: going through the group's counted jobs in order of submission, the
submission at which the compute expected of them (recorded at admission, ``flop_expected``)
reaches the threshold; ``crossed_at``: going through the ended ones in order of their end, the end
at which the settled compute reaches it. The ``deadline`` is ``became_known_at`` plus the
threshold's ``report_within_days`` (none when the policy sets none).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec

from ..compute.flags import Flag
from ..policy.model import Policy, TrainingThreshold
from .model import (
    AcceleratorUsed,
    Address,
    BeneficialOwner,
    ComputeTotals,
    CustomerIdentity,
    Estimate,
    LargeTrainingReport,
    Link,
    NationalId,
    Period,
    Provider,
    ReportError,
    Threshold,
    Timeline,
    Workload,
    fixed,
    maybe_rfc3339,
    rfc3339,
    whole,
)

if TYPE_CHECKING:
    from ..kyc.facts import Facts
    from ..kyc.models import Owner
    from ..kyc.ownership import OwnershipReport

REPORT_LEVEL = 1.0
_ROUNDING = 1e-9  # as the flags: 0.1 x 1e25 > 1e24 in floats must not hide an exact hit
METHOD = "hardware: accelerators x time x dense peak FLOP/s per accelerator x utilisation"
FORMULA = (
    "flop_bound = gpus x time_limit_seconds x peak_flops_per_gpu; "
    "flop_expected = flop_bound x utilisation; "
    "flop_settled = gpus x run_seconds x peak_flops_per_gpu x utilisation"
)


class WorkloadRow(msgspec.Struct, frozen=True, kw_only=True):
    """A job of the ``workloads`` table, with what it was admitted with."""

    id: str
    cluster: str
    job_id: str | None
    customer_id: str
    state: str
    accelerator: str
    gpus: int
    time_limit_seconds: int
    peak_flops_per_gpu: float
    utilisation: float
    gpu_seconds_settled: float
    flop_bound: float
    flop_expected: float
    flop_settled: float
    bio: bool
    submitted_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None

    @property
    def job(self) -> str:
        """The name flags give it: ``<cluster>:<job id>`` (the workload id before the cluster named it)."""
        return f"{self.cluster}:{self.job_id if self.job_id is not None else self.id}"


@dataclass(frozen=True, kw_only=True)
class IdentityFacts:
    """One customer's KYC record, opened: what its identity in a report is built from."""

    id: str
    name: str
    kind: str
    country: str | None
    kyc_status: str
    verified_at: dt.datetime | None
    facts: Facts | None
    owners: list[Owner]
    ownership: OwnershipReport


def reaches(total: float, flop: float) -> bool:
    return total >= flop * (1 - _ROUNDING)


def qualifying(flags: Iterable[Flag]) -> list[Flag]:
    """The flags a report is due for: level 1.0, one per linked group and threshold (the group's
    first customer's flag: every member's flag of a group carries the same figures)."""
    seen: set[tuple[tuple[str, ...], str]] = set()
    out: list[Flag] = []
    for flag in sorted(flags, key=lambda f: (f.threshold, f.group, f.customer)):
        key = (tuple(flag.group), flag.threshold)
        if flag.fraction < REPORT_LEVEL or key in seen:
            continue
        seen.add(key)
        out.append(flag)
    return out


def report_key(group: Sequence[str], threshold: str, level: str) -> tuple[tuple[str, ...], str, str]:
    """What makes two large-training reports the same notice: the group, the threshold, the level."""
    return (tuple(sorted(group)), threshold, level)


def deadline(became_known_at: dt.datetime, threshold: TrainingThreshold) -> dt.datetime | None:
    days = threshold.report_within_days
    return None if days is None else became_known_at + dt.timedelta(days=days)


def timeline(
    workloads: Sequence[WorkloadRow], flop: float, evaluated_at: dt.datetime
) -> tuple[dt.datetime, dt.datetime, dt.datetime | None, dt.datetime | None]:
    """``(first_seen, became_known_at, crossed_at, projected_completion_at)`` (see the module)."""
    if not workloads:
        raise ReportError("a large-training report needs the jobs that were counted")
    by_submission = sorted(workloads, key=lambda w: (w.submitted_at, w.job))
    first_seen = by_submission[0].submitted_at
    known: dt.datetime | None = None
    expected: list[float] = []
    for w in by_submission:
        expected.append(max(w.flop_expected, w.flop_settled))
        if reaches(math.fsum(expected), flop):
            known = w.submitted_at
            break
    crossed: dt.datetime | None = None
    settled: list[float] = []
    ended = [w for w in workloads if w.state == "ended" and w.ended_at is not None]
    for w in sorted(ended, key=lambda w: (w.ended_at or w.submitted_at, w.job)):
        settled.append(w.flop_settled)
        if reaches(math.fsum(settled), flop):
            crossed = w.ended_at
            break
    if known is None:  # the flag counted it: settled + expected of the live jobs reached it
        known = crossed if crossed is not None else evaluated_at
    projected = None
    if crossed is None:
        ends = [
            (w.started_at or w.submitted_at) + dt.timedelta(seconds=w.time_limit_seconds)
            for w in workloads
            if w.state != "ended"
        ]
        projected = max(ends) if ends else None
    return first_seen, known, crossed, projected


def _identity(found: IdentityFacts) -> CustomerIdentity:
    facts = found.facts
    identifiers = facts.identifiers if facts is not None else ()
    owners = {str(o.id): o for o in found.owners}
    beneficial = []
    for holding in found.ownership.holdings:
        owner = owners.get(holding.owner_id)
        if not holding.beneficial or owner is None:
            continue
        beneficial.append(
            BeneficialOwner(
                name=owner.name,
                kind=owner.kind,
                country=owner.country,
                percent=fixed(holding.effective_percent, 4),
                control_roles=sorted(holding.control_roles),
            )
        )
    return CustomerIdentity(
        id=found.id,
        account_name=found.name,
        legal_name=facts.legal_name if facts else None,
        kind=found.kind,
        country=found.country,
        incorporation_country=facts.incorporation_country if facts else None,
        residence_country=facts.residence_country if facts else None,
        headquarters_country=facts.headquarters_country if facts else None,
        addresses=[
            Address(
                line1=a.line1,
                line2=a.line2,
                city=a.city,
                region=a.region,
                postal_code=a.postal_code,
                country=a.country,
            )
            for a in (facts.addresses if facts else ())
        ],
        national_id=NationalId(
            on_file=bool(identifiers),
            types=sorted({i.type for i in identifiers}),
            issuing_countries=sorted({i.country for i in identifiers if i.country}),
        ),
        kyc_status=found.kyc_status,
        verified_at=maybe_rfc3339(found.verified_at),
        beneficial_owners=beneficial,
    )


def _workload(w: WorkloadRow) -> Workload:
    return Workload(
        job=w.job,
        cluster=w.cluster,
        job_id=w.job_id,
        customer_id=w.customer_id,
        state=w.state,
        accelerator=w.accelerator,
        gpus=w.gpus,
        time_limit_seconds=w.time_limit_seconds,
        submitted_at=rfc3339(w.submitted_at),
        started_at=maybe_rfc3339(w.started_at),
        ended_at=maybe_rfc3339(w.ended_at),
        peak_flops_per_gpu=whole(w.peak_flops_per_gpu),
        utilisation=fixed(w.utilisation, 6),
        gpu_seconds_settled=fixed(w.gpu_seconds_settled, 3),
        flop_bound=whole(w.flop_bound),
        flop_expected=whole(w.flop_expected),
        flop_settled=whole(w.flop_settled),
        bio=w.bio,
    )


def _accelerators(workloads: Sequence[WorkloadRow], policy: Policy) -> list[AcceleratorUsed]:
    out = []
    for name in sorted({w.accelerator for w in workloads}):
        mine = [w for w in workloads if w.accelerator == name]
        catalog = policy.accelerator(name)
        out.append(
            AcceleratorUsed(
                name=name,
                peak_flops_per_gpu=sorted({whole(w.peak_flops_per_gpu) for w in mine}, key=int),
                utilisation=sorted({fixed(w.utilisation, 6) for w in mine}),
                catalog_title=catalog[1].title if catalog else None,
                catalog_source=catalog[1].source if catalog else None,
            )
        )
    return out


def build_large_training(
    *,
    provider: Provider,
    policy: Policy,
    flag: Flag,
    evaluated_at: dt.datetime,
    workloads: Sequence[WorkloadRow],
    identities: Sequence[IdentityFacts],
) -> LargeTrainingReport:
    """The report of ``flag``'s group: ``workloads`` are the jobs the flag counted (others are
    ignored), ``identities`` its customers' KYC records."""
    levels = {t.name: t for t in policy.thresholds.training}
    threshold = levels.get(flag.threshold)
    if threshold is None:
        raise ReportError(f"the policy has no training threshold {flag.threshold!r} any more")
    counted = sorted((w for w in workloads if w.job in set(flag.jobs)), key=lambda w: w.job)
    missing = sorted(set(flag.jobs) - {w.job for w in counted})
    if missing:
        raise ReportError(f"jobs counted by the flag are not in the workloads read: {', '.join(missing)}")
    first_seen, known, crossed, projected = timeline(counted, threshold.flop, evaluated_at)
    jurisdiction = threshold.jurisdiction or provider.country
    due = deadline(known, threshold)
    window = dt.timedelta(days=policy.compute.window_days)
    people = {i.id: i for i in identities}
    absent = [c for c in flag.group if c not in people]
    if absent:
        raise ReportError(f"no KYC record read for customer {absent[0]}")
    return LargeTrainingReport(
        provider=provider,
        jurisdiction=jurisdiction,
        period=Period(start=rfc3339(evaluated_at - window), end=rfc3339(evaluated_at)),
        policy_hash=policy.hash,
        threshold=Threshold(
            name=threshold.name,
            flop=whole(threshold.flop),
            scope=threshold.scope,
            source=threshold.source,
            as_of=threshold.as_of.isoformat(),
            jurisdiction=jurisdiction,
            report_within_days=threshold.report_within_days,
            level=fixed(flag.fraction, 6),
        ),
        trigger="crossed" if crossed is not None else "projected",
        deadline=maybe_rfc3339(due),
        group=sorted(flag.group),
        links=[Link(a=lk.a, b=lk.b, reason=lk.reason) for lk in flag.links],
        customers=[_identity(people[c]) for c in sorted(flag.group)],
        workloads=[_workload(w) for w in counted],
        compute=ComputeTotals(
            settled=whole(flag.flop_settled),
            expected=whole(flag.flop_expected),
            total=whole(flag.flop),
            fraction_of_threshold=fixed(flag.flop / threshold.flop, 6),
        ),
        estimate=Estimate(
            method=METHOD,
            formula=FORMULA,
            accelerators=_accelerators(counted, policy),
            policy_utilisation=fixed(policy.compute.utilisation, 6),
            window_days=policy.compute.window_days,
            assumptions=flag.assumptions,
        ),
        dates=Timeline(
            first_seen=rfc3339(first_seen),
            became_known_at=rfc3339(known),
            crossed_at=maybe_rfc3339(crossed),
            projected_completion_at=maybe_rfc3339(projected),
            evaluated_at=rfc3339(evaluated_at),
        ),
    )
