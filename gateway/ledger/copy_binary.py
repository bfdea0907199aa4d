"""Call features as PostgreSQL's binary COPY stream, built here rather than by asyncpg (issue 20).

asyncpg's ``copy_records_to_table`` encodes each value through its codec for the column's type;
for a ``bigint[]`` its generic array encoder checks every element against the ``Iterable`` and
``Sized`` ABCs before encoding it: 5 µs of the writer's CPU per row for the 16 band keys, 6 to 13
µs per row in all. :func:`features_copy` writes the same bytes for the columns of ``call_features``
with :mod:`struct`, about 3 µs per row (``tests/bench/bench_ledger_copy.py``): what the database
stores is identical (``tests/integration/test_ledger_copy_binary.py`` writes rows both ways and
compares them).

Only the values the writer produces are encoded here; anything else (an address not packed, a naive
or infinite timestamp, an integer out of its column's range, a string that is not UTF-8) raises
:class:`Unencodable`, and the writer sends that batch through asyncpg as before, so that PostgreSQL
and asyncpg judge it as they always did.

The format (PostgreSQL's ``COPY ... (FORMAT binary)``): a signature, flags and extension length;
per row the number of fields, then per field its length (-1 for NULL) and its bytes in the type's
binary ``send`` format; a trailer of -1.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import socket
import struct
import uuid
from collections.abc import Sequence

from ..detect.features import FEATURE_COLUMNS, CallFeatures

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"
_TRUE = b"\x00\x00\x00\x01\x01"
_FALSE = b"\x00\x00\x00\x01\x00"

_INT8_OID = 20
_PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_INFINITY_US = 252455615999999999  # datetime.max from the epoch: asyncpg sends it as infinity
_INT4 = struct.Struct(">ii").pack
_INT8 = struct.Struct(">iq").pack
_INT2 = struct.Struct(">ih").pack
_FLOAT4 = struct.Struct(">if").pack
_LEN = struct.Struct(">i").pack
# Row start: field count, request_id (uuid), occurred_at (timestamptz), customer_id (uuid).
_START = struct.Struct(">hi16siqi16s").pack
_INET4 = b"\x00\x00\x00\x08\x02\x20\x00\x04"  # length 8: family AF_INET (2), 32 bits, not cidr, 4 bytes
_INET6 = b"\x00\x00\x00\x14\x03\x80\x00\x10"  # length 20: family AF_INET6 (3), 128 bits, not cidr, 16 bytes
_FIELDS = len(FEATURE_COLUMNS)


class Unencodable(ValueError):
    """A value this module does not encode: the batch goes through asyncpg's codecs instead."""


_ARRAY_STRUCTS: dict[int, struct.Struct] = {}
_EIGHTS = itertools.repeat(8)


def _int8_array(values: tuple[int, ...]) -> bytes:
    """``bigint[]``, one dimension: its length, then ndim, no-null flag, element type, length and
    lower bound 1, then each element as (length 8, value): what asyncpg's array encoder writes."""
    n = len(values)
    packer = _ARRAY_STRUCTS.get(n)
    if packer is None:
        packer = _ARRAY_STRUCTS[n] = struct.Struct(f">iiiiii{'iq' * n}")
    pairs = itertools.chain.from_iterable(zip(_EIGHTS, values, strict=False))  # _EIGHTS is endless
    return packer.pack(20 + 12 * n, 1, 0, _INT8_OID, n, 1, *pairs)


def _text(out: bytearray, value: str | None) -> None:
    if value is None:
        out += _NULL
    else:
        data = value.encode()
        out += _LEN(len(data))
        out += data


def _inet(address: str | None) -> bytes:
    if address is None:
        return _NULL
    try:
        if ":" in address:
            return _INET6 + socket.inet_pton(socket.AF_INET6, address)
        return _INET4 + socket.inet_pton(socket.AF_INET, address)
    except OSError:
        raise Unencodable("an address inet_pton refuses") from None


@functools.lru_cache(maxsize=4096)
def _cidr(network: str | None) -> bytes:
    """Cached: a worker's callers come from few networks."""
    if network is None:
        return _NULL
    address, _, prefix = network.partition("/")
    if not prefix.isdigit():
        raise Unencodable("a network without its prefix length")
    bits = int(prefix)
    try:
        if ":" in address:
            family, width, packed = 3, 128, socket.inet_pton(socket.AF_INET6, address)
        else:
            family, width, packed = 2, 32, socket.inet_pton(socket.AF_INET, address)
    except OSError:
        raise Unencodable("a network address inet_pton refuses") from None
    # asyncpg (ipaddress.ip_network, strict) refuses host bits and over-long prefixes: so do we.
    if bits > width or int.from_bytes(packed, "big") & ((1 << (width - bits)) - 1):
        raise Unencodable("a network with host bits set")
    return struct.pack(">ibbbb", 4 + len(packed), family, bits, 1, len(packed)) + packed


def _microseconds(at: dt.datetime) -> int:
    if at.tzinfo is None:
        raise Unencodable("a naive timestamp (asyncpg reads it in the local zone)")
    delta = at - _PG_EPOCH  # aware datetimes subtract in UTC
    us = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    if us >= _INFINITY_US or us <= -_INFINITY_US:
        raise Unencodable("an infinite timestamp")
    return us


def _row(out: bytearray, f: CallFeatures) -> None:
    if type(f.request_id) is not uuid.UUID or type(f.customer_id) is not uuid.UUID:
        raise Unencodable("a request or customer id that is not a UUID")
    out += _START(_FIELDS, 16, f.request_id.bytes, 8, _microseconds(f.occurred_at), 16, f.customer_id.bytes)
    _text(out, f.key_id)
    _text(out, f.model)
    out += _INT4(4, f.status)
    out += _NULL if f.prompt_tokens is None else _INT4(4, f.prompt_tokens)
    out += _NULL if f.completion_tokens is None else _INT4(4, f.completion_tokens)
    out += _inet(f.client_ip)
    out += _cidr(f.network)
    _text(out, f.country)
    out += _NULL if f.temperature is None else _FLOAT4(4, f.temperature)
    out += _NULL if f.n is None else _INT2(2, f.n)
    out += _TRUE if f.logprobs else _FALSE
    out += _NULL if f.top_logprobs is None else _INT2(2, f.top_logprobs)
    out += _TRUE if f.logit_bias else _FALSE
    out += _TRUE if f.reasoning else _FALSE
    _text(out, f.family)
    out += _NULL if f.system_fp is None else _INT8(8, f.system_fp)
    out += _NULL if f.template_fp is None else _INT8(8, f.template_fp)
    out += _int8_array(f.bands)


def features_copy(batch: Sequence[CallFeatures]) -> bytearray:
    """The binary COPY stream of ``batch`` (columns :data:`FEATURE_COLUMNS`, in order); raises
    :class:`Unencodable` for a value it leaves to asyncpg."""
    out = bytearray(HEADER)
    try:
        for f in batch:
            _row(out, f)
    except (struct.error, OverflowError, UnicodeEncodeError, TypeError, AttributeError) as exc:
        raise Unencodable(str(exc)) from exc
    out += TRAILER
    return out
