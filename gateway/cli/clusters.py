"""``gateway cluster identity set|show|list|remove``: the cluster user each customer's jobs run as."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import msgspec

from .common import AddCommand, CliError, print_json, print_table, settings_of, with_db

if TYPE_CHECKING:
    import asyncpg

    from ..clusters.identities import ClusterIdentity
    from ..settings import ClusterSettings


def _cluster(args: argparse.Namespace) -> ClusterSettings:
    """The named cluster of the configuration: a mapping for a cluster the gateway does not serve
    would never be used, and is most likely a typo."""
    clusters = {c.name: c for c in settings_of(args).clusters}
    cluster = clusters.get(args.cluster)
    if cluster is None:
        known = ", ".join(sorted(clusters)) or "none configured"
        raise CliError(f"no cluster {args.cluster!r} in the configuration (clusters: {known})")
    if cluster.kind != "slurm":
        raise CliError(f"cluster {args.cluster!r} is {cluster.kind}: identities are for Slurm clusters")
    return cluster


def _row(identity: ClusterIdentity) -> dict[str, Any]:
    return msgspec.structs.asdict(identity) | {"customer_id": str(identity.customer_id)}


def cmd_identity_set(args: argparse.Namespace) -> None:
    from ..clusters import identities
    from ..identity.repository import find_customer

    cluster = _cluster(args)

    async def work(conn: asyncpg.Connection) -> dict[str, Any]:
        customer = await find_customer(conn, args.customer)
        identity = identities.checked(
            cluster.name,
            customer.id,
            args.user,
            account=args.account,
            qos=args.qos,
            home=args.home,
            home_root=cluster.home_root,
        )
        return _row(await identities.put(conn, identity))

    row = with_db(args, work)
    if args.json:
        print_json(row)
        return
    print(
        f"{row['customer_id']} runs jobs on {row['cluster']} as {row['user']}"
        f" (account {row['account'] or cluster.account or '(default)'},"
        f" qos {row['qos'] or cluster.qos or '(default)'}, home {row['home']})"
    )


def cmd_identity_list(args: argparse.Namespace) -> None:
    from ..clusters import identities

    rows = [_row(i) for i in with_db(args, lambda conn: identities.listed(conn, args.cluster))]
    if args.json:
        print_json(rows)
        return
    print_table(rows, ["cluster", "customer_id", "user", "account", "qos", "home"])


def cmd_identity_remove(args: argparse.Namespace) -> None:
    from ..clusters import identities
    from ..identity.repository import find_customer

    cluster = _cluster(args)

    async def work(conn: asyncpg.Connection) -> bool:
        customer = await find_customer(conn, args.customer)
        return await identities.remove(conn, cluster.name, customer.id)

    if not with_db(args, work):
        raise CliError(f"{args.customer} has no identity on {cluster.name}")
    if args.json:
        print_json({"removed": True})
    else:
        print(f"removed: new jobs of {args.customer} on {cluster.name} are refused until it is mapped again")


def register(sub: Any, add: AddCommand) -> None:
    cl = sub.add_parser("cluster", help="GPU clusters", description="GPU clusters")
    cls = cl.add_subparsers(dest="cluster_command", required=True, metavar="COMMAND")
    ident = cls.add_parser(
        "identity",
        help="the cluster user each customer's jobs run as",
        description="the cluster user each customer's jobs run as",
    )
    ids = ident.add_subparsers(dest="identity_command", required=True, metavar="COMMAND")
    p = add(ids, "set", cmd_identity_set, "map a customer to its own cluster user (create the user first)")
    p.add_argument("--cluster", required=True, help="the cluster's name in the configuration")
    p.add_argument("--customer", required=True, help="customer id or name")
    p.add_argument("--user", required=True, help="the Unix user its jobs run as (one customer's only)")
    p.add_argument("--account", help="Slurm account of its jobs (default: the cluster's `account`)")
    p.add_argument("--qos", help="Slurm QOS of its jobs (default: the cluster's `qos`)")
    p.add_argument("--home", help="its area; jobs write only inside it (default: <home_root>/<user>)")
    p = add(ids, "list", cmd_identity_list, "list identities")
    p.add_argument("--cluster", help="only this cluster's")
    p = add(ids, "remove", cmd_identity_remove, "unmap a customer: its new jobs are refused")
    p.add_argument("--cluster", required=True, help="the cluster's name in the configuration")
    p.add_argument("--customer", required=True, help="customer id or name")
