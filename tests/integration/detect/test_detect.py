"""Recording findings and acting on them, against a real PostgreSQL: stable cluster ids, each action
with its audit entry, reversal, review, shadow mode, and one replica at a time."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import msgspec
import pytest

from gateway.audit.entry import AuditEntry, commitment, parse
from gateway.detect.actions import DETECTOR, reverse
from gateway.detect.findings import Finding, Link
from gateway.detect.repository import cluster_detail, get_action, list_clusters
from gateway.detect.review import act, review
from gateway.detect.runner import Detector, run_once
from gateway.detect.triage import evidence_hash
from gateway.errors import BadRequest, Conflict, NotFoundInStore
from gateway.policy.detection import Detection, DetectionActions
from gateway.policy.loader import load_policy
from gateway.policy.model import Policy
from gateway.policy.store import policy_dirs
from gateway.quota.overrides import list_overrides, set_override
from gateway.settings import Settings
from tests.conftest import eventually, kyc_service, verified_customer

NOW = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
BASE = load_policy(*policy_dirs(Settings()))


def policy(**detection: object) -> Policy:
    actions = detection.pop("actions", DetectionActions(flag=0.5, throttle=0.8))
    return msgspec.structs.replace(BASE, detection=Detection(actions=actions, **detection))  # type: ignore[arg-type]


class Fake:
    """A stand-in engine: returns the findings it is given, and remembers the window it was asked."""

    def __init__(self, *findings: Finding) -> None:
        self.findings = list(findings)
        self.windows: list[tuple[dt.datetime, dt.datetime]] = []

    async def __call__(
        self,
        conn: asyncpg.Connection,
        policy: Policy,
        since: dt.datetime,
        until: dt.datetime,
        *,
        now: dt.datetime,
    ) -> list[Finding]:
        self.windows.append((since, until))
        return self.findings


def ring(members: list[uuid.UUID], score: float = 0.85, kind: str = "ring") -> Finding:
    ms = sorted(members)
    return Finding(
        kind=kind,  # type: ignore[arg-type]
        members=tuple(ms),
        score=score,
        signals={"reasoning_share": 0.9, "template_reuse": 0.7},
        reasons=("12 accounts share one card", "the same prompt template with systematic variation"),
        links=tuple(Link(a=ms[0], b=m, kind="payment", hard=True, weight=1.0) for m in ms[1:]),
        first_seen=NOW - dt.timedelta(days=3),
        since=NOW - dt.timedelta(days=7),
        until=NOW,
    )


async def customers(conn: asyncpg.Connection, n: int) -> list[uuid.UUID]:
    return [(await verified_customer(conn, f"det-{uuid.uuid4().hex[:10]}")).id for _ in range(n)]


async def status(conn: asyncpg.Connection, customer: uuid.UUID) -> str:
    return str(await conn.fetchval("select kyc_status from customers where id = $1", customer))


async def logged(conn: asyncpg.Connection, seq: int) -> AuditEntry:
    raw = await conn.fetchval("select entry from audit_entries where seq = $1", seq)
    return parse(bytes(raw))


async def throttle_limit(conn: asyncpg.Connection, customer: uuid.UUID) -> float | None:
    found = [
        o for o in await list_overrides(conn, customer) if (o.dimension, o.period) == ("requests", "minute")
    ]
    return found[0].limit if found else None


async def test_a_run_records_a_cluster_and_its_actions_each_audited_and_a_second_run_keeps_the_id(
    conn,
) -> None:
    kyc = kyc_service()
    a, b, c, d = await customers(conn, 4)
    first = ring([a, b, c])
    engine = Fake(first)
    out = await run_once(conn, policy(), kyc, engine, now=NOW)
    assert out.status == "done" and out.run is not None
    assert engine.windows == [(NOW - dt.timedelta(days=7), NOW)]  # window_days up to now
    (cid,) = out.new_clusters
    assert (out.run.findings, out.run.new_clusters, out.run.actions) == (1, 1, 6)  # flag + throttle x 3

    detail = await cluster_detail(conn, cid)
    assert detail.cluster.status == "open" and detail.cluster.members == sorted([a, b, c])
    assert detail.cluster.evidence_hash == evidence_hash(first)
    assert detail.cluster.reasons[0] == "12 accounts share one card" and len(detail.cluster.links) == 2
    assert sorted((x.action, x.customer_id) for x in detail.actions) == sorted(
        [("flag", m) for m in (a, b, c)] + [("throttle", m) for m in (a, b, c)]
    )
    for action in detail.actions:
        assert action.automatic and action.actor == DETECTOR and action.state == "active"
        item = await logged(conn, action.audit_seq)
        assert (item.kind, item.actor, item.subject) == (
            "detect.action",
            DETECTOR,
            f"customer:{action.customer_id}",
        )
        assert item.data["evidence"] == evidence_hash(first) and item.data["cluster"] == str(cid)
        assert item.data["reason"] == commitment(action.reason) and item.data["score"] == "0.85"
        assert "reaches the" in action.reason
        if action.action == "throttle":
            assert action.override_id is not None and item.data["override"] == action.override_id
    for m in (a, b, c):
        assert await throttle_limit(conn, m) == 6.0  # the policy's throttle_requests_per_minute
    assert (
        await conn.fetchval(
            "select count(*) from audit_entries where kind = 'quota.override_set' and subject = any($1)",
            [f"customer:{m}" for m in (a, b, c)],
        )
        == 3
    )

    # The ring grows by one: the same cluster (Jaccard 3/4); only the newcomer is acted on.
    grown = ring([a, b, c, d], score=0.9)
    again = await run_once(conn, policy(), kyc, Fake(grown), now=NOW + dt.timedelta(minutes=5))
    assert again.new_clusters == [] and again.clusters == [cid] and again.run is not None
    assert again.run.actions == 2
    detail = await cluster_detail(conn, cid)
    assert detail.cluster.members == sorted([a, b, c, d]) and detail.cluster.score == 0.9
    assert detail.cluster.evidence_hash == evidence_hash(grown)
    assert detail.cluster.flagged_at == NOW and detail.cluster.updated_at == NOW + dt.timedelta(minutes=5)
    assert len(detail.actions) == 8
    runs = await conn.fetch(
        "select findings, new_clusters, actions from detect_runs where started_at >= $1", NOW
    )
    assert [tuple(r) for r in runs][-2:] == [(1, 1, 6), (1, 0, 2)]


async def test_reversing_a_throttle_removes_its_override_or_restores_the_one_it_replaced(conn) -> None:
    kyc = kyc_service()
    plain, looser = await customers(conn, 2)
    await set_override(conn, looser, dimension="requests", limit=100, period="minute", actor="cli:ops")
    out = await run_once(conn, policy(), kyc, Fake(ring([plain, looser])), now=NOW)
    (cid,) = out.new_clusters
    throttles = {
        x.customer_id: x for x in (await cluster_detail(conn, cid)).actions if x.action == "throttle"
    }
    assert await throttle_limit(conn, looser) == 6.0

    with pytest.raises(BadRequest) as bad:
        await reverse(conn, kyc, throttles[plain].id, actor="cli:ops", reason="  ", now=NOW)
    assert bad.value.code == "invalid_reason"
    done = await reverse(conn, kyc, throttles[plain].id, actor="cli:ops", reason="a benchmark lab", now=NOW)
    assert (
        done.state == "reversed"
        and done.reversed_by == "cli:ops"
        and done.effect["undone"] == {"removed": f"override {throttles[plain].override_id}"}
    )
    assert await throttle_limit(conn, plain) is None
    item = await logged(conn, done.reversal_seq)  # type: ignore[arg-type]
    assert (item.kind, item.actor, item.data["undone"]) == ("detect.action_reversed", "cli:ops", "removed")
    assert item.data["reason"] == commitment("a benchmark lab")

    await reverse(conn, kyc, throttles[looser].id, actor="cli:ops", reason="known customer", now=NOW)
    assert await throttle_limit(conn, looser) == 100.0  # the operator's own override is back
    with pytest.raises(Conflict) as err:
        await reverse(conn, kyc, throttles[looser].id, actor="cli:ops", reason="again", now=NOW)
    assert err.value.code == "already_reversed"
    with pytest.raises(NotFoundInStore):
        await reverse(conn, kyc, 2**62, actor="cli:ops", reason="no such action", now=NOW)


async def test_edd_puts_a_verified_customer_back_in_review_and_its_reversal_reinstates_it(conn) -> None:
    kyc = kyc_service()
    (x,) = await customers(conn, 1)
    strict = policy(actions=DetectionActions(flag=0.5, throttle=None, edd=0.6))
    out = await run_once(conn, strict, kyc, Fake(ring([x], kind="extractor", score=0.7)), now=NOW)
    (cid,) = out.new_clusters
    assert await status(conn, x) == "in_review"
    transition = await conn.fetchrow(
        "select actor, reason from kyc_transitions where customer_id = $1 order by id desc limit 1", x
    )
    assert transition["actor"] == DETECTOR and str(cid) in transition["reason"]
    (edd,) = [a for a in (await cluster_detail(conn, cid)).actions if a.action == "edd"]
    assert edd.effect["kyc"]["from"] == "verified" and edd.effect["kyc"]["to"] == "in_review"

    done = await reverse(conn, kyc, edd.id, actor="cli:ops", reason="cleared after a call", now=NOW)
    assert done.effect["undone"] == {"reinstated": "verified"}
    assert await status(conn, x) == "verified"
    kinds = await conn.fetch(
        "select kind, entry from audit_entries where subject = $1 and kind like 'kyc.%' order by seq",
        f"customer:{x}",
    )
    moves = [(parse(bytes(r["entry"])).data["to"], parse(bytes(r["entry"])).actor) for r in kinds][-2:]
    assert moves == [("in_review", DETECTOR), ("verified", "cli:ops")]


async def test_a_suspension_is_reversed_only_if_nothing_else_changed_since(conn) -> None:
    kyc = kyc_service()
    x, y = await customers(conn, 2)
    strict = policy(actions=DetectionActions(flag=0.5, throttle=None, suspend=0.8))
    out = await run_once(conn, strict, kyc, Fake(ring([x, y], score=0.95)), now=NOW)
    (cid,) = out.new_clusters
    assert [await status(conn, m) for m in (x, y)] == ["suspended", "suspended"]
    suspends = {a.customer_id: a for a in (await cluster_detail(conn, cid)).actions if a.action == "suspend"}

    # An operator decides about y meanwhile: the detector's reversal leaves that decision alone.
    await kyc.decide(conn, y, "reinstate", "cli:ops", "checked")
    await kyc.decide(conn, y, "suspend", "cli:ops", "suspended for another reason")
    kept = await reverse(conn, kyc, suspends[y].id, actor="cli:ops", reason="false alert", now=NOW)
    assert "kept" in kept.effect["undone"] and await status(conn, y) == "suspended"
    freed = await reverse(conn, kyc, suspends[x].id, actor="cli:ops", reason="false alert", now=NOW)
    assert freed.effect["undone"] == {"reinstated": "verified"} and await status(conn, x) == "verified"


async def test_two_clusters_share_a_hold_and_the_last_reversal_releases_it(conn) -> None:
    kyc = kyc_service()
    x, y, z = await customers(conn, 3)
    strict = policy(actions=DetectionActions(flag=0.5, throttle=0.6, suspend=0.8))
    one = await run_once(conn, strict, kyc, Fake(ring([x, y], score=0.9)), now=NOW)
    two = await run_once(conn, strict, kyc, Fake(ring([x, z], score=0.9, kind="extractor")), now=NOW)
    assert one.new_clusters != two.new_clusters
    mine = {
        (a.cluster_id, a.action): a
        for cid in (*one.new_clusters, *two.new_clusters)
        for a in (await cluster_detail(conn, cid)).actions
        if a.customer_id == x
    }
    first, second = one.new_clusters[0], two.new_clusters[0]
    assert mine[(second, "suspend")].effect["kyc"] == mine[(first, "suspend")].effect["kyc"]  # shared
    assert mine[(second, "throttle")].override_id == mine[(first, "throttle")].override_id
    for name in ("suspend", "throttle"):
        done = await reverse(conn, kyc, mine[(first, name)].id, actor="cli:ops", reason="one of two", now=NOW)
        assert "kept" in done.effect["undone"]
    assert await status(conn, x) == "suspended" and await throttle_limit(conn, x) == 6.0
    for name in ("suspend", "throttle"):
        await reverse(conn, kyc, mine[(second, name)].id, actor="cli:ops", reason="both wrong", now=NOW)
    assert await status(conn, x) == "verified" and await throttle_limit(conn, x) is None


async def test_dismissing_reverses_automatic_actions_and_keeps_the_cluster_quiet_until_clearly_stronger(
    conn,
) -> None:
    kyc = kyc_service()
    members = await customers(conn, 3)
    finding = ring(members, score=0.85)
    out = await run_once(conn, policy(), kyc, Fake(finding), now=NOW)
    (cid,) = out.new_clusters
    (manual,) = await act(
        conn,
        kyc,
        cid,
        "edd",
        actor="cli:ops",
        reason="ask for more",
        throttle_rpm=6.0,
        now=NOW,
        customer_id=members[0],
    )
    assert not manual.automatic and await status(conn, members[0]) == "in_review"
    cited = await conn.fetchval(
        "select reason from kyc_transitions where customer_id = $1 order by id desc limit 1", members[0]
    )
    assert cited == f"detection cluster {cid}: ask for more"  # the KYC trail names the cluster

    detail = await review(conn, kyc, cid, "dismiss", actor="cli:ops", reason="a benchmark lab", now=NOW)
    assert detail.cluster.status == "dismissed" and detail.cluster.reviewed_by == "cli:ops"
    states = {(a.action, a.automatic, a.state) for a in detail.actions}
    assert states == {("flag", True, "reversed"), ("throttle", True, "reversed"), ("edd", False, "active")}
    assert all([await throttle_limit(conn, m) is None for m in members])
    assert await status(conn, members[0]) == "in_review"  # the operator's own action stands
    reviewed = await conn.fetchval(
        "select count(*) from audit_entries where kind = 'detect.cluster_reviewed' and subject = $1",
        f"detect_cluster:{cid}",
    )
    assert reviewed == 1

    # Seen again, a bit higher: still dismissed, nothing done.
    later = NOW + dt.timedelta(hours=1)
    quiet = await run_once(conn, policy(), kyc, Fake(ring(members, score=0.9)), now=later)
    assert quiet.clusters == [cid] and quiet.actions == [] and quiet.reflagged == []
    assert (await cluster_detail(conn, cid)).cluster.status == "dismissed"
    # Clearly higher: flagged again, and the automatic actions taken anew.
    loud = await run_once(conn, policy(), kyc, Fake(ring(members, score=0.96)), now=later)
    assert loud.reflagged == [cid] and len(loud.actions) == 6
    again = await cluster_detail(conn, cid)
    assert again.cluster.status == "open" and again.cluster.flagged_at == later
    assert all([await throttle_limit(conn, m) == 6.0 for m in members])

    with pytest.raises(Conflict) as err:
        await act(conn, kyc, cid, "flag", actor="cli:ops", reason="again", throttle_rpm=6.0, now=NOW)
    assert err.value.code == "action_exists"  # every member is flagged already


async def test_an_operator_reversal_is_not_undone_by_the_next_run(conn) -> None:
    kyc = kyc_service()
    members = await customers(conn, 2)
    out = await run_once(conn, policy(), kyc, Fake(ring(members)), now=NOW)
    (cid,) = out.new_clusters
    throttle = next(a for a in (await cluster_detail(conn, cid)).actions if a.action == "throttle")
    await reverse(conn, kyc, throttle.id, actor="cli:ops", reason="this one is fine", now=NOW)
    nxt = await run_once(conn, policy(), kyc, Fake(ring(members)), now=NOW + dt.timedelta(minutes=5))
    assert nxt.actions == [] and await throttle_limit(conn, throttle.customer_id) is None


async def test_shadow_mode_records_what_would_be_done_and_does_nothing(conn) -> None:
    kyc = kyc_service()
    x, y = await customers(conn, 2)
    shadow = policy(mode="shadow", actions=DetectionActions(flag=0.5, throttle=0.6, suspend=0.7))
    out = await run_once(conn, shadow, kyc, Fake(ring([x, y], score=0.9)), now=NOW)
    assert out.run is not None and out.run.mode == "shadow"
    actions = (await cluster_detail(conn, out.new_clusters[0])).actions
    assert {(a.action, a.shadow) for a in actions} == {("flag", True), ("throttle", True), ("suspend", True)}
    assert all(a.override_id is None and "none" in a.effect for a in actions)
    assert [await status(conn, m) for m in (x, y)] == ["verified", "verified"]
    assert await throttle_limit(conn, x) is None
    assert (await logged(conn, actions[0].audit_seq)).data["shadow"] is True
    with pytest.raises(Conflict) as err:
        await reverse(conn, kyc, actions[0].id, actor="cli:ops", reason="nothing", now=NOW)
    assert err.value.code == "shadow_action"
    # Shadow records are not repeated; enforcing later takes the real actions.
    assert (await run_once(conn, shadow, kyc, Fake(ring([x, y], score=0.9)), now=NOW)).actions == []
    enforce = policy(actions=DetectionActions(flag=0.5, throttle=0.6, suspend=0.7))
    real = await run_once(conn, enforce, kyc, Fake(ring([x, y], score=0.9)), now=NOW)
    assert len(real.actions) == 6 and await status(conn, x) == "suspended"


async def test_off_busy_and_bad_input(conn, database_url: str) -> None:
    kyc = kyc_service()
    (x,) = await customers(conn, 1)
    off = await run_once(conn, policy(mode="off"), kyc, Fake(ring([x])), now=NOW)
    assert off.status == "off" and off.run is None
    other = await asyncpg.connect(database_url)
    try:
        async with other.transaction():
            await other.fetchval("select pg_advisory_xact_lock(hashtextextended('gateway-detector', 0))")
            busy = await run_once(conn, policy(), kyc, Fake(ring([x])), now=NOW)
            assert busy.status == "busy"
    finally:
        await other.close()
    with pytest.raises(BadRequest) as err:
        await run_once(conn, policy(), kyc, Fake(), since=NOW, until=NOW, now=NOW)
    assert err.value.code == "invalid_window"
    low = await run_once(conn, policy(), kyc, Fake(ring([x], score=0.3), ring([x, x])), now=NOW)
    assert low.new_clusters == [] and low.skipped == ["a finding with a member listed twice"]
    assert await list_clusters(conn, "open") is not None
    with pytest.raises(BadRequest):
        await list_clusters(conn, "closed")
    with pytest.raises(NotFoundInStore):
        await get_action(conn, 2**62)


async def test_the_detector_runs_in_the_background_and_reruns_history_on_demand(database_url: str) -> None:
    kyc = kyc_service()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    engine = Fake()
    later = NOW + dt.timedelta(days=730)  # no other test's run is near: the loop skips a round after one
    detector = Detector(pool, lambda: policy(window_days=2), kyc, engine, interval=3600, wall=lambda: later)
    try:
        detector.start()
        await eventually(lambda: _true(bool(engine.windows)))
        assert engine.windows == [(later - dt.timedelta(days=2), later)]  # the window ending now
        history = await detector.run(since=NOW - dt.timedelta(days=60), until=NOW - dt.timedelta(days=30))
        assert history.status == "done" and history.run is not None
        assert (history.run.since, history.run.until) == (
            NOW - dt.timedelta(days=60),
            NOW - dt.timedelta(days=30),
        )
        # A background round right after another replica's run is skipped; on demand, never.
        assert (await detector.run(unless_within=dt.timedelta(minutes=5))).status == "recent"
    finally:
        await detector.stop()
        await pool.close()


async def _true(value: bool) -> bool:
    return value
