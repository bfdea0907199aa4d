"""Recording a run's findings: clusters with stable ids, and the actions the policy asks for.

In the caller's transaction (the runner holds the detector's advisory lock in it, so one replica
records at a time). Each finding continues a known cluster or makes a new one (the rules are
:mod:`.triage`'s); a cluster's automatic actions are taken once per member and action: not again
while active, nor after an operator reversed one, until the cluster is flagged again after a
dismissal.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import asyncpg
import msgspec
import structlog

from .actions import DETECTOR, take
from .triage import Known, assign, evidence_hash, plan, problem, reflagged

if TYPE_CHECKING:
    from ..kyc.service import KycService
    from ..policy.detection import ActionName, Detection, DetectionActions
    from .findings import Finding

_log = structlog.get_logger("gateway.detect")
_json = msgspec.json.encode


class Recorded(msgspec.Struct, kw_only=True):
    """What recording one run's findings did."""

    findings: int = 0
    clusters: list[uuid.UUID] = []
    """Every cluster a finding matched or made, in the findings' order."""
    new_clusters: list[uuid.UUID] = []
    reflagged: list[uuid.UUID] = []
    actions: list[int] = []
    skipped: list[str] = []
    """Findings that could not be recorded, and why."""


async def record(
    conn: asyncpg.Connection,
    findings: Sequence[Finding],
    detection: Detection,
    kyc: KycService,
    *,
    now: dt.datetime,
) -> Recorded:
    """Record the findings and take the policy's actions (``shadow``: recorded with no effect)."""
    out = Recorded(findings=len(findings))
    valid: list[Finding] = []
    for f in findings:
        why = problem(f)
        if why is None:
            valid.append(f)
        else:
            out.skipped.append(why)
            _log.warning("detect_finding_skipped", kind=f.kind, members=len(f.members), reason=why)
    everyone = sorted({m for f in valid for m in f.members})
    rows = await conn.fetch(
        "select id, kind, status, score, members from detect_clusters where members && $1::uuid[]"
        " order by flagged_at, id for update",
        everyone,
    )
    known = [
        Known(
            id=r["id"], kind=r["kind"], status=r["status"], score=r["score"], members=frozenset(r["members"])
        )
        for r in rows
    ]
    for finding, match in zip(valid, assign(valid, known), strict=True):
        digest = evidence_hash(finding)
        if match is None:
            if finding.score < detection.actions.flag:
                continue  # below the flag cutoff: nothing to keep
            cluster_id = uuid.uuid4()
            await _insert(conn, cluster_id, finding, digest, now)
            out.new_clusters.append(cluster_id)
        elif match.status == "dismissed" and not reflagged(match, finding):
            cluster_id = match.id
            await conn.execute(  # seen again, as dismissed: only the window moves
                "update detect_clusters set since = $2, until = $3, updated_at = $4 where id = $1",
                cluster_id,
                finding.since,
                finding.until,
                now,
            )
            out.clusters.append(cluster_id)
            continue
        else:
            cluster_id = match.id
            again = match.status == "dismissed"
            await _update(conn, cluster_id, finding, digest, now, reopen=again)
            if again:
                out.reflagged.append(cluster_id)
        out.clusters.append(cluster_id)
        out.actions.extend(await _act(conn, kyc, cluster_id, finding, digest, detection, now))
    if out.new_clusters or out.reflagged:
        _log.warning(
            "detect_flagged",
            new=len(out.new_clusters),
            reflagged=len(out.reflagged),
            actions=len(out.actions),
        )
    return out


_EVIDENCE = "$2, $3, $4::uuid[], $5::jsonb, $6::jsonb, $7::jsonb, $8"


def _evidence_args(finding: Finding, digest: str) -> tuple[object, ...]:
    return (
        finding.kind,
        finding.score,
        sorted(finding.members),
        _json(finding.signals).decode(),
        _json(list(finding.reasons)).decode(),
        _json(list(finding.links)).decode(),
        digest,
    )


async def _insert(
    conn: asyncpg.Connection, cluster_id: uuid.UUID, finding: Finding, digest: str, now: dt.datetime
) -> None:
    await conn.execute(
        f"""
        insert into detect_clusters (id, kind, score, members, signals, reasons, links, evidence_hash,
                                     first_seen, flagged_at, updated_at, since, until)
        values ($1, {_EVIDENCE}, $9, $10, $10, $11, $12)
        """,  # noqa: S608 - _EVIDENCE is a constant
        cluster_id,
        *_evidence_args(finding, digest),
        finding.first_seen,
        now,
        finding.since,
        finding.until,
    )


async def _update(
    conn: asyncpg.Connection,
    cluster_id: uuid.UUID,
    finding: Finding,
    digest: str,
    now: dt.datetime,
    *,
    reopen: bool,
) -> None:
    await conn.execute(
        """
        update detect_clusters set kind = $2, score = $3, members = $4::uuid[], signals = $5::jsonb,
            reasons = $6::jsonb, links = $7::jsonb, evidence_hash = $8,
            first_seen = least(first_seen, $9), updated_at = $10, since = $11, until = $12,
            status = case when $13 then 'open' else status end,
            flagged_at = case when $13 then $10 else flagged_at end
        where id = $1
        """,
        cluster_id,
        *_evidence_args(finding, digest),
        finding.first_seen,
        now,
        finding.since,
        finding.until,
        reopen,
    )


def _reason(cluster_id: uuid.UUID, finding: Finding, action: ActionName, actions: DetectionActions) -> str:
    what = (
        f"{finding.kind} cluster {cluster_id} ({len(finding.members)} account(s)), score {finding.score:.2f}"
    )
    if finding.kind == "reseller" and action != "flag":
        return f"{what}: the policy asks for {action} on resellers"
    cutoff = getattr(actions, action)
    return f"{what} reaches the {action} cutoff {cutoff:g}"


async def _act(
    conn: asyncpg.Connection,
    kyc: KycService,
    cluster_id: uuid.UUID,
    finding: Finding,
    digest: str,
    detection: Detection,
    now: dt.datetime,
) -> list[int]:
    steps = plan(finding, detection)
    if not steps:
        return []
    shadow = detection.mode == "shadow"
    # Taken already: active (a shadow record counts only in shadow mode), or reversed by an operator
    # since the cluster was last flagged.
    taken = {
        (r["action"], r["customer_id"])
        for r in await conn.fetch(
            """
            select a.action, a.customer_id from detect_actions a join detect_clusters c on c.id = a.cluster_id
            where a.cluster_id = $1
              and ((a.state = 'active' and (not a.shadow or $2)) or (a.state = 'reversed' and a.reversed_at >= c.flagged_at))
            """,  # noqa: E501
            cluster_id,
            shadow,
        )
    }
    customers = {
        r["id"]
        for r in await conn.fetch(
            "select id from customers where id = any($1::uuid[])", list(finding.members)
        )
    }
    done: list[int] = []
    for action, customer_id in steps:
        if (action, customer_id) in taken or customer_id not in customers:
            continue
        row = await take(
            conn,
            kyc,
            cluster_id=cluster_id,
            customer_id=customer_id,
            action=action,
            automatic=True,
            shadow=shadow,
            actor=DETECTOR,
            reason=_reason(cluster_id, finding, action, detection.actions),
            evidence_hash=digest,
            score=finding.score,
            throttle_rpm=detection.actions.throttle_requests_per_minute,
            now=now,
        )
        done.append(row.id)
    return done
