"""``gateway kyc|owners|screening ...``: the operator's side of know-your-customer."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from .common import AddCommand, CliError, cli_actor, print_json, print_table, settings_of, with_db

if TYPE_CHECKING:
    import asyncpg

    from ..kyc.models import KycStatus
    from ..kyc.service import Action, KycService

T = TypeVar("T")


def with_kyc(args: argparse.Namespace, work: Callable[[KycService, asyncpg.Connection], Awaitable[T]]) -> T:
    from ..kyc.service import KycService

    settings = settings_of(args)

    async def run(conn: asyncpg.Connection) -> T:
        service = KycService.from_settings(settings)
        await service.check_keys(conn)
        return await work(service, conn)

    return with_db(args, run)


async def _customer_id(conn: asyncpg.Connection, id_or_name: str) -> uuid.UUID:
    from ..identity.repository import find_customer

    return (await find_customer(conn, id_or_name)).id


def _print_status(args: argparse.Namespace, status: KycStatus) -> None:
    if args.json:
        print_json(status)
        return
    print(f"customer   {status.name} ({status.customer}), {status.kind}, {status.country or '-'}")
    print(f"status     {status.status} since {status.status_changed_at:%Y-%m-%d %H:%M:%S}")
    if status.expires_at is not None:
        print(f"expires    {status.expires_at:%Y-%m-%d}")
    print(f"sanctions  {status.sanctions}; listed ownership {status.listed_ownership_percent:g}%")
    for hit in status.screening.hits:
        print(
            f"  hit {hit.id}: {hit.list_source} {hit.entry} {hit.name!r} score {hit.score:.2f} [{hit.state}]"
        )
    if status.missing:
        print(f"missing    {', '.join(status.missing)}")
    for warning in status.warnings:
        print(f"warning    {warning}")


# -- kyc ----------------------------------------------------------------------------


def cmd_kyc_submit(args: argparse.Namespace) -> None:
    async def work(kyc: KycService, conn: asyncpg.Connection) -> KycStatus:
        return await kyc.submit(conn, await _customer_id(conn, args.customer), cli_actor())

    _print_status(args, with_kyc(args, work))


def _decision(action: Action) -> Callable[[argparse.Namespace], None]:
    def cmd(args: argparse.Namespace) -> None:
        async def work(kyc: KycService, conn: asyncpg.Connection) -> KycStatus:
            return await kyc.decide(
                conn, await _customer_id(conn, args.customer), action, cli_actor(), args.reason
            )

        _print_status(args, with_kyc(args, work))

    return cmd


def cmd_kyc_level(args: argparse.Namespace) -> None:
    async def work(kyc: KycService, conn: asyncpg.Connection) -> KycStatus:
        customer_id = await _customer_id(conn, args.customer)
        return await kyc.set_level(conn, customer_id, args.level, cli_actor(), args.reason)

    _print_status(args, with_kyc(args, work))


def cmd_kyc_status(args: argparse.Namespace) -> None:
    async def work(kyc: KycService, conn: asyncpg.Connection) -> KycStatus:
        return await kyc.status(conn, await _customer_id(conn, args.customer))

    _print_status(args, with_kyc(args, work))


def cmd_kyc_show(args: argparse.Namespace) -> None:
    async def work(kyc: KycService, conn: asyncpg.Connection) -> Any:
        return await kyc.review(conn, await _customer_id(conn, args.customer))

    review = with_kyc(args, work)
    if args.json:
        print_json(review)
    else:
        print(msgspec.json.format(msgspec.json.encode(review)).decode())


def cmd_kyc_queue(args: argparse.Namespace) -> None:
    items = with_kyc(args, lambda kyc, conn: kyc.queue(conn))
    if args.json:
        print_json(items)
    else:
        rows = [msgspec.structs.asdict(i) for i in items]
        print_table(rows, ["customer", "name", "status", "since", "open_hits", "sanctions"])


def _hit_decision(confirm: bool) -> Callable[[argparse.Namespace], None]:
    def cmd(args: argparse.Namespace) -> None:
        status = with_kyc(
            args, lambda kyc, conn: kyc.decide_hit(conn, args.hit_id, confirm, cli_actor(), args.reason)
        )
        _print_status(args, status)

    return cmd


def cmd_kyc_facts(args: argparse.Namespace) -> None:
    """Show a customer's facts, or merge new ones from a JSON file."""
    from ..kyc.facts import FactsIn

    raw = b""
    if args.file is not None:
        try:
            raw = Path(args.file).read_bytes()
        except OSError as exc:
            raise CliError(f"cannot read {args.file}: {exc.strerror}") from None

    async def work(kyc: KycService, conn: asyncpg.Connection) -> Any:
        customer_id = await _customer_id(conn, args.customer)
        if args.file is None:
            return await kyc.facts(conn, customer_id)
        try:
            facts = msgspec.json.decode(raw, type=FactsIn)
        except msgspec.ValidationError as exc:
            raise CliError(f"{args.file}: {exc}") from None
        except msgspec.DecodeError as exc:
            raise CliError(f"{args.file} is not valid JSON: {exc}") from None
        return await kyc.update_facts(conn, customer_id, facts)

    facts = with_kyc(args, work)
    if args.json or facts is None:
        print_json(facts)
    else:
        print(msgspec.json.format(msgspec.json.encode(facts)).decode())


