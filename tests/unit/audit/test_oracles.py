"""Differential tests against an independent implementation: sigstore-python (a dev dependency).

- ``sigstore._internal.merkle.verify_merkle_inclusion``: RFC 6962 inclusion verification after
  Trillian's (decomposed into inner and border parts, not the RFC 9162 loop ours follows). It must
  agree with ours on every proof, good or tampered.
- ``sigstore._internal.rekor.checkpoint``: Rekor's signed-note and checkpoint parser. It must read
  our notes, checkpoints and cosigned checkpoints as we wrote them.

Both are internal APIs of sigstore (pinned by the dev extra); if they move, these tests say so.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from sigstore._internal.merkle import verify_merkle_inclusion
from sigstore._internal.rekor.checkpoint import SignedCheckpoint
from sigstore.errors import VerificationError

from gateway.audit.merkle import (
    ProofError,
    inclusion_proof,
    leaf_hash,
    node_hash,
    range_hash,
    verify_inclusion,
)
from gateway.audit.note import Checkpoint, NoteSigner, cosign, open_note, sign_note


def entry(body: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> SimpleNamespace:
    """What verify_merkle_inclusion reads of a Rekor TransparencyLogEntry."""
    inclusion = SimpleNamespace(log_index=index, tree_size=size, hashes=proof, root_hash=root)
    return SimpleNamespace(_inner=SimpleNamespace(inclusion_proof=inclusion, canonicalized_body=body))


def both(body: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> tuple[bool, bool]:
    try:
        verify_inclusion(index, size, leaf_hash(body), proof, root)
        ours = True
    except ProofError:
        ours = False
    try:
        verify_merkle_inclusion(entry(body, index, size, proof, root))
        theirs = True
    except VerificationError:
        theirs = False
    return ours, theirs


def body(i: int) -> bytes:
    return b'{"event": %d}' % i


@cache
def perfect(level: int, index: int) -> bytes:
    if level == 0:
        return leaf_hash(body(index))
    return node_hash(perfect(level - 1, 2 * index), perfect(level - 1, 2 * index + 1))


def subtree(start: int, end: int) -> bytes:
    return range_hash(start, end, perfect)


@pytest.mark.parametrize("size", range(1, 40))
def test_sigstore_agrees_on_every_inclusion_proof_and_its_mutations(size: int) -> None:
    want = subtree(0, size)
    for index in range(size):
        proof = inclusion_proof(index, size, subtree)
        assert both(body(index), index, size, proof, want) == (True, True)
        mutants = [proof[:-1], [*proof, want], proof[::-1]]
        mutants += [[*proof[:i], hashlib.sha256(p).digest(), *proof[i + 1 :]] for i, p in enumerate(proof)]
        for bad in mutants:
            if bad != proof:
                assert both(body(index), index, size, bad, want) == (False, False)
        for other in range(size):
            if other != index:
                assert both(body(index), other, size, proof, want) == (False, False)
        for other_size in range(index + 1, size + 5):
            ours, theirs = both(body(index), index, other_size, proof, want)
            assert ours == theirs


@settings(max_examples=200, deadline=None)
@given(data=st.data(), size=st.integers(min_value=1, max_value=1 << 17))
def test_sigstore_agrees_on_big_trees(data: st.DataObject, size: int) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = inclusion_proof(index, size, subtree)
    want = subtree(0, size)
    assert both(body(index), index, size, proof, want) == (True, True)
    if proof:
        at = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        bad = [*proof[:at], bytes(32), *proof[at + 1 :]]
        assert both(body(index), index, size, bad, want) == (False, False)


def test_sigstore_reads_our_signed_checkpoints() -> None:
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"log key").digest())
    log = NoteSigner("kyc-gw.example/audit/2026h2", key)
    for cp in (
        Checkpoint(log.name, 0, hashlib.sha256(b"").digest()),
        Checkpoint(log.name, 123456789, subtree(0, 1000)),
    ):
        note = sign_note(cp.body(), [log])
        parsed = SignedCheckpoint.from_text(note)
        assert parsed.signed_note.note == cp.body()
        assert parsed.checkpoint.origin == cp.origin
        assert parsed.checkpoint.log_size == cp.size
        assert parsed.checkpoint.log_hash == cp.root.hex()
        assert parsed.checkpoint.other_content == []
        [sig] = parsed.signed_note.signatures
        assert sig.name == log.name and sig.sig_hash == log.key_id
        key.public_key().verify(base64.b64decode(sig.signature), parsed.signed_note.note.encode())
        assert open_note(note, [log.verifier()]) == (cp.body(), [log.name])


def test_sigstore_reads_our_cosigned_checkpoints() -> None:
    log = NoteSigner("kyc-gw.example/audit/2026h2", Ed25519PrivateKey.generate())
    cp = Checkpoint(log.name, 1000, subtree(0, 1000))
    witness = Ed25519PrivateKey.generate()
    note = sign_note(cp.body(), [log]) + cosign(cp, "witness.example/w1", witness, 1_700_000_000)
    parsed = SignedCheckpoint.from_text(note)
    assert [s.name for s in parsed.signed_note.signatures] == [log.name, "witness.example/w1"]
    raw = base64.b64decode(parsed.signed_note.signatures[1].signature)  # timestamp || signature
    message = b"cosignature/v1\ntime 1700000000\n" + cp.body().encode()
    assert int.from_bytes(raw[:8], "big") == 1_700_000_000
    witness.public_key().verify(raw[8:], message)
