"""``gateway compute show|flags``: training compute per customer and linked group, and the flags raised."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from .common import AddCommand, print_json, print_table, settings_of, with_db

if TYPE_CHECKING:
    import asyncpg


async def _state(conn: asyncpg.Connection, args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    from ..compute.records import accounting_pass
    from ..policy.loader import load_policy
    from ..policy.store import policy_dirs

    policy = load_policy(*policy_dirs(settings_of(args)))
    done = await accounting_pass(conn, policy, now=time.time(), customers=extra)
    return {
        "policy": policy,
        "since": done.since,
        "records": done.records,
        "links": done.links,
        "groups": done.groups,
        "flags": done.flags,
    }


async def compute_view(conn: asyncpg.Connection, args: argparse.Namespace, customer: str) -> dict[str, Any]:
    from ..compute.records import gpu_seconds
    from ..identity.repository import find_customer

    found = await find_customer(conn, customer)
    cid = str(found.id)
    state = await _state(conn, args, [cid])
    group = sorted(state["groups"].get(cid, frozenset({cid})))
    mine = [r for r in state["records"] if r.customer == cid]
    theirs = [r for r in state["records"] if r.customer in group]
    thresholds = []
    for t in state["policy"].thresholds.training:
        counted = [r for r in theirs if r.bio or t.scope != "bio"]
        total = sum(r.flop_settled + r.flop_expected for r in counted)
        thresholds.append({"name": t.name, "flop": t.flop, "fraction": total / t.flop, "group_flop": total})
    return {
        "customer": cid,
        "window_days": state["policy"].compute.window_days,
        "gpu_seconds": await gpu_seconds(conn, found.id, state["since"]),
        "flop_settled": sum(r.flop_settled for r in mine),
        "flop_expected": sum(r.flop_expected for r in mine),
        "group": group,
        "links": [
            {"a": lk.a, "b": lk.b, "reason": lk.reason} for lk in state["links"] if cid in (lk.a, lk.b)
        ],
        "thresholds": thresholds,
        "jobs": sorted(r.job for r in mine),
    }


def cmd_compute_show(args: argparse.Namespace) -> None:
    view = with_db(args, lambda conn: compute_view(conn, args, args.customer))
    if args.json:
        print_json(view)
        return
    print(
        f"customer {view['customer']}: {view['gpu_seconds']:g} GPU-seconds settled, FLOP settled"
        f" {view['flop_settled']:.3g}, expected {view['flop_expected']:.3g} (last {view['window_days']} days)"
    )
    print(f"linked group: {', '.join(view['group'])}")
    print_table(view["thresholds"], ["name", "flop", "group_flop", "fraction"])


def cmd_compute_flags(args: argparse.Namespace) -> None:
    async def work(conn: asyncpg.Connection) -> list[dict[str, Any]]:
        state = await _state(conn, args, [])
        return [
            {
                "customer": f.customer,
                "group": f.group,
                "threshold": f.threshold,
                "threshold_flop": f.threshold_flop,
                "fraction": f.fraction,
                "flop": f.flop,
                "flop_settled": f.flop_settled,
                "flop_expected": f.flop_expected,
                "jobs": f.jobs,
                "links": [{"a": lk.a, "b": lk.b, "reason": lk.reason} for lk in f.links],
                "assumptions": f.assumptions,
            }
            for f in state["flags"]
        ]

    flags = with_db(args, work)
    if args.json:
        print_json(flags)
        return
    print_table(flags, ["customer", "threshold", "fraction", "flop"])


def register(sub: Any, add: AddCommand) -> None:
    compute = sub.add_parser(
        "compute", help="training compute and its flags", description="training compute and its flags"
    )
    cs = compute.add_subparsers(dest="compute_command", required=True, metavar="COMMAND")
    p = add(cs, "show", cmd_compute_show, "a customer's compute, its linked group, and the thresholds")
    p.add_argument("--customer", required=True, help="customer id or name")
    add(cs, "flags", cmd_compute_flags, "every customer whose group reaches a training-compute alert level")