def cmd_kyc_erase(args: argparse.Namespace) -> None:
    async def work(kyc: KycService, conn: asyncpg.Connection) -> uuid.UUID:
        customer_id = await _customer_id(conn, args.customer)
        await kyc.erase(conn, customer_id, cli_actor())
        return customer_id

    customer_id = with_kyc(args, work)
    if args.json:
        print_json({"id": customer_id, "erased": True})
    else:
        print(f"erased the personal data of customer {customer_id}")


def cmd_kyc_expire(args: argparse.Namespace) -> None:
    expired = with_kyc(args, lambda kyc, conn: kyc.expire_due(conn))
    if args.json:
        print_json({"expired": expired})
    else:
        print(f"expired {len(expired)} verification(s)")


def cmd_kyc_rewrap(args: argparse.Namespace) -> None:
    count = with_kyc(args, lambda kyc, conn: kyc.rewrap_keys(conn))
    if args.json:
        print_json({"rewrapped": count})
    else:
        print(f"re-wrapped {count} data key(s) with the current master key")


def cmd_kyc_reindex(args: argparse.Namespace) -> None:
    count = with_kyc(args, lambda kyc, conn: kyc.reindex_payments(conn))
    if args.json:
        print_json({"customers": count})
    else:
        print(f"indexed the payment fingerprints of {count} customer(s)")


# -- owners ---------------------------------------------------------------------------


def cmd_owners_add(args: argparse.Namespace) -> None:
    from ..kyc.models import OwnerIn

    owner = OwnerIn(
        name=args.name,
        kind=args.kind,
        country=args.country,
        percent=args.percent,
        role=args.role,
        of=_uuid("--of", args.of),
        birth_date=args.birth_date,
        nationality=args.nationality,
    )

    async def work(kyc: KycService, conn: asyncpg.Connection) -> uuid.UUID:
        return await kyc.add_owner(conn, await _customer_id(conn, args.customer), owner)

    owner_id = with_kyc(args, work)
    if args.json:
        print_json({"id": owner_id})
    else:
        print(f"added owner {owner_id}")


def cmd_owners_link(args: argparse.Namespace) -> None:
    from ..kyc.models import LinkIn

    owner = _uuid("--owner", args.owner)
    assert owner is not None  # --owner is required
    link = LinkIn(owner=owner, of=_uuid("--of", args.of), percent=args.percent, role=args.role)

    async def work(kyc: KycService, conn: asyncpg.Connection) -> int:
        return await kyc.link_owner(conn, await _customer_id(conn, args.customer), link)

    edge = with_kyc(args, work)
    if args.json:
        print_json({"edge": edge})
    else:
        print(f"linked (edge {edge})")


