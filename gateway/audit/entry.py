"""What one audit entry says, and the exact bytes its leaf hashes.

An entry names what happened (``kind``), when, who did it (``actor``), to what (``subject``) and
the facts that matter (``data``): ids, codes, counts, policy hashes, and commitments to anything
else. Personal data never enters it in clear: a name, a reason an operator typed, a document is
committed to by its SHA-256 (:func:`commitment`) and kept, if at all, where it can be erased.

The leaf is ``SHA-256(0x00 || JCS(entry))``: RFC 8785 canonical JSON, so that anyone can recompute
it. JCS cannot carry integers beyond 2^53 exactly, nor non-finite floats: big numbers (FLOP, money)
travel as decimal strings (:func:`decimal`), and an entry with a float in it is refused.
"""

from __future__ import annotations

import datetime as dt
import decimal as _decimal
import hashlib
import math
from collections.abc import Mapping
from typing import Any

import msgspec
import rfc8785

MAX_ENTRY_BYTES = 65_535
"""tlog-tiles frames each entry with a uint16 length: no entry may be larger."""
_SAFE_INT = 2**53 - 1


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    """What happened, dotted: ``kyc.decision``, ``key.created``, ``policy.loaded`` ..."""
    at: str
    """When, RFC 3339 in UTC with microseconds (a string: it is signed as written)."""
    actor: str
    """Who: ``admin:<token>``, ``cli:<user>``, ``regulator:<client>``, ``gateway`` (the system)."""
    subject: str | None = None
    """What it is about: ``customer:<id>``, ``key:<id>``, ``report:<id>`` ..."""
    data: dict[str, Any] = {}
    """Ids, codes, counts, hashes, decimal strings; nothing personal in clear."""


class EntryError(ValueError):
    """An entry that cannot be logged as it is (a float, a huge integer, too large)."""


def timestamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry(
    kind: str,
    *,
    actor: str,
    at: dt.datetime,
    subject: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry(kind=kind, at=timestamp(at), actor=actor, subject=subject, data=dict(data or {}))


def canonical(item: AuditEntry) -> bytes:
    """The entry's RFC 8785 bytes: what its leaf hashes and what an export carries."""
    _check(item.data, "data")
    raw = msgspec.to_builtins(item)
    try:
        out: bytes = rfc8785.dumps(raw)
    except (rfc8785.IntegerDomainError, rfc8785.FloatDomainError) as exc:
        raise EntryError(f"the audit entry cannot be made canonical: {exc}") from None
    if len(out) > MAX_ENTRY_BYTES:
        raise EntryError(f"the audit entry is {len(out)} bytes; at most {MAX_ENTRY_BYTES} can be logged")
    return out


def parse(raw: bytes) -> AuditEntry:
    return msgspec.json.decode(raw, type=AuditEntry)


def jcs_problem(value: object, path: str) -> str | None:
    """What keeps ``value`` out of canonical JSON (RFC 8785 cannot carry floats exactly, nor integers
    beyond 2^53), with the path to it; None when nothing does. Shared by audit entries and reports."""
    if isinstance(value, float):
        return f"{path}: {value!r} is a float; give it as a decimal string (audit.entry.decimal)"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _SAFE_INT:
        return f"{path}: {value} is beyond 2^53; give it as a decimal string (audit.entry.decimal)"
    items = (
        value.items()
        if isinstance(value, Mapping)
        else enumerate(value)
        if isinstance(value, list | tuple)
        else ()
    )
    for key, item in items:
        found = jcs_problem(item, f"{path}.{key}" if isinstance(value, Mapping) else f"{path}[{key}]")
        if found is not None:
            return found
    return None


def _check(value: object, path: str) -> None:
    if (problem := jcs_problem(value, path)) is not None:
        raise EntryError(problem)


def decimal(value: float | int | _decimal.Decimal) -> str:
    """A number as the decimal string signed JSON carries: integers exactly, whatever their size;
    floats in their shortest round-tripping form, written out without an exponent (``1e25`` is
    ``"10000000000000000000000000"``, ``0.1`` is ``"0.1"``)."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number here")
    if isinstance(value, float) and not math.isfinite(value):
        raise EntryError(f"{value!r} is not a finite number")
    exact = _decimal.Decimal(repr(value)) if isinstance(value, float) else _decimal.Decimal(value)
    if exact == exact.to_integral_value():
        return str(int(exact))
    return format(exact.normalize(), "f")


def commitment(text: str | bytes) -> str:
    """``sha256:<hex>`` of what must not be logged in clear (a reason, a name)."""
    raw = text.encode() if isinstance(text, str) else text
    return "sha256:" + hashlib.sha256(raw).hexdigest()
