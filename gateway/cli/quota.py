"""``gateway quota set|show|time-zone``: per-customer limits, which rule sets the effective one,
and the time zone whose midnight starts the customer's daily and monthly budgets."""

from __future__ import annotations

import argparse
import uuid
from typing import TYPE_CHECKING, Any

from ..quota.model import DIMENSIONS, PERIODS, SCOPES
from .common import AddCommand, cli_actor, print_json, print_table, settings_of, with_db

if TYPE_CHECKING:
    import asyncpg

    from ..quota.overrides import Override
    from ..quota.report import QuotaView


def cmd_quota_set(args: argparse.Namespace) -> None:
    from ..identity.repository import find_customer
    from ..quota.overrides import set_override

    async def work(conn: asyncpg.Connection) -> Override:
        customer = await find_customer(conn, args.customer)
        return await set_override(
            conn,
            customer.id,
            dimension=args.dimension,
            limit=args.limit,
            period=args.period,
            rolling_days=args.rolling_days,
            scope=args.scope,
            scope_name=args.project if args.scope == "project" else args.key,
            hard=args.hard,
            actor=cli_actor(),
        )

    override = with_db(args, work)
    if args.json:
        print_json(override)
    else:
        window = override.period or f"{override.rolling_days} rolling days"
        where = f"{override.scope} {override.scope_id}"
        print(f"set {override.dimension} <= {override.limit:g} per {window} on {where}")


def cmd_quota_show(args: argparse.Namespace) -> None:
    from ..identity.repository import find_customer
    from ..kyc.repository import policy_facts
    from ..policy.loader import load_policy
    from ..policy.store import policy_dirs
    from ..quota.report import quota_view

    async def work(conn: asyncpg.Connection) -> QuotaView:
        customer_id = (await find_customer(conn, args.customer)).id
        facts = await policy_facts(conn, customer_id)
        return await quota_view(
            conn, customer_id, facts, lambda: load_policy(*policy_dirs(settings_of(args)))
        )

    view = with_db(args, work)
    if args.json:
        print_json(view)
        return
    print(f"customer {view.customer}, tier {view.tier}, policy {view.policy_hash[:12]}")
    print(f"time zone {view.time_zone} (daily and monthly budgets start at its midnight)")
    print_table(
        view.limits,
        [
            "scope",
            "scope_id",
            "dimension",
            "period",
            "rolling_days",
            "limit",
            "hard",
            "source",
            "used",
            "in_flight",
        ],
    )


def cmd_quota_time_zone(args: argparse.Namespace) -> None:
    from ..identity.repository import find_customer
    from ..quota.overrides import set_time_zone, time_zone

    async def work(conn: asyncpg.Connection) -> tuple[uuid.UUID, str]:
        customer = await find_customer(conn, args.customer)
        if args.zone is None:
            return customer.id, await time_zone(conn, customer.id)
        return customer.id, await set_time_zone(conn, customer.id, args.zone)

    customer_id, zone = with_db(args, work)
    if args.json:
        print_json({"customer": customer_id, "time_zone": zone})
    elif args.zone is None:
        print(zone)
    else:
        print(f"set the time zone of customer {customer_id} to {zone}")


def register(sub: Any, add: AddCommand) -> None:
    quota = sub.add_parser("quota", help="quotas and rate limits", description="quotas and rate limits")
    qs = quota.add_subparsers(dest="quota_command", required=True, metavar="COMMAND")
    p = add(qs, "set", cmd_quota_set, "set a customer's limit for one dimension and window")
    p.add_argument("--customer", required=True, help="customer id or name")
    p.add_argument("--dimension", required=True, choices=DIMENSIONS)
    p.add_argument("--limit", required=True, type=float, help="the most allowed per window (0 forbids)")
    window = p.add_mutually_exclusive_group(required=True)
    window.add_argument(
        "--period", choices=PERIODS, help="a rate (second, minute, hour) or a calendar budget"
    )
    window.add_argument("--rolling-days", type=int, help="a budget over the last N days")
    p.add_argument("--scope", choices=SCOPES, default="customer")
    p.add_argument("--project", help="with --scope project: the project's name or id")
    p.add_argument("--key", help="with --scope key: the key's id")
    p.add_argument(
        "--hard", action="store_true", help="reserve in the database: zero overshoot across replicas"
    )
    p = add(qs, "show", cmd_quota_show, "a customer's effective limits and the rule that sets each")
    p.add_argument("--customer", required=True, help="customer id or name")
    p = add(
        qs,
        "time-zone",
        cmd_quota_time_zone,
        "show or set the time zone whose midnight starts a customer's daily and monthly budgets",
    )
    p.add_argument("--customer", required=True, help="customer id or name")
    p.add_argument("zone", nargs="?", metavar="ZONE", help="an IANA name, e.g. Europe/Berlin (omit to show)")
