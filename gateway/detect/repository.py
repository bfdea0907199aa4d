"""Reading what the detector recorded (``detect_clusters``, ``detect_actions``, ``detect_runs``, sql/015):
the typed views the CLI and the admin API show."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import msgspec

from ..errors import BadRequest, NotFoundInStore
from .findings import CLUSTER_STATUSES, ClusterStatus, Link

_LINKS = msgspec.json.Decoder(list[Link])
_ANY = msgspec.json.Decoder()


class Cluster(msgspec.Struct, frozen=True, kw_only=True):
    """One account or linked cluster the detector flagged, as it stands."""

    id: uuid.UUID
    kind: str
    status: ClusterStatus
    score: float
    members: list[uuid.UUID]
    signals: dict[str, float]
    reasons: list[str]
    links: list[Link]
    evidence_hash: str
    first_seen: dt.datetime
    flagged_at: dt.datetime
    updated_at: dt.datetime
    since: dt.datetime
    until: dt.datetime
    reviewed_by: str | None
    reviewed_at: dt.datetime | None
    review_reason: str | None


class Action(msgspec.Struct, frozen=True, kw_only=True):
    """One action on one customer, taken by the detector (``automatic``) or an operator."""

    id: int
    cluster_id: uuid.UUID
    customer_id: uuid.UUID
    action: str
    automatic: bool
    shadow: bool
    state: str
    actor: str
    reason: str
    evidence_hash: str
    override_id: int | None
    effect: dict[str, Any]
    created_at: dt.datetime
    audit_seq: int
    reversed_at: dt.datetime | None
    reversed_by: str | None
    reversal_reason: str | None
    reversal_seq: int | None


class ClusterDetail(msgspec.Struct, frozen=True, kw_only=True):
    """``gateway detect show``: the cluster and every action taken on it."""

    cluster: Cluster
    actions: list[Action]


class Run(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    started_at: dt.datetime
    finished_at: dt.datetime
    since: dt.datetime
    until: dt.datetime
    mode: str
    findings: int
    new_clusters: int
    actions: int
    seconds: float


_CLUSTER = """
    select id, kind, status, score, members, signals::text, reasons::text, links::text, evidence_hash,
           first_seen, flagged_at, updated_at, since, until, reviewed_by, reviewed_at, review_reason
    from detect_clusters
"""
_ACTION = """
    select id, cluster_id, customer_id, action, automatic, shadow, state, actor, reason, evidence_hash,
           override_id, effect::text, created_at, audit_seq, reversed_at, reversed_by, reversal_reason,
           reversal_seq
    from detect_actions
"""


def _cluster(row: asyncpg.Record) -> Cluster:
    data = dict(row)
    data["signals"] = _ANY.decode(data["signals"])
    data["reasons"] = _ANY.decode(data["reasons"])
    data["links"] = _LINKS.decode(data["links"])
    return Cluster(**data)


def _action(row: asyncpg.Record) -> Action:
    data = dict(row)
    data["effect"] = _ANY.decode(data["effect"])
    return Action(**data)


async def list_clusters(
    conn: asyncpg.Connection, status: str | None = None, limit: int = 1000
) -> list[Cluster]:
    """Newest flagged first; of one status if given."""
    if status is not None and status not in CLUSTER_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(CLUSTER_STATUSES)}", code="invalid_status")
    rows = await conn.fetch(
        _CLUSTER + " where ($1::text is null or status = $1) order by flagged_at desc, id limit $2",
        status,
        limit,
    )
    return [_cluster(r) for r in rows]


async def get_cluster(conn: asyncpg.Connection, cluster_id: uuid.UUID, *, lock: bool = False) -> Cluster:
    row = await conn.fetchrow(_CLUSTER + " where id = $1" + (" for update" if lock else ""), cluster_id)
    if row is None:
        raise NotFoundInStore(f"no detection cluster {cluster_id}", code="cluster_not_found")
    return _cluster(row)


async def cluster_detail(conn: asyncpg.Connection, cluster_id: uuid.UUID) -> ClusterDetail:
    cluster = await get_cluster(conn, cluster_id)
    return ClusterDetail(cluster=cluster, actions=await cluster_actions(conn, cluster_id))


async def cluster_actions(conn: asyncpg.Connection, cluster_id: uuid.UUID) -> list[Action]:
    return [_action(r) for r in await conn.fetch(_ACTION + " where cluster_id = $1 order by id", cluster_id)]


async def get_action(conn: asyncpg.Connection, action_id: int, *, lock: bool = False) -> Action:
    row = await conn.fetchrow(_ACTION + " where id = $1" + (" for update" if lock else ""), action_id)
    if row is None:
        raise NotFoundInStore(f"no detection action {action_id}", code="action_not_found")
    return _action(row)


async def list_runs(conn: asyncpg.Connection, limit: int = 20) -> list[Run]:
    rows = await conn.fetch(
        "select id, started_at, finished_at, since, until, mode, findings, new_clusters, actions, seconds"
        " from detect_runs order by id desc limit $1",
        limit,
    )
    return [Run(**dict(r)) for r in rows]
