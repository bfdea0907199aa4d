"""``gateway policy show|check|explain``: the jurisdiction policy, read and questioned offline."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from .common import AddCommand, CliError, print_json, settings_of, with_db

if TYPE_CHECKING:
    import asyncpg

    from ..policy.decide import CustomerFacts, Decision


def cmd_policy_show(args: argparse.Namespace) -> None:
    from ..policy.loader import load_policy
    from ..policy.store import policy_dirs

    settings = settings_of(args)
    dirs = policy_dirs(settings)
    policy = load_policy(*dirs)
    if args.json:
        print_json({"policy_hash": policy.hash, "dirs": [str(d) for d in dirs], "policy": policy})
        return
    print(f"policy {policy.hash}")
    print(f"from   {', '.join(str(d) for d in dirs)}")
    print(msgspec.json.format(msgspec.json.encode(policy)).decode())


def cmd_policy_check(args: argparse.Namespace) -> None:
    from ..policy.loader import load_policy, shipped_policy_dir

    folder = Path(args.dir)
    if not folder.is_dir():
        raise CliError(f"{folder} is not a folder")
    shipped = shipped_policy_dir()
    # A folder is checked as the gateway would use it: on top of the shipped policy, unless it is that.
    dirs = [folder] if folder.resolve() == shipped.resolve() else [shipped, folder]
    policy = load_policy(*dirs)
    if args.json:
        print_json({"ok": True, "policy_hash": policy.hash})
    else:
        print(f"ok: {policy.hash}")


def cmd_policy_explain(args: argparse.Namespace) -> None:
    from ..identity.repository import find_customer
    from ..kyc.repository import policy_facts
    from ..policy.decide import RequestFacts, decide, explain
    from ..policy.loader import load_policy
    from ..policy.store import policy_dirs
    from ..proxy.origin import country_of

    policy = load_policy(*policy_dirs(settings_of(args)))

    async def facts(conn: asyncpg.Connection) -> CustomerFacts:
        return await policy_facts(conn, (await find_customer(conn, args.customer)).id)

    customer = with_db(args, facts)
    origin = country_of(args.ip) if args.ip else None
    request = RequestFacts(args.action, args.region.upper(), origin)
    decision: Decision = decide(customer, request, policy)
    if args.json:
        out: dict[str, Any] = msgspec.structs.asdict(decision)
        out["origin_country"] = origin
        print_json(out)
    else:
        print(explain(decision))


def register(sub: Any, add: AddCommand) -> None:
    pol = sub.add_parser("policy", help="jurisdiction policy", description="jurisdiction policy")
    ps = pol.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")
    add(ps, "show", cmd_policy_show, "the effective policy (shipped + policy_dir) and its hash")
    p = add(ps, "check", cmd_policy_check, "validate a policy folder without starting the server")
    p.add_argument("dir", help="a policy folder (an override of the shipped policy, or the shipped one)")
    p = add(
        ps, "explain", cmd_policy_explain, "the decision for a customer and the facts and rules behind it"
    )
    p.add_argument("--customer", required=True, help="customer id or name")
    p.add_argument("--action", required=True, choices=["inference", "fine_tune", "train", "cluster_job"])
    p.add_argument("--region", required=True, help="ISO 3166-1 alpha-2 country where the compute runs")
    p.add_argument("--ip", help="the client's IP address (its country is looked up offline)")
