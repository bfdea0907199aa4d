"""``gateway quota set|show|time-zone``: per-customer limits, which rule sets the effective one,
and the time zone whose midnight starts the customer's daily and monthly budgets."""

from __future__ import annotations

import argparse
import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from ..identity.repository import find_customer
from ..kyc.repository import policy_facts
from ..policy.decide import compile_entitlement
from ..policy.loader import load_policy
from ..policy.model import Policy
from ..quota.model import DIMENSIONS, PERIODS, SCOPES, Limit
from ..quota.overrides import Override, list_overrides, set_override, set_time_zone, time_zone
from ..quota.resolve import Effective, caps_to_limits, effective_limits, plan_limits
from ..quota.store import CounterKey, counter
from ..quota.windows import counter_window
from ..runtime import policy_dirs
from .common import AddCommand, cli_actor, print_json, print_table, settings_of, with_db


class QuotaView(msgspec.Struct, frozen=True):
    customer: str
    tier: str
    policy_hash: str
    time_zone: str
    limits: list[dict[str, Any]]


async def quota_view(
    conn: asyncpg.Connection, customer: str | uuid.UUID, policy: Policy | argparse.Namespace
) -> QuotaView:
    """The effective limits of a customer: the tightest of its tier's caps, its plans and the overrides.

    ``customer`` is an id or a name (the CLI) or a UUID, looked up by id only (the admin API);
    ``policy`` is the policy in force (the admin API) or the CLI's arguments, whose settings
    name the policy folders to load.
    """
    customer_id = customer if isinstance(customer, uuid.UUID) else (await find_customer(conn, customer)).id
    facts = await policy_facts(conn, customer_id)  # customer_not_found for an unknown id
    zone = await time_zone(conn, customer_id)
    if isinstance(policy, argparse.Namespace):
        policy = load_policy(*policy_dirs(settings_of(policy)))
    entitlement = compile_entitlement(facts, policy)
    overrides = await list_overrides(conn, customer_id)
    plans = plan_limits(policy, entitlement.tier, facts.kyc_level)
    caps = caps_to_limits(entitlement.caps, f"policy:{entitlement.rule}.caps")
    by_scope: dict[str, list[Override]] = {f"customer:{customer_id}": []}
    for scope in ("project", "key"):
        if any(p.scope == scope for p in plans):
            by_scope[f"{scope}:*"] = []  # the plan's limit for each one without an override
    for o in overrides:
        by_scope.setdefault(f"{o.scope}:{o.scope_id}", []).append(o)
    limits: list[dict[str, Any]] = []
    for scope_key, group in sorted(by_scope.items()):
        scope, scope_id = scope_key.split(":", 1)
        sources = [
            caps if scope == "customer" else [],
            [p for p in plans if p.scope == scope],
            [o.as_limit() for o in group],
        ]
        effective: list[Effective] = effective_limits(*sources)
        for e in effective:
            limits.append(
                {
                    **msgspec.structs.asdict(e.limit),
                    "scope_id": scope_id,
                    "overridden": [msgspec.structs.asdict(x) for x in e.overridden],
                    **(await _usage(conn, e.limit, scope_id, ZoneInfo(zone))),
                }
            )
    return QuotaView(
        customer=str(customer_id),
        tier=entitlement.tier,
        policy_hash=policy.hash,
        time_zone=zone,
        limits=limits,
    )


async def _usage(conn: asyncpg.Connection, limit: Limit, scope_id: str, tz: ZoneInfo) -> dict[str, Any]:
    """Where a budget's current window stands: settled ``used``, and ``in_flight`` (reserved by
    requests under way or leased to replicas). A plan's limit for every key or project (``*``)
    has no one counter."""
    if scope_id == "*" or limit.kind() == "rate":  # a rate's window is gone in a second or a minute
        return {}
    name, start, end, since = counter_window(limit, dt.datetime.now(dt.UTC), tz)
    found = await counter(conn, CounterKey(limit.scope, scope_id, limit.dimension, name, start, end, since))
    return {
        "window_start": (since or start).isoformat(),
        "window_end": end.isoformat(),
        "used": found.used if found else 0.0,
        "in_flight": found.reserved + found.leased if found else 0.0,
    }


def cmd_quota_set(args: argparse.Namespace) -> None:
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
    view = with_db(args, lambda conn: quota_view(conn, args.customer, args))
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
