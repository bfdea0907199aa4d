"""Generating and issuing reports: read the facts, build the body, sign, log and store it.

One place for the CLI (``gateway reports generate``) and anything else that issues reports. The
facts are read and the body built from them alone (:mod:`.usage`, :mod:`.training`): the same
ledger and parameters give the same bytes, whenever and by whomever it is run. What differs from
one issue to the next (id, version, time, issuer, signature, audit entry) is the envelope's.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
import msgspec

from ..audit.keys import SigningKeys, signing_keys
from ..compute.flags import Flag
from ..policy.loader import load_policy
from ..policy.model import Policy
from ..policy.store import policy_dirs
from ..settings import Settings
from . import queries
from .model import (
    LargeTrainingReport,
    Provider,
    ReportError,
    UsageReport,
    canonical,
    decode,
    fixed,
)
from .repository import StoredReport, bodies, get_report, issue, latest_version
from .training import build_large_training, qualifying, report_key
from .usage import build_usage, scope

Progress = Callable[[int, int, str], None]
"""``(done, total, what)``: called as a run advances (the CLI draws a bar on a terminal)."""
_LOCK = "select pg_advisory_xact_lock(hashtextextended('gateway-reports-large-training', 0))"


def _quiet(done: int, total: int, what: str) -> None:
    pass


@dataclass(frozen=True)
class Issuer:
    """What issuing needs besides the database: the policy, the signing keys, a reader of the
    KYC records (large-training reports name the customers), who issues and the clock."""

    policy: Policy
    keys: SigningKeys
    kyc: queries.KycReader
    provider: Provider
    actor: str
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    @classmethod
    def from_settings(cls, settings: Settings, actor: str) -> Issuer:
        from ..kyc.service import KycService

        return cls(
            policy=load_policy(*policy_dirs(settings)),
            keys=signing_keys(settings),
            kyc=KycService.from_settings(settings),
            provider=Provider(
                name=settings.report_provider_name,
                country=settings.provider_country,
                audit_log=settings.audit_origin,
            ),
            actor=actor,
        )


async def usage_report(
    conn: asyncpg.Connection,
    issuer: Issuer,
    *,
    jurisdiction: str,
    since: dt.datetime,
    until: dt.datetime,
    progress: Progress = _quiet,
) -> UsageReport:
    """The usage report of ``jurisdiction`` for ``[since, until)``, built, not issued."""
    where = scope(jurisdiction, issuer.policy, issuer.provider.country)
    if since >= until:
        raise ReportError(f"--since ({since.isoformat()}) must be before --until ({until.isoformat()})")
    steps = 5
    progress(0, steps, "customers")
    customers = await queries.customers(conn, until)
    progress(1, steps, "usage events")
    usage = await queries.usage(conn, since, until)
    progress(2, steps, "compute events")
    compute = await queries.compute(conn, since, until)
    progress(3, steps, "training flags")
    flags = await queries.flags_at(conn, issuer.policy, until)
    progress(4, steps, "screening hits")
    hits = await queries.hits(conn, since, until)
    progress(5, steps, "done")
    return build_usage(
        provider=issuer.provider,
        scope=where,
        since=since,
        until=until,
        policy=issuer.policy,
        customers=customers,
        usage=usage,
        compute=compute,
        flags=flags,
        hits=hits,
    )


async def issue_usage(
    conn: asyncpg.Connection,
    issuer: Issuer,
    *,
    jurisdiction: str,
    since: dt.datetime,
    until: dt.datetime,
    progress: Progress = _quiet,
) -> StoredReport:
    report = await usage_report(
        conn, issuer, jurisdiction=jurisdiction, since=since, until=until, progress=progress
    )
    return await issue(
        conn,
        issuer.keys,
        kind="usage",
        jurisdiction=report.jurisdiction.code,
        period_start=since,
        period_end=until,
        body=canonical(report),
        actor=issuer.actor,
        issued_at=issuer.clock(),
    )


async def _training_report(
    conn: asyncpg.Connection, issuer: Issuer, flag: Flag, at: dt.datetime
) -> LargeTrainingReport:
    return build_large_training(
        provider=issuer.provider,
        policy=issuer.policy,
        flag=flag,
        evaluated_at=at,
        workloads=await queries.workloads(conn, flag.group),
        identities=[await queries.identity(conn, issuer.kyc, c) for c in flag.group],
    )


def _jurisdiction_of(flag: Flag, issuer: Issuer) -> str:
    levels = {t.name: t for t in issuer.policy.thresholds.training}
    threshold = levels.get(flag.threshold)
    return (threshold.jurisdiction if threshold else None) or issuer.provider.country


async def large_training_reports(
    conn: asyncpg.Connection,
    issuer: Issuer,
    *,
    at: dt.datetime,
    jurisdiction: str | None = None,
    progress: Progress = _quiet,
) -> list[LargeTrainingReport]:
    """The reports due at ``at`` that were not issued before (same group, threshold and level),
    optionally only those of one jurisdiction; built, not issued."""
    flags = qualifying(await queries.flags_at(conn, issuer.policy, at))
    if jurisdiction is not None:
        flags = [f for f in flags if _jurisdiction_of(f, issuer) == jurisdiction.strip().upper()]
    done = set()
    for _, body in await bodies(conn, "large_training"):
        old = decode("large_training", body)
        assert isinstance(old, LargeTrainingReport)
        done.add(report_key(old.group, old.threshold.name, old.threshold.level))
    due = [f for f in flags if report_key(f.group, f.threshold, fixed(f.fraction, 6)) not in done]
    out = []
    for i, flag in enumerate(due):
        progress(i, len(due), f"group of {len(flag.group)}, threshold {flag.threshold}")
        out.append(await _training_report(conn, issuer, flag, at))
    progress(len(due), len(due), "done")
    return out


async def issue_large_training(
    conn: asyncpg.Connection,
    issuer: Issuer,
    *,
    at: dt.datetime,
    jurisdiction: str | None = None,
    progress: Progress = _quiet,
) -> list[StoredReport]:
    """Issue every large-training report due at ``at`` that was not issued yet. Generators on
    several hosts take turns (an advisory lock), so none issues a notice twice."""
    out = []
    async with conn.transaction():
        await conn.execute(_LOCK)
        for report in await large_training_reports(
            conn, issuer, at=at, jurisdiction=jurisdiction, progress=progress
        ):
            out.append(await _issue_training(conn, issuer, report))
    return out


async def _issue_training(
    conn: asyncpg.Connection,
    issuer: Issuer,
    report: LargeTrainingReport,
    supersedes: StoredReport | None = None,
) -> StoredReport:
    return await issue(
        conn,
        issuer.keys,
        kind="large_training",
        jurisdiction=report.jurisdiction,
        period_start=_instant(report.period.start),
        period_end=_instant(report.period.end),
        body=canonical(report),
        actor=issuer.actor,
        issued_at=issuer.clock(),
        supersedes=supersedes,
    )


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


async def correct(
    conn: asyncpg.Connection, issuer: Issuer, report_id: uuid.UUID, *, progress: Progress = _quiet
) -> StoredReport:
    """Issue the next version of a report, regenerated from the ledger as it is now with the same
    parameters (kind, jurisdiction, period; for a large-training report, the same group's flag at
    the same evaluation time). Refused when nothing changed: a correction must correct something."""
    named = await get_report(conn, report_id)
    if named is None:
        raise ReportError(f"no report with id {report_id}")
    newest = await latest_version(conn, report_id)
    assert newest is not None
    if newest.id != named.id:
        raise ReportError(
            f"report {report_id} (version {named.version}) is superseded by {newest.id}"
            f" (version {newest.version}): correct the newest version"
        )
    if named.kind == "usage":
        report: UsageReport | LargeTrainingReport = await usage_report(
            conn,
            issuer,
            jurisdiction=named.jurisdiction,
            since=named.period_start,
            until=named.period_end,
            progress=progress,
        )
    else:
        old = decode("large_training", named.body)
        assert isinstance(old, LargeTrainingReport)
        at = _instant(old.dates.evaluated_at)
        flags = qualifying(await queries.flags_at(conn, issuer.policy, at, old.group))
        matching = [f for f in flags if f.threshold == old.threshold.name and set(f.group) & set(old.group)]
        if not matching:
            raise ReportError(
                f"the group of report {report_id} no longer reaches threshold {old.threshold.name!r}"
                f" at {old.dates.evaluated_at}: nothing to regenerate it from"
            )
        progress(0, 1, "large training")
        report = await _training_report(conn, issuer, matching[0], at)
        progress(1, 1, "done")
    body = canonical(report)
    if body == named.body:
        raise ReportError(
            f"report {report_id} regenerated from the ledger is identical to version {named.version}:"
            " nothing to correct"
        )
    if isinstance(report, UsageReport):
        return await issue(
            conn,
            issuer.keys,
            kind="usage",
            jurisdiction=named.jurisdiction,
            period_start=named.period_start,
            period_end=named.period_end,
            body=body,
            actor=issuer.actor,
            issued_at=issuer.clock(),
            supersedes=named,
        )
    if report.jurisdiction != named.jurisdiction:
        raise ReportError(
            f"the policy now sends this report to {report.jurisdiction}, not {named.jurisdiction}:"
            " issue a new report instead of a correction"
        )
    return await _issue_training(conn, issuer, report, supersedes=named)


def summary(report: StoredReport) -> dict[str, object]:
    """What ``reports list`` shows of a report (the envelope, not the body)."""
    fields = msgspec.structs.asdict(report)
    del fields["body"], fields["jws"]
    return fields
