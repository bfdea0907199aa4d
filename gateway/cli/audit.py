"""``gateway audit verify|export|verify-export|checkpoint|keys|list|partitions|prune``: the
tamper-evident audit log.

``verify`` walks the log in the database and names the first entry or checkpoint that fails;
``export`` writes entries with inclusion proofs to the latest checkpoint; ``verify-export`` checks
such a file with nothing but the log's public keys (no database, no configuration). ``partitions``
lists the log's monthly partitions and ``prune`` drops its months before a date, as
``audit_retention_days`` does on its own.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from .common import (
    AddCommand,
    CliError,
    cli_actor,
    instant,
    positive,
    print_json,
    print_table,
    settings_of,
    with_db,
)

if TYPE_CHECKING:
    import asyncpg


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        width = 40
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} entries")
        if done >= total:
            sys.stderr.write("\n")


def cmd_audit_verify(args: argparse.Namespace) -> None:
    from ..audit.keys import signing_keys
    from ..audit.note import NoteVerifier
    from ..audit.verify import verify_log

    settings = settings_of(args)
    verifiers = [NoteVerifier.from_vkey(v) for v in (args.vkey or signing_keys(settings).vkeys())]

    async def work(conn: asyncpg.Connection) -> Any:
        return await verify_log(conn, verifiers, progress=_progress)

    found = with_db(args, work)
    if args.json:
        print_json(msgspec.structs.asdict(found) | {"ok": found.ok})
    elif found.ok:
        print(f"ok: {found.size} entries, {found.checkpoints} checkpoints verified")
        if found.pruned:
            print(f"   (entries 0-{found.pruned - 1} were dropped by retention; checked from the cut on)")
    if not found.ok:
        assert found.problem is not None
        if not args.json:
            print(f"FAILED after {found.entries} good entries: {found.problem.message}")
        raise SystemExit(1)


def cmd_audit_export(args: argparse.Namespace) -> None:
    from ..audit.verify import export

    if args.since >= args.until:
        raise CliError(
            f"--since ({args.since.isoformat()}) must be before --until ({args.until.isoformat()})"
        )

    async def work(conn: asyncpg.Connection) -> Any:
        return await export(conn, args.since, args.until)

    document = with_db(args, work)
    raw = msgspec.json.format(msgspec.json.encode(document), indent=1) + b"\n"
    if args.out:
        Path(args.out).write_bytes(raw)
        print(f"{len(document['entries'])} entries written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(raw)


def cmd_audit_verify_export(args: argparse.Namespace) -> None:
    from ..audit.verify import ExportError, verify_export

    try:
        document = msgspec.json.decode(Path(args.file).read_bytes())
        checkpoint, count = verify_export(document, args.vkey)
    except (OSError, msgspec.DecodeError) as exc:
        raise CliError(f"cannot read {args.file}: {exc}") from None
    except (ExportError, ValueError) as exc:
        raise CliError(str(exc)) from None
    result = {"ok": True, "entries": count, "origin": checkpoint.origin, "size": checkpoint.size}
    if args.json:
        print_json(result)
    else:
        print(f"ok: {count} entries are in {checkpoint.origin} at size {checkpoint.size}, signed")


def cmd_audit_checkpoint(args: argparse.Namespace) -> None:
    from ..audit import log
    from ..audit.checkpoints import sign_checkpoint
    from ..audit.keys import signing_keys

    keys = signing_keys(settings_of(args))

    async def work(conn: asyncpg.Connection) -> Any:
        signed = await sign_checkpoint(conn, keys, now=time.time(), resign_seconds=0.0)
        return signed if signed is not None else await log.latest_checkpoint(conn)

    checkpoint = with_db(args, work)
    if checkpoint is None:
        raise CliError("another replica is signing a checkpoint now; try again")
    if args.json:
        print_json({"id": checkpoint.id, "size": checkpoint.size, "note": checkpoint.note})
    else:
        sys.stdout.write(checkpoint.note)


def cmd_audit_cosign(args: argparse.Namespace) -> None:
    """Attach a witness's cosignature/v1 line to a checkpoint, once it verifies with the witness's key."""
    from ..audit import log
    from ..audit.note import Checkpoint, verify_cosignature

    async def work(conn: asyncpg.Connection) -> Any:
        checkpoint = await log.checkpoint_by_id(conn, args.checkpoint)
        if checkpoint is None:
            raise CliError(f"no checkpoint {args.checkpoint}")
        body = Checkpoint(settings_of(args).audit_origin, checkpoint.size, checkpoint.root)
        try:
            when = verify_cosignature(body, args.line, args.vkey)
        except ValueError as exc:
            raise CliError(f"the cosignature does not verify: {exc}") from None
        witness = args.vkey.split("+", 1)[0]
        added = await log.add_cosignature(conn, checkpoint.id, witness, args.line)
        return {"checkpoint": checkpoint.id, "witness": witness, "time": when, "added": added}

    result = with_db(args, work)
    if args.json:
        print_json(result)
    else:
        verb = "attached to" if result["added"] else "was already on"
        who, when = result["witness"], result["time"]
        print(f"{who}'s cosignature (time {when}) {verb} checkpoint {result['checkpoint']}")


def cmd_audit_keys(args: argparse.Namespace) -> None:
    from ..audit.keys import signing_keys

    keys = signing_keys(settings_of(args))
    if args.json:
        print_json({"origin": keys.origin, "vkeys": keys.vkeys(), "jwks": keys.jwks()})
    else:
        for vkey in keys.vkeys():
            print(vkey)


def cmd_audit_list(args: argparse.Namespace) -> None:
    from ..audit.entry import parse

    async def work(conn: asyncpg.Connection) -> Any:
        rows = await conn.fetch("select seq, entry from audit_entries order by seq desc limit $1", args.limit)
        return [{"seq": r["seq"], **msgspec.structs.asdict(parse(bytes(r["entry"])))} for r in rows]

    rows = with_db(args, work)
    if args.json:
        print_json(rows)
    else:
        print_table(rows, ["seq", "at", "kind", "actor", "subject"])


def cmd_audit_partitions(args: argparse.Namespace) -> None:
    from ..ledger.partitions import partitions

    async def work(conn: asyncpg.Connection) -> Any:
        return await partitions(conn, "audit")

    found = with_db(args, work)
    if args.json:
        print_json(found)
        return
    print_table([msgspec.structs.asdict(p) for p in found], ["name", "bounds", "rows"])


def cmd_audit_prune(args: argparse.Namespace) -> None:
    from ..audit import retention

    async def work(conn: asyncpg.Connection) -> Any:
        return await retention.prune(conn, args.before, actor=cli_actor())

    pruned = with_db(args, work)
    if args.json:
        print_json(pruned)
    elif pruned is None:
        print(f"no partition of the audit log ends before {args.before.isoformat()}")
    else:
        print(f"entries 0-{pruned.size - 1} dropped (logged before {pruned.upto.isoformat()}):")
        print("\n".join(pruned.partitions))


def register(sub: Any, add: AddCommand) -> None:
    audit = sub.add_parser(
        "audit", help="the tamper-evident audit log", description="the tamper-evident audit log"
    )
    aus = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    p = add(
        aus, "verify", cmd_audit_verify, "walk the log and its checkpoints; name the first entry that fails"
    )
    p.add_argument(
        "--vkey", action="append", help="a verifier key to check signatures with (default: the log's own)"
    )
    p = add(
        aus,
        "export",
        cmd_audit_export,
        "entries of a period with inclusion proofs to the latest checkpoint",
        json=False,
    )
    p.add_argument("--since", type=instant, required=True, help="start, ISO 8601 (inclusive; UTC if no zone)")
    p.add_argument("--until", type=instant, required=True, help="end, ISO 8601 (exclusive; UTC if no zone)")
    p.add_argument("--out", help="write to this file (default: standard output)")
    p = add(aus, "verify-export", cmd_audit_verify_export, "check an export with the log's public key only")
    p.add_argument("file", help="the export")
    p.add_argument(
        "--vkey", action="append", required=True, help="the log's verifier key (gateway audit keys)"
    )
    add(aus, "checkpoint", cmd_audit_checkpoint, "sign the log's head now and print the checkpoint")
    p = add(aus, "cosign", cmd_audit_cosign, "attach a witness's cosignature/v1 line to a checkpoint")
    p.add_argument("checkpoint", type=int, help="the checkpoint's id (gateway audit checkpoint --json)")
    p.add_argument("--line", required=True, help="the witness's signature line ('— <name> <base64>')")
    p.add_argument("--vkey", required=True, help="the witness's verifier key (type 0x04)")
    add(aus, "keys", cmd_audit_keys, "the log's verifier keys (and, with --json, its JWKS)")
    add(aus, "partitions", cmd_audit_partitions, "list the log's monthly partitions")
    p = add(aus, "prune", cmd_audit_prune, "drop the log's months that end before a date (the rest verifies)")
    p.add_argument("--before", type=instant, required=True, help="ISO 8601; whole months before it go")
    p = add(aus, "list", cmd_audit_list, "the latest entries")
    p.add_argument("--limit", type=positive, default=20, help="how many (default 20)")
