"""How fast the audit log's pure core is: proofs, their verification, appends, notes.

    python tests/bench/bench_tlog.py [--size 1000000] [--repeat 5]

Builds a tree of ``--size`` leaves by appending to a CompactRange and keeping every perfect subtree
it reports in a dict (what the storage keeps in PostgreSQL), then times, on one core:

- ``CompactRange.append``: one leaf hash (and the subtrees it completes);
- ``verify_inclusion`` of a 20-hash proof in the tree of ``--size`` leaves (the 1 ms goal of
  research §4.4), and ``verify_consistency``;
- ``inclusion_proof`` and ``consistency_proof`` served from the dict through ``range_hash``;
- ``open_note`` of a checkpoint signed by the log and a witness, and ``verify_cosignature``.

Each figure is the best of ``--repeat`` runs. No database, no network. See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from _support import best_rate, machine_lines
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit.merkle import (
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    range_hash,
    verify_consistency,
    verify_inclusion,
)
from gateway.audit.note import (
    Checkpoint,
    NoteSigner,
    cosign,
    cosignature_vkey,
    open_note,
    sign_note,
    split_note,
    verify_cosignature,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    size = args.size
    for line in machine_lines(["cryptography"]):
        print(line)

    leaves = [leaf_hash(b"entry %d" % i) for i in range(size)]
    nodes: dict[tuple[int, int], bytes] = {}

    def build() -> CompactRange:
        edge = CompactRange()
        for h in leaves:
            for level, index, value in edge.append(h):
                nodes[level, index] = value
        return edge

    best_rate(f"CompactRange.append (to {size:,} leaves)", size, args.repeat, build)
    edge = build()

    def subtree(start: int, end: int) -> bytes:
        return range_hash(start, end, lambda level, index: nodes[level, index])

    root = edge.root()
    index = 0
    proof = inclusion_proof(index, size, subtree)
    print(f"inclusion proof of leaf {index} in {size:,}: {len(proof)} hashes")
    n = 20_000

    def verify_many() -> None:
        for _ in range(n):
            verify_inclusion(index, size, leaves[index], proof, root)

    best_rate(f"verify_inclusion ({len(proof)} hashes)", n, args.repeat, verify_many)

    old = size // 3 + 1
    old_root = subtree(0, old)
    cproof = consistency_proof(old, size, subtree)

    def verify_consistency_many() -> None:
        for _ in range(n):
            verify_consistency(old, size, old_root, root, cproof)

    best_rate(f"verify_consistency ({len(cproof)} hashes)", n, args.repeat, verify_consistency_many)

    def proofs_many() -> None:
        for i in range(0, n * 50, 50):
            inclusion_proof(i % size, size, subtree)

    best_rate("inclusion_proof from the dict", n, args.repeat, proofs_many)

    def consistency_many() -> None:
        for i in range(1, n + 1):
            consistency_proof(i * 37 % size or 1, size, subtree)

    best_rate("consistency_proof from the dict", n, args.repeat, consistency_many)

    log = NoteSigner(
        "kyc-gw.example/audit/bench", Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"l").digest())
    )
    witness = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"w").digest())
    cp = Checkpoint(log.name, size, root)
    note = sign_note(cp.body(), [log]) + cosign(cp, "w.example", witness, 1_700_000_000)
    verifiers = [log.verifier()]
    wline = split_note(note)[1][1]
    wvkey = cosignature_vkey("w.example", witness)
    m = 5_000

    def open_many() -> None:
        for _ in range(m):
            open_note(note, verifiers)

    best_rate("open_note (log + 1 witness line)", m, args.repeat, open_many)

    def cosig_many() -> None:
        for _ in range(m):
            verify_cosignature(cp, wline, wvkey)

    best_rate("verify_cosignature", m, args.repeat, cosig_many)


if __name__ == "__main__":
    main()
