"""An operator's side of detection: confirming or dismissing a cluster, and acting on one by hand.

Dismissing a cluster reverses its active automatic actions (an operator's own actions stay until
reversed one by one): the detector was wrong, so what it did on its own is undone. A dismissed cluster
is flagged again only on clearly stronger evidence (:mod:`.triage`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Literal

import asyncpg

from ..audit import log
from ..audit.entry import commitment, decimal, entry
from ..errors import BadRequest, Conflict
from ..policy.detection import ACTION_NAMES
from .actions import check_reason, reverse, take
from .repository import Action, ClusterDetail, cluster_detail, get_cluster

if TYPE_CHECKING:
    from ..kyc.service import KycService
    from ..policy.detection import ActionName

Verdict = Literal["confirm", "dismiss"]


async def review(
    conn: asyncpg.Connection,
    kyc: KycService,
    cluster_id: uuid.UUID,
    verdict: Verdict,
    *,
    actor: str,
    reason: str,
    now: dt.datetime,
) -> ClusterDetail:
    """Confirm or dismiss a cluster (dismissing reverses its active automatic actions)."""
    reason = check_reason(reason)
    if verdict not in ("confirm", "dismiss"):
        raise BadRequest("a cluster is confirmed or dismissed", code="unknown_verdict")
    status = "confirmed" if verdict == "confirm" else "dismissed"
    async with conn.transaction():
        cluster = await get_cluster(conn, cluster_id, lock=True)
        data = {
            "cluster": str(cluster_id),
            "kind": cluster.kind,
            "from": cluster.status,
            "to": status,
            "members": len(cluster.members),
            "score": decimal(cluster.score),
            "evidence": cluster.evidence_hash,
            "reason": commitment(reason),
        }
        subject = f"detect_cluster:{cluster_id}"
        await log.append(
            conn, [entry("detect.cluster_reviewed", actor=actor, at=now, subject=subject, data=data)]
        )
        await conn.execute(
            """
            update detect_clusters set status = $2, reviewed_by = $3, reviewed_at = $4, review_reason = $5,
                updated_at = $4
            where id = $1
            """,
            cluster_id,
            status,
            actor,
            now,
            reason,
        )
        if status == "dismissed":
            ids = await conn.fetch(
                "select id from detect_actions where cluster_id = $1 and automatic and not shadow"
                " and state = 'active' order by id",
                cluster_id,
            )
            for row in ids:
                await reverse(
                    conn, kyc, row["id"], actor=actor, reason=f"cluster dismissed: {reason}", now=now
                )
    return await cluster_detail(conn, cluster_id)


async def act(
    conn: asyncpg.Connection,
    kyc: KycService,
    cluster_id: uuid.UUID,
    action: str,
    *,
    actor: str,
    reason: str,
    throttle_rpm: float,
    now: dt.datetime,
    customer_id: uuid.UUID | None = None,
) -> list[Action]:
    """An operator's action on every member of a cluster (or on one, ``customer_id``): always enforced,
    whatever the detection mode. Members it is already active on are skipped."""
    reason = check_reason(reason)
    if action not in ACTION_NAMES:
        raise BadRequest(f"action must be one of {', '.join(ACTION_NAMES)}", code="unknown_action")
    name: ActionName = action
    async with conn.transaction():
        cluster = await get_cluster(conn, cluster_id, lock=True)
        if cluster.status == "dismissed":
            raise Conflict(
                "the cluster was dismissed: confirm it first (gateway detect review --confirm)",
                code="cluster_dismissed",
            )
        members = cluster.members
        if customer_id is not None:
            if customer_id not in members:
                raise BadRequest(f"customer {customer_id} is not in this cluster", code="not_a_member")
            members = [customer_id]
        known = {
            r["id"] for r in await conn.fetch("select id from customers where id = any($1)", list(members))
        }
        active = {
            r["customer_id"]
            for r in await conn.fetch(
                "select customer_id from detect_actions where cluster_id = $1 and action = $2"
                " and state = 'active' and not shadow",
                cluster_id,
                name,
            )
        }
        todo = [m for m in sorted(members) if m in known and m not in active]
        if not todo:
            raise Conflict(f"{name} is already active on every member named", code="action_exists")
        return [
            await take(
                conn,
                kyc,
                cluster_id=cluster_id,
                customer_id=member,
                action=name,
                automatic=False,
                shadow=False,
                actor=actor,
                reason=reason,
                evidence_hash=cluster.evidence_hash,
                score=cluster.score,
                throttle_rpm=throttle_rpm,
                now=now,
            )
            for member in todo
        ]
