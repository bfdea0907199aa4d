"""``gateway detect run|clusters|show|review|act|reverse``: distillation and abuse detection, the
clusters it flagged, and the operator's review, actions and reversals."""

from __future__ import annotations

import argparse
import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from ..detect.findings import CLUSTER_STATUSES
from ..policy.detection import ACTION_NAMES
from .common import AddCommand, CliError, cli_actor, instant, print_json, print_table, settings_of, with_db
from .kyc import with_kyc

if TYPE_CHECKING:
    import asyncpg

    from ..detect.repository import Action, Cluster, ClusterDetail
    from ..detect.review import Verdict
    from ..detect.runner import Outcome
    from ..kyc.service import KycService
    from ..policy.model import Policy


def _policy(args: argparse.Namespace) -> Policy:
    from ..policy.loader import load_policy
    from ..policy.store import policy_dirs

    return load_policy(*policy_dirs(settings_of(args)))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an id (a UUID)") from None


def cmd_detect_run(args: argparse.Namespace) -> None:
    from ..detect.runner import engine, run_once

    policy = _policy(args)

    async def work(kyc: KycService, conn: asyncpg.Connection) -> Outcome:
        return await run_once(
            conn, policy, kyc, engine(), since=args.since, until=args.until, now=_now(), wait=True
        )

    outcome = with_kyc(args, work)
    if args.json:
        print_json(outcome)
        return
    window = f"{outcome.since:%Y-%m-%d %H:%M} .. {outcome.until:%Y-%m-%d %H:%M}"
    if outcome.status == "off":
        raise CliError('detection is off in the policy ([detection] mode = "off")')
    if outcome.status == "busy":
        raise CliError("another replica is running the detector now; try again shortly")
    assert outcome.run is not None
    print(
        f"run {outcome.run.id} ({outcome.run.mode}) over {window}: {outcome.run.findings} finding(s),"
        f" {outcome.run.new_clusters} new cluster(s), {len(outcome.reflagged)} flagged again,"
        f" {outcome.run.actions} action(s), {outcome.run.seconds:.2f} s"
    )
    for why in outcome.skipped:
        print(f"skipped a finding: {why}")


def _row(c: Cluster) -> dict[str, Any]:
    return {
        "id": c.id,
        "kind": c.kind,
        "status": c.status,
        "score": f"{c.score:.2f}",
        "members": len(c.members),
        "flagged_at": f"{c.flagged_at:%Y-%m-%d %H:%M}",
        "reason": c.reasons[0] if c.reasons else "",
    }


def cmd_detect_clusters(args: argparse.Namespace) -> None:
    from ..detect.repository import list_clusters

    clusters = with_db(args, lambda conn: list_clusters(conn, args.status))
    if args.json:
        print_json(clusters)
    else:
        print_table(
            [_row(c) for c in clusters], ["id", "kind", "status", "score", "members", "flagged_at", "reason"]
        )


def _print_actions(actions: list[Action]) -> None:
    print_table(
        [
            {
                "id": a.id,
                "customer": a.customer_id,
                "action": a.action + (" (shadow)" if a.shadow else ""),
                "by": a.actor,
                "state": a.state,
                # jsonb keeps no key order: the effect is the key that is not the reversal's.
                "effect": next((k for k in a.effect if k != "undone"), ""),
                "at": f"{a.created_at:%Y-%m-%d %H:%M}",
            }
            for a in actions
        ],
        ["id", "customer", "action", "by", "state", "effect", "at"],
    )


def _print_detail(args: argparse.Namespace, detail: ClusterDetail) -> None:
    if args.json:
        print_json(detail)
        return
    c = detail.cluster
    print(f"cluster   {c.id} ({c.kind}), {c.status}, score {c.score:.2f}")
    print(f"seen      first {c.first_seen:%Y-%m-%d %H:%M}, flagged {c.flagged_at:%Y-%m-%d %H:%M},")
    print(f"          last window {c.since:%Y-%m-%d %H:%M} .. {c.until:%Y-%m-%d %H:%M}")
    if c.reviewed_by is not None:
        print(f"review    {c.reviewed_by} at {c.reviewed_at:%Y-%m-%d %H:%M}: {c.review_reason}")
    print(f"evidence  sha256 {c.evidence_hash}")
    print(f"members   {len(c.members)}: {', '.join(str(m) for m in c.members)}")
    for name, value in sorted(c.signals.items()):
        print(f"signal    {name} = {value:g}")
    for reason in c.reasons:
        print(f"reason    {reason}")
    for link in c.links:
        hard = " (hard)" if link.hard else ""
        print(f"link      {link.a} - {link.b}: {link.kind}{hard} {link.detail}".rstrip())
    _print_actions(detail.actions)