def cmd_owners_remove(args: argparse.Namespace) -> None:
    owner_id = _uuid("owner", args.owner_id)
    assert owner_id is not None

    async def work(kyc: KycService, conn: asyncpg.Connection) -> None:
        await kyc.remove_owner(conn, await _customer_id(conn, args.customer), owner_id)

    with_kyc(args, work)
    if args.json:
        print_json({"id": owner_id, "removed": True})
    else:
        print(f"removed owner {owner_id}")


def cmd_owners_list(args: argparse.Namespace) -> None:
    async def work(kyc: KycService, conn: asyncpg.Connection) -> Any:
        return await kyc.review(conn, await _customer_id(conn, args.customer))

    review = with_kyc(args, work)
    if args.json:
        print_json({"owners": review.owners, "edges": review.edges, "ownership": review.ownership})
        return
    effective = {h.owner_id: h.effective_percent for h in review.ownership.holdings}
    rows = [
        {**msgspec.structs.asdict(o), "effective": f"{effective.get(str(o.id), 0):g}%"} for o in review.owners
    ]
    print_table(rows, ["id", "kind", "name", "country", "effective"])


# -- screening --------------------------------------------------------------------------


def cmd_screening_load(args: argparse.Namespace) -> None:
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"{path} is not a file")
    info, rescreened = with_kyc(args, lambda kyc, conn: kyc.load_list(conn, path, args.source))
    if args.json:
        print_json({"list": info, "rescreened": rescreened})
    else:
        print(f"loaded {info.entries} {info.source} entries from {info.file_name} (list {info.id});")
        print(f"rescreened {rescreened} customer(s)")


def cmd_screening_lists(args: argparse.Namespace) -> None:
    from ..screening.repository import all_lists

    lists = with_db(args, all_lists)
    if args.json:
        print_json(lists)
    else:
        print_table(
            [msgspec.structs.asdict(x) for x in lists], ["id", "source", "entries", "file_name", "loaded_at"]
        )


def cmd_screening_rescreen(args: argparse.Namespace) -> None:
    count = with_kyc(args, lambda kyc, conn: kyc.rescreen_all(conn))
    if args.json:
        print_json({"rescreened": count})
    else:
        print(f"rescreened {count} customer(s)")


