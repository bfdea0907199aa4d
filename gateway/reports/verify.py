"""Checking a stored report as its regulator would, with public material only (pure).

Three checks, each answered plainly (what was checked, and whether it holds):

- **signature**: the detached JWS (EdDSA) over the report's JSON bytes verifies with the published
  JWK Set (the ``kid`` picks the key: :func:`gateway.audit.jws.verify_detached`);
- **digest**: SHA-256 of those bytes is the digest the envelope (and the audit entry) states;
- **inclusion**: the report's ``report.issued`` audit entry is in the log: the checkpoint of the
  proof bundle (:func:`gateway.reports.repository.proof_bundle`) verifies with the log's verifier
  keys, the entry names this report and this digest, and its inclusion proof leads to the signed
  root (RFC 9162 §2.1.3.2). Until a checkpoint covers the entry there is no bundle: *pending*.

Nothing here trusts the database's word for a result: every answer is recomputed from bytes, a
signature and public keys, the same as ``gateway reports verify`` and any JOSE or C2SP tool would.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec

from ..audit import merkle
from ..audit.jws import JwsError, unb64url, verify_detached
from ..audit.note import Checkpoint, NoteError, NoteVerifier, open_note

__all__ = [
    "ISSUED",
    "PENDING",
    "DigestCheck",
    "InclusionCheck",
    "ReportCheck",
    "SignatureCheck",
    "check_digest",
    "check_inclusion",
    "check_report",
    "check_signature",
    "named_kid",
]

ISSUED = "report.issued"
"""The kind of the audit entry that logs a report (as :mod:`gateway.reports.repository` writes it)."""
PENDING = "not yet in a signed checkpoint; check again in a few seconds"


class SignatureCheck(msgspec.Struct, frozen=True):
    ok: bool
    kid: str | None
    """The key that signed (``ok``), else the key the signature's header names (if it names one)."""
    message: str


class DigestCheck(msgspec.Struct, frozen=True):
    ok: bool
    computed: str
    """SHA-256 of the bytes, hex."""
    expected: str
    """What the envelope says."""


class InclusionCheck(msgspec.Struct, frozen=True):
    state: Literal["verified", "failed", "pending"]
    message: str
    index: int | None = None
    """The entry's index in the log."""
    size: int | None = None
    """The signed checkpoint's tree size."""
    origin: str | None = None
    root: str | None = None
    """The signed root, base64."""
    signed_by: tuple[str, ...] = ()
    """The names of the log keys whose signatures on the checkpoint verified."""

    @property
    def ok(self) -> bool:
        return self.state == "verified"


class ReportCheck(msgspec.Struct, frozen=True):
    signature: SignatureCheck
    digest: DigestCheck
    inclusion: InclusionCheck

    @property
    def ok(self) -> bool:
        """Every check holds (a pending inclusion is not yet a proof)."""
        return self.signature.ok and self.digest.ok and self.inclusion.ok


def named_kid(jws: str) -> str | None:
    """The ``kid`` a JWS's protected header names, read without trusting it (None if unreadable)."""
    try:
        header = json.loads(unb64url(jws.strip().split(".")[0], "the protected header"))
    except (JwsError, ValueError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def check_signature(body: bytes, jws: str, jwks: Mapping[str, Any]) -> SignatureCheck:
    try:
        kid = verify_detached(body, jws, jwks)
    except JwsError as exc:
        return SignatureCheck(ok=False, kid=named_kid(jws), message=str(exc))
    return SignatureCheck(ok=True, kid=kid, message=f"the EdDSA signature verifies with published key {kid}")


def check_digest(body: bytes, expected: str) -> DigestCheck:
    computed = hashlib.sha256(body).hexdigest()
    return DigestCheck(ok=computed == expected.lower(), computed=computed, expected=expected)


def _failed(message: str, **known: Any) -> InclusionCheck:
    return InclusionCheck(state="failed", message=message, **known)


def check_inclusion(
    report_id: str, sha256: str, bundle: Mapping[str, Any] | None, vkeys: Sequence[str]
) -> InclusionCheck:
    """The report's issuance entry, proven against a checkpoint signed by one of ``vkeys`` (the
    log's C2SP verifier keys). ``bundle`` is a proof bundle, or None while no checkpoint covers it."""
    if bundle is None:
        return InclusionCheck(state="pending", message=PENDING)
    try:
        verifiers = [NoteVerifier.from_vkey(v) for v in vkeys]
        text, signed_by = open_note(str(bundle["checkpoint"]), verifiers)
        checkpoint = Checkpoint.parse(text)
    except (NoteError, KeyError) as exc:
        return _failed(f"the checkpoint's signature does not verify with the log's keys: {exc}")
    known: dict[str, Any] = {
        "size": checkpoint.size,
        "origin": checkpoint.origin,
        "root": base64.b64encode(checkpoint.root).decode(),
        "signed_by": tuple(signed_by),
    }
    try:
        index = bundle["index"]
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError("the index is not a number")
        known["index"] = index
        raw = base64.b64decode(str(bundle["entry_b64"]), validate=True)
        proof = [base64.b64decode(str(p), validate=True) for p in bundle["proof"]]
        logged = msgspec.json.decode(raw)
        data = logged.get("data") if isinstance(logged, dict) else None
    except (KeyError, TypeError, ValueError, binascii.Error, msgspec.DecodeError) as exc:
        return _failed(f"the proof is malformed: {exc}", **known)
    if not isinstance(data, dict) or logged.get("kind") != ISSUED or data.get("id") != report_id:
        return _failed(f"audit entry {index} is not this report's {ISSUED} entry", **known)
    if data.get("sha256") != sha256:
        return _failed(f"audit entry {index} logged another digest ({data.get('sha256')})", **known)
    try:
        merkle.verify_inclusion(index, checkpoint.size, merkle.leaf_hash(raw), proof, checkpoint.root)
    except merkle.ProofError as exc:
        return _failed(f"the inclusion proof does not lead to the signed root: {exc}", **known)
    return InclusionCheck(
        state="verified",
        message=(
            f"audit entry {index} is included in {checkpoint.origin} at tree size {checkpoint.size},"
            " a checkpoint signed by the log's key"
        ),
        **known,
    )


def check_report(
    report_id: str,
    body: bytes,
    sha256: str,
    jws: str,
    jwks: Mapping[str, Any],
    bundle: Mapping[str, Any] | None,
    vkeys: Sequence[str],
) -> ReportCheck:
    return ReportCheck(
        signature=check_signature(body, jws, jwks),
        digest=check_digest(body, sha256),
        inclusion=check_inclusion(report_id, sha256, bundle, vkeys),
    )
