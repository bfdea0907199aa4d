"""``gateway usage list|compute|summary|import|partitions|prune``: the ledger, read back, filled from
elsewhere, and its monthly partitions.

``list`` prints model-API and cluster-API calls, ``compute`` the cluster jobs settled (what each
computed), ``summary`` each customer's calls, tokens and compute over a period: what reports and
detection read, from the same tables. ``import`` adds model-API calls served elsewhere (JSON Lines,
``detect.imports.CallRecord``), with the same call features as the gateway keeps. ``partitions``
lists the ledger's monthly partitions and ``prune`` drops the months before a date (audited), as
``ledger_retention_days`` does on its own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from .common import AddCommand, CliError, cli_actor, instant, positive, print_json, print_table, with_db

if TYPE_CHECKING:
    import asyncpg


async def _customer_id(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    from ..identity.repository import find_customer

    return (await find_customer(conn, args.customer)).id if args.customer else None


_CALL_COLUMNS = [
    "occurred_at", "route", "model", "status", "prompt_tokens", "completion_tokens", "duration_ms", "key_id",
]  # fmt: skip


def cmd_usage_list(args: argparse.Namespace) -> None:
    from ..ledger.repository import list_usage

    async def work(conn: asyncpg.Connection) -> Any:
        return await list_usage(conn, limit=args.limit, customer_id=await _customer_id(conn, args))

    events = with_db(args, work)
    if args.json:
        print_json(events)
        return
    print_table([msgspec.structs.asdict(e) for e in events], _CALL_COLUMNS)


def cmd_usage_compute(args: argparse.Namespace) -> None:
    from ..ledger.repository import list_compute

    async def work(conn: asyncpg.Connection) -> Any:
        return await list_compute(conn, limit=args.limit, customer_id=await _customer_id(conn, args))

    events = with_db(args, work)
    if args.json:
        print_json(events)
        return
    columns = [
        "occurred_at",
        "cluster",
        "job_id",
        "accelerator",
        "gpus",
        "run_seconds",
        "gpu_seconds",
        "flop_settled",
    ]
    print_table([msgspec.structs.asdict(e) for e in events], columns)


def cmd_usage_summary(args: argparse.Namespace) -> None:
    from ..ledger.repository import usage_summary

    if args.since >= args.until:
        raise CliError(
            f"--since ({args.since.isoformat()}) must be before --until ({args.until.isoformat()})"
        )

    async def work(conn: asyncpg.Connection) -> Any:
        return await usage_summary(
            conn, since=args.since, until=args.until, customer_id=await _customer_id(conn, args)
        )

    rows = with_db(args, work)
    if args.json:
        print_json(rows)
        return
    columns = ["customer_id", "requests", "prompt_tokens", "completion_tokens", "jobs", "gpu_seconds", "flop"]
    print_table([msgspec.structs.asdict(r) for r in rows], columns)


def cmd_usage_import(args: argparse.Namespace) -> None:
    from ..detect.imports import import_calls

    if args.file == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            data = Path(args.file).read_bytes()
        except OSError as exc:
            raise CliError(f"cannot read {args.file}: {exc.strerror}") from None

    async def work(conn: asyncpg.Connection) -> Any:
        return await import_calls(conn, data, dry_run=args.dry_run)

    summary = with_db(args, work)
    if args.json:
        print_json(summary)
        return
    verb = "would be written" if summary.dry_run else "written"
    print(
        f"{summary.lines} lines, {summary.written} calls {verb}, "
        f"{summary.duplicates} duplicates skipped"
        + (" (dry run: nothing written)" if summary.dry_run else "")
    )


def cmd_usage_partitions(args: argparse.Namespace) -> None:
    from ..ledger.partitions import partitions

    found = with_db(args, partitions)
    if args.json:
        print_json(found)
        return
    print_table([msgspec.structs.asdict(p) for p in found], ["table", "name", "bounds", "rows"])


def cmd_usage_prune(args: argparse.Namespace) -> None:
    from ..ledger.partitions import prune

    async def work(conn: asyncpg.Connection) -> list[str]:
        return await prune(conn, args.before, actor=cli_actor())

    dropped = with_db(args, work)
    if args.json:
        print_json(dropped)
        return
    print("\n".join(dropped) if dropped else f"no partition ends before {args.before.isoformat()}")


def register(sub: Any, add: AddCommand) -> None:
    us = sub.add_parser("usage", help="usage ledger", description="usage ledger")
    uss = us.add_subparsers(dest="usage_command", required=True, metavar="COMMAND")
    p = add(uss, "list", cmd_usage_list, "list usage events, newest first")
    p.add_argument("--limit", type=positive, default=50, help="how many (default 50)")
    p.add_argument("--customer", help="only this customer's (id or name)")
    p = add(
        uss, "compute", cmd_usage_compute, "list settled cluster jobs and what each computed, latest first"
    )
    p.add_argument("--limit", type=positive, default=50, help="how many (default 50)")
    p.add_argument("--customer", help="only this customer's (id or name)")
    p = add(
        uss, "summary", cmd_usage_summary, "each customer's calls, tokens and cluster compute in a period"
    )
    p.add_argument("--since", type=instant, required=True, help="start, ISO 8601 (inclusive; UTC if no zone)")
    p.add_argument("--until", type=instant, required=True, help="end, ISO 8601 (exclusive; UTC if no zone)")
    p.add_argument("--customer", help="only this customer's (id or name)")
    p = add(
        uss,
        "import",
        cmd_usage_import,
        "import model-API calls served elsewhere (JSON Lines), with their call features",
    )
    p.add_argument("file", metavar="FILE", help="JSON Lines, one call a line; - reads standard input")
    p.add_argument("--dry-run", action="store_true", help="check every line, write nothing")
    add(uss, "partitions", cmd_usage_partitions, "list the ledger's monthly partitions")
    p = add(uss, "prune", cmd_usage_prune, "drop the ledger's months that end before a date (audited)")
    p.add_argument("--before", type=instant, required=True, help="ISO 8601; whole months before it go")
