"""Checking the audit log: from the database (``gateway audit verify``), and from an export with
nothing but the log's public key (``gateway audit verify-export``, no database).

The walk recomputes every leaf from its entry, the hash chain, every stored subtree and every
checkpoint's root, and checks each checkpoint's signature, in log order; it names the first entry
(or checkpoint) where something fails. An entry edited in place breaks its leaf hash; one dropped
leaves a gap; rows moved or slipped in break the chain; an attacker who rewrote the hashes too is
caught by the stored subtrees or, at the latest, by the next signed checkpoint.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import msgspec

from . import log, merkle
from .entry import EntryError, canonical, parse
from .note import Checkpoint, NoteError, NoteVerifier, open_note


class Problem(msgspec.Struct, frozen=True):
    message: str
    seq: int | None = None
    """The first entry found wrong (None: a checkpoint's own fault)."""
    checkpoint: int | None = None


class Verification(msgspec.Struct, frozen=True):
    entries: int
    """Entries read up to the first problem (all of them when there is none)."""
    checkpoints: int
    """Checkpoints whose root and signature were checked."""
    size: int
    problem: Problem | None = None
    pruned: int = 0
    """Entries retention dropped (``[0, pruned)``): the walk began at the cut's edge, and checkpoints
    before it had their signatures checked, not their roots."""

    @property
    def ok(self) -> bool:
        return self.problem is None


async def verify_log(
    conn: asyncpg.Connection,
    verifiers: Sequence[NoteVerifier],
    *,
    batch: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> Verification:
    if conn.is_in_transaction():
        return await _walk(conn, verifiers, batch, progress)
    # One snapshot for the head and every entry: appends that commit meanwhile are not "past the head".
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await _walk(conn, verifiers, batch, progress)


async def _walk(
    conn: asyncpg.Connection,
    verifiers: Sequence[NoteVerifier],
    batch: int,
    progress: Callable[[int, int], None] | None,
) -> Verification:
    head = await log.head(conn)
    pending = sorted(await log.checkpoints(conn), key=lambda c: (c.size, c.id))
    tree = merkle.CompactRange()
    chain = log.CHAIN_START
    checked = 0
    cut = await log.latest_cut(conn)
    if cut is not None:
        # On from the cut's edge; a forged edge breaks the next signed checkpoint's root.
        tree = merkle.CompactRange(cut.size, cut.frontier)
        chain = cut.chain
        while pending and pending[0].size < cut.size:
            cp = pending.pop(0)
            if (problem := _checkpoint_problem(cp, None, verifiers)) is not None:
                return Verification(cut.size, checked, head.size, problem, cut.size)
            checked += 1

    def result(problem: Problem | None) -> Verification:
        return Verification(tree.size, checked, head.size, problem, cut.size if cut else 0)

    def check_checkpoints() -> Problem | None:
        nonlocal checked
        while pending and pending[0].size == tree.size:
            cp = pending.pop(0)
            problem = _checkpoint_problem(cp, tree.root(), verifiers)
            if problem is not None:
                return problem
            checked += 1
        return None

    if (problem := check_checkpoints()) is not None:
        return result(problem)
    while True:
        rows = await conn.fetch(
            "select seq, leaf_hash, chain, entry from audit_entries where seq >= $1 order by seq limit $2",
            tree.size,
            batch,
        )
        if not rows:
            break
        stored = await _stored_nodes(conn, rows[0]["seq"], rows[-1]["seq"] + 1)
        for row in rows:
            seq = tree.size
            if row["seq"] != seq:
                return result(Problem(f"entry {seq} is missing (the next entry is {row['seq']})", seq))
            if seq >= head.size:
                return result(
                    Problem(f"entry {seq} is past the head ({head.size}): the gateway did not append it", seq)
                )
            raw = bytes(row["entry"])
            leaf = merkle.leaf_hash(raw)
            if leaf != bytes(row["leaf_hash"]):
                return result(Problem(f"entry {seq}: its content does not hash to its leaf", seq))
            if (problem := _not_canonical(raw, seq)) is not None:
                return result(problem)
            chain = log.chain_hash(chain, leaf)
            if chain != bytes(row["chain"]):
                return result(
                    Problem(f"entry {seq}: the hash chain breaks here (moved, inserted or rewritten)", seq)
                )
            for level, index, value in tree.append(leaf):
                if level >= 1 and stored.get((level, index)) != value:
                    first = index << level
                    return result(
                        Problem(f"entries {first}-{seq}: the stored subtree (level {level}) disagrees", first)
                    )
            if (problem := check_checkpoints()) is not None:
                return result(problem)
        if progress is not None:
            progress(tree.size, head.size)
    if tree.size != head.size:
        return result(
            Problem(f"entry {tree.size} is missing: the head says the log has {head.size}", tree.size)
        )
    if pending:
        cp = pending[0]
        return result(
            Problem(f"checkpoint {cp.id} signs {cp.size} entries; the log has {tree.size}", None, cp.id)
        )
    return result(None)


def _checkpoint_problem(
    cp: log.StoredCheckpoint, root: bytes | None, verifiers: Sequence[NoteVerifier]
) -> Problem | None:
    """``root``: what the entries before it hash to (None: they were dropped; the signature only)."""
    where = max(cp.size - 1, 0)
    if root is not None and cp.root != root:
        return Problem(f"checkpoint {cp.id}: the entries before it do not hash to its root", where, cp.id)
    try:
        text, _ = open_note(cp.note, verifiers)
        signed = Checkpoint.parse(text)
    except NoteError as exc:
        return Problem(f"checkpoint {cp.id}: its signature does not verify: {exc}", where, cp.id)
    if (signed.size, signed.root) != (cp.size, cp.root):
        return Problem(f"checkpoint {cp.id}: the signed note says another size or root", where, cp.id)
    return None


def _not_canonical(raw: bytes, seq: int) -> Problem | None:
    try:
        if canonical(parse(raw)) == raw:
            return None
    except (msgspec.DecodeError, msgspec.ValidationError, EntryError):
        pass
    return Problem(f"entry {seq} is not a canonical audit entry", seq)


async def _stored_nodes(conn: asyncpg.Connection, start: int, end: int) -> dict[tuple[int, int], bytes]:
    """The stored subtrees completed by leaves [start, end): at level L, those whose last leaf,
    (index + 1) * 2^L - 1, falls in the range (read by the primary key, level by level)."""
    levels, lows, highs = [], [], []
    level = 1
    while (1 << level) <= end:
        low, high = -(-(start + 1) // (1 << level)) - 1, end // (1 << level) - 1
        if low <= high:
            levels.append(level)
            lows.append(low)
            highs.append(high)
        level += 1
    rows = await conn.fetch(
        "select n.level, n.index, n.hash"
        " from unnest($1::smallint[], $2::bigint[], $3::bigint[]) r(level, lo, hi)"
        " join audit_nodes n on n.level = r.level and n.index between r.lo and r.hi",
        levels,
        lows,
        highs,
    )
    return {(r["level"], r["index"]): bytes(r["hash"]) for r in rows}


# -- exports ---------------------------------------------------------------------------------


EXPORT_FORMAT = "kyc-gateway/audit-export/v1"


async def export(conn: asyncpg.Connection, since: Any, until: Any) -> dict[str, Any]:
    """The entries that happened in ``[since, until)`` and are covered by the latest checkpoint,
    each with its inclusion proof to that checkpoint: what a third party checks with the public key."""
    checkpoint = await log.latest_checkpoint(conn)
    if checkpoint is None:
        return {"format": EXPORT_FORMAT, "checkpoint": None, "entries": [], "not_checkpointed": 0}
    rows = await conn.fetch(
        "select seq, entry from audit_entries where occurred_at >= $1 and occurred_at < $2 order by seq",
        since,
        until,
    )
    out = []
    later = 0
    for row in rows:
        if row["seq"] >= checkpoint.size:
            later += 1
            continue
        proof = await log.inclusion_proof(conn, row["seq"], checkpoint.size)
        raw = bytes(row["entry"])
        out.append(
            {
                "index": row["seq"],
                "entry": msgspec.json.decode(raw),
                "entry_b64": base64.b64encode(raw).decode(),
                "proof": [base64.b64encode(p).decode() for p in proof],
            }
        )
    note = await log.cosigned_note(conn, checkpoint)  # witnesses' lines after the log's own
    return {"format": EXPORT_FORMAT, "checkpoint": note, "entries": out, "not_checkpointed": later}


class ExportError(ValueError):
    """An export that does not verify, and where."""


def verify_export(document: dict[str, Any], vkeys: Sequence[str]) -> tuple[Checkpoint, int]:
    """Check an export with the log's public keys only: the checkpoint's signature, then every entry's
    inclusion in it. Returns the checkpoint and the number of entries checked."""
    if document.get("format") != EXPORT_FORMAT:
        raise ExportError(f"not an audit export ({EXPORT_FORMAT})")
    note = document.get("checkpoint")
    if not isinstance(note, str):
        raise ExportError("the export has no checkpoint: nothing in it was signed yet")
    try:
        text, _ = open_note(note, [NoteVerifier.from_vkey(v) for v in vkeys])
        checkpoint = Checkpoint.parse(text)
    except NoteError as exc:
        raise ExportError(f"the checkpoint does not verify: {exc}") from None
    for item in document.get("entries", []):
        index = item["index"]
        raw = base64.b64decode(item["entry_b64"], validate=True)
        if msgspec.json.decode(raw) != item["entry"]:
            raise ExportError(f"entry {index}: its readable form differs from the bytes that were logged")
        proof = [base64.b64decode(p, validate=True) for p in item["proof"]]
        try:
            merkle.verify_inclusion(index, checkpoint.size, merkle.leaf_hash(raw), proof, checkpoint.root)
        except merkle.ProofError as exc:
            raise ExportError(f"entry {index} is not in the signed log: {exc}") from None
    return checkpoint, len(document.get("entries", []))
