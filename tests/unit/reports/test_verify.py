"""A report checked with public material only: its signature against the JWK Set, its digest, and
its issuance entry's inclusion proof against a signed checkpoint; each tampering named."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit import merkle
from gateway.audit.entry import canonical, entry
from gateway.audit.keys import SigningKeys
from gateway.audit.note import Checkpoint, sign_note
from gateway.reports import repository
from gateway.reports.verify import (
    PENDING,
    check_digest,
    check_inclusion,
    check_report,
    check_signature,
    named_kid,
)

ORIGIN = "gpu.example/audit"
SEED = base64.b64encode(bytes(range(32))).decode()
KEYS = SigningKeys.parse(ORIGIN, f"1:{SEED}")
OTHER = SigningKeys(ORIGIN, [(1, Ed25519PrivateKey.generate())])
BODY = b'{"kind":"usage","jurisdiction":{"code":"EU"}}'
SHA = hashlib.sha256(BODY).hexdigest()
REPORT = str(uuid.UUID(int=7))
AT = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def logged(report_id: str = REPORT, sha256: str = SHA, kind: str = "report.issued") -> bytes:
    return canonical(entry(kind, actor="cli:ops", at=AT, subject=f"report:{report_id}",
                           data={"id": report_id, "sha256": sha256}))  # fmt: skip


def bundle(
    issued: bytes | None = None, *, index: int = 3, size: int = 6, keys: SigningKeys = KEYS
) -> dict[str, Any]:
    """A log of ``size`` entries whose entry ``index`` is the report's, and its signed checkpoint."""
    raw = issued if issued is not None else logged()
    leaves = [merkle.leaf_hash(b"other %d" % i) for i in range(size)]
    leaves[index] = merkle.leaf_hash(raw)

    def subtree(start: int, end: int) -> bytes:
        return merkle.root(leaves[start:end])

    proof = merkle.inclusion_proof(index, size, subtree)
    note = sign_note(Checkpoint(ORIGIN, size, merkle.root(leaves)).body(), keys.signers)
    return {
        "checkpoint": note,
        "index": index,
        "entry_b64": base64.b64encode(raw).decode(),
        "proof": [base64.b64encode(p).decode() for p in proof],
    }


def test_a_sound_report_passes_every_check() -> None:
    check = check_report(REPORT, BODY, SHA, KEYS.sign_jws(BODY), KEYS.jwks(), bundle(), KEYS.vkeys())
    assert check.ok
    assert check.signature.kid == KEYS.jws_kid and check.signature.ok
    assert check.digest.computed == SHA
    assert check.inclusion.state == "verified"
    assert (check.inclusion.index, check.inclusion.size, check.inclusion.origin) == (3, 6, ORIGIN)
    assert check.inclusion.signed_by == (ORIGIN,)


def test_a_signature_over_other_bytes_or_by_another_key_is_not_valid() -> None:
    wrong_body = check_signature(BODY, KEYS.sign_jws(BODY + b" "), KEYS.jwks())
    assert not wrong_body.ok and wrong_body.kid == KEYS.jws_kid  # the key it claims, named
    assert "does not verify" in wrong_body.message
    unknown = check_signature(BODY, OTHER.sign_jws(BODY), KEYS.jwks())
    assert not unknown.ok and "no key with kid" in unknown.message
    garbage = check_signature(BODY, "not a jws", KEYS.jwks())
    assert not garbage.ok and garbage.kid is None
    assert named_kid("%%%..x") is None


def test_the_digest_must_be_the_envelopes() -> None:
    assert check_digest(BODY, SHA.upper()).ok
    assert not check_digest(BODY + b"x", SHA).ok


def test_no_checkpoint_yet_is_pending_not_failed() -> None:
    pending = check_inclusion(REPORT, SHA, None, KEYS.vkeys())
    assert (pending.state, pending.message, pending.ok) == ("pending", PENDING, False)
    assert not check_report(REPORT, BODY, SHA, KEYS.sign_jws(BODY), KEYS.jwks(), None, KEYS.vkeys()).ok


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: bundle(keys=OTHER), "checkpoint's signature does not verify"),
        (lambda: bundle(logged(report_id=str(uuid.uuid4()))), "is not this report's"),
        (lambda: bundle(logged(kind="key.created")), "is not this report's"),
        (lambda: bundle(logged(sha256="0" * 64)), "logged another digest"),
        (lambda: {**bundle(), "index": 2}, "does not lead to the signed root"),
        (lambda: {**bundle(), "proof": bundle()["proof"][1:]}, "does not lead to the signed root"),
        (lambda: {**bundle(), "entry_b64": "***"}, "malformed"),
        (lambda: {**bundle(), "index": "3"}, "malformed"),
        (lambda: {k: v for k, v in bundle().items() if k != "checkpoint"}, "does not verify"),
    ],
)
def test_each_tampering_with_the_proof_fails_and_says_why(make: Any, says: str) -> None:
    found = check_inclusion(REPORT, SHA, make(), KEYS.vkeys())
    assert found.state == "failed" and not found.ok
    assert says in found.message


def test_the_entry_kind_is_the_one_the_repository_logs() -> None:
    from gateway.reports.verify import ISSUED

    assert ISSUED == repository.ISSUED
