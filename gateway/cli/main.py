"""The ``gateway`` command.

Every command has ``--help``; those that print data take ``--json``; an error
exits non-zero with one line on stderr saying why.

Building the parser imports only the command modules' argument definitions: each command imports
what it runs when it runs (the detector's numpy and networkx, the ledger, the server), so that
``gateway --help`` or ``gateway usage list`` does not pay for all of the gateway
(tests/unit/test_cli_imports.py keeps it so).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from . import audit as audit_commands
from . import clusters as cluster_commands
from . import compute as compute_commands
from . import detect as detect_commands
from . import kyc as kyc_commands
from . import policy as policy_commands
from . import quota as quota_commands
from . import reports as report_commands
from . import usage as usage_commands
from .common import CliError, cli_actor, positive, print_json, print_table, with_db

# -- commands -----------------------------------------------------------------


def cmd_version(args: argparse.Namespace) -> None:
    from .. import __version__

    if args.json:
        print_json({"version": __version__})
    else:
        print(__version__)


def cmd_serve(args: argparse.Namespace) -> None:
    from ..server import serve
    from ..settings import load_settings

    settings = load_settings(
        args.config, host=args.host, port=args.port, workers=args.workers, server=args.server
    )
    serve(settings)


def cmd_db_migrate(args: argparse.Namespace) -> None:
    from ..db.migrate import migrate

    applied = with_db(args, migrate, migrate_first=False)
    if args.json:
        print_json([{"version": m.version, "name": m.name} for m in applied])
    elif applied:
        for m in applied:
            print(f"applied {m.version:03d}_{m.name}")
    else:
        print("database is up to date")


def cmd_db_status(args: argparse.Namespace) -> None:
    from ..db.migrate import migration_status

    rows = [dataclasses.asdict(s) for s in with_db(args, migration_status, migrate_first=False)]
    if args.json:
        print_json(rows)
    else:
        print_table(rows, ["version", "name", "applied", "applied_at"])


def cmd_customers_create(args: argparse.Namespace) -> None:
    from ..identity.repository import create_customer

    customer = with_db(args, lambda c: create_customer(c, args.name, args.kind, args.country))
    if args.json:
        print_json(
            {
                "id": customer.id,
                "name": customer.name,
                "kind": customer.kind,
                "country": customer.country,
                "status": customer.kyc_status,
            }
        )
    else:
        print(f"created customer {customer.name} ({customer.id})")


def cmd_customers_list(args: argparse.Namespace) -> None:
    from ..identity.repository import list_customers

    customers = with_db(args, list_customers)
    if args.json:
        print_json(customers)
    else:
        print_table(
            [msgspec.structs.asdict(c) for c in customers], ["id", "name", "kind", "country", "kyc_status"]
        )


def cmd_keys_create(args: argparse.Namespace) -> None:
    from ..identity.repository import create_key

    created = with_db(
        args, lambda c: create_key(c, args.customer, args.project, args.name, actor=cli_actor())
    )
    if args.json:
        print_json(created)
    else:
        print(f"created key {created.id} for {created.customer}/{created.project}")
        print(f"secret (shown only now): {created.key}")


def cmd_keys_list(args: argparse.Namespace) -> None:
    from ..identity.repository import list_keys

    keys = with_db(args, lambda c: list_keys(c, args.customer))
    if args.json:
        print_json(keys)
    else:
        rows = [
            {**msgspec.structs.asdict(k), "status": "revoked" if k.revoked_at else "active"} for k in keys
        ]
        print_table(rows, ["id", "customer", "project", "name", "status", "created_at"])


def cmd_keys_revoke(args: argparse.Namespace) -> None:
    from ..identity.repository import revoke_key

    key = with_db(args, lambda c: revoke_key(c, args.key_id, args.customer, actor=cli_actor()))
    if args.json:
        print_json(key)
    else:
        print(f"revoked key {key.id} ({key.customer}/{key.project}) at {key.revoked_at}")


def cmd_demo(args: argparse.Namespace) -> None:
    from .demo import run_demo

    run_demo(args)


# -- parser -----------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="TOML configuration file (default: $GATEWAY_CONFIG)")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON")

    parser = argparse.ArgumentParser(prog="gateway", description="The compute KYC gateway.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        group: Any, name: str, func: Callable[[argparse.Namespace], None], help: str, json: bool = True
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = group.add_parser(
            name, help=help, description=help, parents=[common, as_json] if json else [common]
        )
        p.set_defaults(func=func)
        return p

    add(sub, "version", cmd_version, "print the gateway's version")

    p = add(sub, "serve", cmd_serve, "run the gateway", json=False)
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default 8080)")
    p.add_argument("--workers", type=positive, help="worker processes (default 1)")
    p.add_argument(
        "--server",
        choices=["gateway", "granian", "uvicorn"],
        help="HTTP server (default: gateway, its own)",
    )

    db = sub.add_parser("db", help="database schema", description="database schema")
    dbs = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    add(dbs, "migrate", cmd_db_migrate, "apply pending migrations from sql/")
    add(dbs, "status", cmd_db_status, "list migrations and whether each is applied")

    cu = sub.add_parser("customers", help="customers", description="customers")
    cus = cu.add_subparsers(dest="customers_command", required=True, metavar="COMMAND")
    p = add(cus, "create", cmd_customers_create, "create a customer")
    p.add_argument("--name", required=True, help="unique customer name")
    p.add_argument("--kind", choices=["organisation", "individual"], default="organisation")
    p.add_argument("--country", help="ISO 3166-1 alpha-2: incorporation (organisation) or residence")
    add(cus, "list", cmd_customers_list, "list customers")
    kyc_commands.register(sub, add)
    policy_commands.register(sub, add)
    quota_commands.register(sub, add)
    compute_commands.register(sub, add)
    cluster_commands.register(sub, add)
    detect_commands.register(sub, add)

    ke = sub.add_parser("keys", help="API keys", description="API keys")
    kes = ke.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    p = add(kes, "create", cmd_keys_create, "create an API key (its secret is shown only once)")
    p.add_argument("--customer", required=True, help="customer id or name")
    p.add_argument("--project", required=True, help="project name (created if new)")
    p.add_argument("--name", help="a label for the key")
    p = add(kes, "list", cmd_keys_list, "list API keys (never their secrets)")
    p.add_argument("--customer", help="only this customer's keys (id or name)")
    p = add(kes, "revoke", cmd_keys_revoke, "revoke an API key; every replica refuses it within a second")
    p.add_argument("key_id", help="the key's id (the part after gk_)")
    p.add_argument("--customer", help="only if the key belongs to this customer (id or name)")

    usage_commands.register(sub, add)
    audit_commands.register(sub, add)
    report_commands.register(sub, add)

    p = add(sub, "demo", cmd_demo, "run the gateway with a demo upstream, customer and key", json=False)
    p.add_argument("--host", help="address the gateway listens on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="gateway port (default 8080)")
    p.add_argument("--upstream-port", type=int, default=0, help="demo upstream port (default: any free)")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)  # --help and usage errors exit here, having imported little
    import asyncpg

    from ..db import MigrationError
    from ..errors import GatewayError
    from ..kyc.crypto import KeyringError
    from ..logs import configure_logging
    from ..policy.loader import PolicyError
    from ..settings import SettingsError

    configure_logging("warning")  # stdout is for results; anything logged goes to stderr
    try:
        args.func(args)
    except (CliError, SettingsError, MigrationError, GatewayError, KeyringError, PolicyError) as exc:
        _fail(str(exc))
    except asyncpg.PostgresError as exc:
        _fail(f"database error: {exc}")
    except (TimeoutError, OSError) as exc:
        _fail(f"cannot reach the database: {exc}")
    except KeyboardInterrupt:
        sys.exit(130)


def _fail(message: str) -> None:
    print(f"gateway: error: {message.splitlines()[0] if message else 'failed'}", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main()