def cmd_detect_show(args: argparse.Namespace) -> None:
    from ..detect.repository import cluster_detail

    _print_detail(args, with_db(args, lambda conn: cluster_detail(conn, args.cluster)))


def cmd_detect_review(args: argparse.Namespace) -> None:
    from ..detect.review import review

    verdict: Verdict = "confirm" if args.confirm else "dismiss"

    async def work(kyc: KycService, conn: asyncpg.Connection) -> ClusterDetail:
        return await review(
            conn, kyc, args.cluster, verdict, actor=cli_actor(), reason=args.reason, now=_now()
        )

    _print_detail(args, with_kyc(args, work))


def cmd_detect_act(args: argparse.Namespace) -> None:
    from ..detect.review import act

    rpm = _policy(args).detection.actions.throttle_requests_per_minute

    async def work(kyc: KycService, conn: asyncpg.Connection) -> list[Action]:
        return await act(
            conn,
            kyc,
            args.cluster,
            args.action,
            actor=cli_actor(),
            reason=args.reason,
            throttle_rpm=rpm,
            now=_now(),
            customer_id=args.customer,
        )

    actions = with_kyc(args, work)
    if args.json:
        print_json(actions)
    else:
        _print_actions(actions)


def cmd_detect_reverse(args: argparse.Namespace) -> None:
    from ..detect.actions import reverse

    async def work(kyc: KycService, conn: asyncpg.Connection) -> Action:
        return await reverse(conn, kyc, args.action_id, actor=cli_actor(), reason=args.reason, now=_now())

    done = with_kyc(args, work)
    if args.json:
        print_json(done)
    else:
        undone = done.effect.get("undone", {})
        what = "; ".join(f"{k}: {v}" for k, v in undone.items()) if isinstance(undone, dict) else ""
        print(f"reversed action {done.id} ({done.action} on customer {done.customer_id}): {what}")


def register(sub: Any, add: AddCommand) -> None:
    detect = sub.add_parser(
        "detect",
        help="distillation and abuse detection",
        description="distillation and abuse detection: runs, flagged clusters, review, actions",
    )
    ds = detect.add_subparsers(dest="detect_command", required=True, metavar="COMMAND")
    p = add(
        ds, "run", cmd_detect_run, "run the detector now over a window (default: the policy's window_days)"
    )
    p.add_argument("--since", type=instant, help="start of the window (ISO 8601; reruns history)")
    p.add_argument("--until", type=instant, help="end of the window (default: now)")
    p = add(ds, "clusters", cmd_detect_clusters, "list flagged clusters, newest first")
    p.add_argument("--status", choices=CLUSTER_STATUSES, help="only clusters in this state")
    p = add(ds, "show", cmd_detect_show, "a cluster: members, score, signals, reasons, links and actions")
    p.add_argument("cluster", type=_uuid, metavar="CLUSTER_ID")
    p = add(
        ds,
        "review",
        cmd_detect_review,
        "confirm or dismiss a cluster (dismissing reverses its automatic actions)",
    )
    p.add_argument("cluster", type=_uuid, metavar="CLUSTER_ID")
    verdict = p.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--confirm", action="store_true", help="the detector is right")
    verdict.add_argument("--dismiss", action="store_true", help="a false alert: reverse what it did")
    p.add_argument("--reason", required=True, help="why (recorded; only its hash enters the audit log)")
    p = add(ds, "act", cmd_detect_act, "take an action on every member of a cluster (or one, --customer)")
    p.add_argument("cluster", type=_uuid, metavar="CLUSTER_ID")
    p.add_argument("--action", required=True, choices=ACTION_NAMES)
    p.add_argument("--customer", type=_uuid, help="only this member (a customer id)")
    p.add_argument("--reason", required=True, help="why (recorded; only its hash enters the audit log)")
    p = add(
        ds,
        "reverse",
        cmd_detect_reverse,
        "reverse an action: undo what it changed, if nothing else changed since",
    )
    p.add_argument("action_id", type=int, metavar="ACTION_ID")
    p.add_argument("--reason", required=True, help="why (recorded; only its hash enters the audit log)")