def _uuid(what: str, value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CliError(f"{what}: {value!r} is not an id") from None


def _percent(value: str) -> float:
    try:
        p = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number") from None
    if not 0 < p <= 100:
        raise argparse.ArgumentTypeError("must be greater than 0 and at most 100")
    return p


# -- parser -----------------------------------------------------------------------------


def register(sub: Any, add: AddCommand) -> None:
    kyc = sub.add_parser("kyc", help="customer verification", description="customer verification")
    ks = kyc.add_subparsers(dest="kyc_command", required=True, metavar="COMMAND")

    def customer_cmd(
        name: str, func: Callable[[argparse.Namespace], None], help: str
    ) -> argparse.ArgumentParser:
        p = add(ks, name, func, help)
        p.add_argument("--customer", required=True, help="customer id or name")
        return p

    customer_cmd("submit", cmd_kyc_submit, "send an application to review (it is screened now)")
    for action, help in (
        ("approve", "verify a customer in review"),
        ("reject", "reject a customer"),
        ("suspend", "suspend a verified customer"),
        ("reinstate", "lift a suspension"),
        ("request_info", "send an application back to the customer for more information"),
        ("reopen", "reopen a rejected application"),
    ):
        p = customer_cmd(action.replace("_", "-"), _decision(action), help)  # type: ignore[arg-type]
        p.add_argument("--reason", required=True, help="why (recorded with the decision)")
    p = customer_cmd("level", cmd_kyc_level, "set the due diligence level policy rules may require")
    p.add_argument("--level", required=True, choices=["standard", "enhanced"])
    p.add_argument("--reason", required=True, help="why (recorded with the decision)")
    customer_cmd("status", cmd_kyc_status, "a customer's status, screening hits and ownership result")
    customer_cmd("show", cmd_kyc_show, "everything a reviewer needs: facts, owners, hits, history")
    add(ks, "queue", cmd_kyc_queue, "customers waiting for review")
    for verb, confirm in (("confirm-hit", True), ("dismiss-hit", False)):
        p = add(ks, verb, _hit_decision(confirm), f"{verb.split('-')[0]} a screening hit")
        p.add_argument("hit_id", type=int, help="the hit's id (see 'kyc status')")
        p.add_argument("--reason", required=True, help="why (recorded with the decision)")
    p = customer_cmd("facts", cmd_kyc_facts, "show a customer's facts, or merge new ones from a JSON file")
    p.add_argument("--file", help="JSON file with facts to merge (see the README)")
    customer_cmd("erase", cmd_kyc_erase, "erase personal data once the record-keeping period allows")
    add(ks, "expire", cmd_kyc_expire, "record expired verifications now (the gateway does it every minute)")
    add(ks, "rewrap-keys", cmd_kyc_rewrap, "re-wrap data keys with the newest master key")
    add(
        ks,
        "reindex-payments",
        cmd_kyc_reindex,
        "index the payment fingerprints of stored facts (facts written before migration 007)",
    )

    owners = sub.add_parser("owners", help="beneficial owners", description="beneficial owners")
    os_ = owners.add_subparsers(dest="owners_command", required=True, metavar="COMMAND")
    p = add(os_, "add", cmd_owners_add, "add an owner of the customer (or, with --of, of an owner)")
    p.add_argument("--customer", required=True, help="customer id or name")
    p.add_argument("--of", help="id of an organisation already in the customer's ownership graph")
    p.add_argument("--name", required=True)
    p.add_argument("--kind", required=True, choices=["person", "organisation"])
    p.add_argument("--country", help="ISO 3166-1 alpha-2 country (residence or incorporation)")
    p.add_argument("--percent", type=_percent, help="share of the owned entity, 0 < P <= 100")
    p.add_argument("--role", help="control role, e.g. director, ceo, senior_manager, trustee")
    p.add_argument("--birth-date", help="a person's date of birth, YYYY-MM-DD")
    p.add_argument("--nationality", help="a person's nationality, alpha-2")
    p = add(os_, "link", cmd_owners_link, "record that an existing owner also owns another entity")
    p.add_argument("--customer", required=True, help="customer id or name")
    p.add_argument("--owner", required=True, help="the owner's id")
    p.add_argument("--of", help="the owned organisation's id (default: the customer)")
    p.add_argument("--percent", type=_percent)
    p.add_argument("--role")
    p = add(os_, "remove", cmd_owners_remove, "remove an owner and its links")
    p.add_argument("owner_id")
    p.add_argument("--customer", required=True, help="customer id or name")
    p = add(os_, "list", cmd_owners_list, "a customer's owners with their effective shares")
    p.add_argument("--customer", required=True, help="customer id or name")

    screening = sub.add_parser("screening", help="denied-party lists", description="denied-party lists")
    ss = screening.add_subparsers(dest="screening_command", required=True, metavar="COMMAND")
    p = add(ss, "load", cmd_screening_load, "load or replace a list version, then rescreen everyone")
    p.add_argument(
        "file", help="the list file (CSL CSV/JSON, OFAC sdn.xml/sdn.csv, OpenSanctions JSON lines)"
    )
    p.add_argument("--source", required=True, choices=["csl", "sdn", "opensanctions"])
    add(ss, "lists", cmd_screening_lists, "loaded list versions")
    add(ss, "rescreen", cmd_screening_rescreen, "screen every customer and owner again")
