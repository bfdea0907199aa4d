"""MinHash signatures of a masked prompt and their LSH band keys; stable 64-bit fingerprints.

A prompt is the set of its word 5-gram shingles (a prompt of fewer than five words: the whole of
it, one shingle). Each shingle is hashed with CRC-32 (stable across processes and machines, unlike
Python's salted ``hash()``); its 128 MinHash values are the universal hashes ``(a*x + b) mod p``,
``p = 2**61 - 1``, with fixed ``a`` and ``b`` derived from BLAKE2b of their index (so no random
generator's stream, which numpy does not promise to keep across versions). With ``a < 2**31`` and
``x < 2**32`` the product stays below ``2**63``: numpy's uint64 arithmetic is exact, no wrap-around.

The 128 values are cut into :data:`BANDS` bands of :data:`ROWS` rows; each band's key is a signed
64-bit BLAKE2b of its index and values. Two prompts whose shingle sets have Jaccard similarity s
share at least one band key with probability 1 - (1 - s**8)**16: 0.95 at s = 0.8, 0.06 at s = 0.5.
"""

from __future__ import annotations

import hashlib
import threading
import zlib

import numpy as np
import numpy.typing as npt

PERMUTATIONS = 128
BANDS = 16
ROWS = PERMUTATIONS // BANDS
SHINGLE_WORDS = 5
_PRIME = (1 << 61) - 1


def _coefficient(name: str, i: int, modulus: int) -> int:
    digest = hashlib.blake2b(f"gateway-minhash-{name}-{i}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % modulus


_A = np.array([1 + _coefficient("a", i, (1 << 31) - 1) for i in range(PERMUTATIONS)], dtype=np.uint64)
_B = np.array([_coefficient("b", i, _PRIME) for i in range(PERMUTATIONS)], dtype=np.uint64)
_P = np.uint64(_PRIME)


def fingerprint(text: str) -> int:
    """A signed 64-bit fingerprint of ``text`` (BLAKE2b): fits PostgreSQL's bigint."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def shingles(words: list[str]) -> list[str]:
    if len(words) < SHINGLE_WORDS:
        return [" ".join(words)] if words else []
    return [" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)]


def signature(masked: str) -> npt.NDArray[np.uint64] | None:
    """The 128 MinHash values of a masked prompt; None for an empty one. The plain computation, one
    prompt at a time: :func:`signatures` gives the same values for many at once."""
    found = shingles(masked.split())
    if not found:
        return None
    x = np.fromiter((zlib.crc32(s.encode()) for s in set(found)), dtype=np.uint64)
    hashed = (x[:, None] * _A[None, :] + _B[None, :]) % _P
    result: npt.NDArray[np.uint64] = hashed.min(axis=0)
    return result


CHUNK_SHINGLES = 512
"""Shingles hashed in one numpy pass at most (512 x 128 values, 512 KB per scratch array)."""
_SHIFT = np.uint64(61)


class _Scratch(threading.local):
    """Each thread's work arrays for :func:`_minhash_rows`, made once: a fresh array of this size
    costs its page faults on every call, 5x the arithmetic (measured: 1,000 against 170 ns a
    shingle)."""

    def __init__(self) -> None:
        self.y = np.empty((CHUNK_SHINGLES, PERMUTATIONS), dtype=np.uint64)
        self.r = np.empty((CHUNK_SHINGLES, PERMUTATIONS), dtype=np.uint64)
        self.wrap = np.empty((CHUNK_SHINGLES, PERMUTATIONS), dtype=np.bool_)


_scratch = _Scratch()


def _crc32s(masked: str) -> list[int]:
    """The CRC-32 of each distinct shingle (the plain computation)."""
    return [zlib.crc32(s.encode()) for s in set(shingles(masked.split()))]


def _shingle_crc32s(masked: str) -> set[int]:
    """:func:`_crc32s`'s values, as a set. In a skeleton (:func:`.masking.mask`'s words, one space
    apart) a shingle is a slice of the text itself: cut out rather than joined from its words
    (a sixth less). Any other text goes the plain way."""
    words = masked.split()
    n = len(words)
    if n < SHINGLE_WORDS or masked.count(" ") != n - 1 or len(masked) != sum(map(len, words)) + n - 1:
        return set(_crc32s(masked))
    starts = [0]
    for word in words:
        starts.append(starts[-1] + len(word) + 1)
    crc32 = zlib.crc32
    return {crc32(masked[a : b - 1].encode()) for a, b in zip(starts, starts[SHINGLE_WORDS:], strict=False)}


def signatures(masked: list[str]) -> npt.NDArray[np.uint64]:
    """The signatures of many non-empty masked prompts, one row each: the values of
    :func:`signature`, for a batch. numpy's per-operation overhead (a few µs, more than the
    arithmetic of a short prompt) is paid once per :data:`CHUNK_SHINGLES` shingles, in arrays made
    once, and ``mod p`` is the Mersenne reduction (:func:`mod_p`) instead of a division."""
    out = np.empty((len(masked), PERMUTATIONS), dtype=np.uint64)
    starts: list[int] = []
    crcs: list[int] = []
    first = 0
    for i, text in enumerate(masked):
        found = _shingle_crc32s(text)
        if not found:
            raise ValueError("signatures() takes non-empty masked prompts only")
        if crcs and len(crcs) + len(found) > CHUNK_SHINGLES:
            _minhash_rows(crcs, starts, out[first:i])
            starts, crcs, first = [], [], i
        starts.append(len(crcs))
        crcs.extend(found)
    if crcs:
        _minhash_rows(crcs, starts, out[first:])
    return out


def mod_p(y: npt.NDArray[np.uint64], out: npt.NDArray[np.uint64], wrap: npt.NDArray[np.bool_]) -> None:
    """``out = y % p`` for ``p = 2**61 - 1``, element-wise, without a division (``y`` is spent,
    ``wrap`` is scratch): ``2**61 = 1 (mod p)``, so ``y = (y >> 61) + (y & p) (mod p)``; that sum is
    at most ``p + 7`` and one subtraction of ``p`` where it is ``>= p`` ends it. 6x faster than
    ``%`` on uint64."""
    np.bitwise_and(y, _P, out=out)
    np.right_shift(y, _SHIFT, out=y)
    np.add(out, y, out=out)
    np.greater_equal(out, _P, out=wrap)
    np.subtract(out, _P, out=out, where=wrap)


def _minhash_rows(crcs: list[int], starts: list[int], out: npt.NDArray[np.uint64]) -> None:
    """``out[j]``: the minimum of ``(a*x + b) mod p`` over the shingles from ``starts[j]`` to the
    next start (one prompt's). A prompt longer than :data:`CHUNK_SHINGLES` goes in parts.

    ``y = a*x + b < 2**63 + 2**61`` fits uint64 (see the module's docstring)."""
    if len(crcs) > CHUNK_SHINGLES:  # one prompt alone: the minimum of its parts' minima
        assert len(starts) == 1
        _minhash_rows(crcs[:CHUNK_SHINGLES], [0], out)
        rest = np.empty_like(out)
        _minhash_rows(crcs[CHUNK_SHINGLES:], [0], rest)
        np.minimum(out, rest, out=out)
        return
    n = len(crcs)
    s = _scratch
    y, r, wrap = s.y[:n], s.r[:n], s.wrap[:n]
    np.multiply(np.array(crcs, dtype=np.uint64)[:, None], _A, out=y)
    np.add(y, _B, out=y)
    mod_p(y, r, wrap)
    np.minimum.reduceat(r, np.array(starts, dtype=np.intp), axis=0, out=out)


_BAND_PREFIXES = tuple(band.to_bytes(2, "little") for band in range(BANDS))
_BAND_BYTES = ROWS * 8
# Each band's hash with its index already fed: a copy per call costs less than a new hash object.
_BAND_HASHES = tuple(hashlib.blake2b(prefix, digest_size=8) for prefix in _BAND_PREFIXES)


def band_keys(sig: npt.NDArray[np.uint64]) -> tuple[int, ...]:
    """One signed 64-bit key per band (BLAKE2b of the band's index and its rows): equal keys, equal
    rows in the same band."""
    data = memoryview(sig.astype("<u8", copy=False).tobytes())
    digests = []
    for i, start in enumerate(_BAND_HASHES):
        h = start.copy()
        h.update(data[i * _BAND_BYTES : (i + 1) * _BAND_BYTES])
        digests.append(h.digest())
    # The digests read as big-endian signed 64-bit integers, all sixteen at once.
    keys: list[int] = np.frombuffer(b"".join(digests), dtype=">i8").tolist()
    return tuple(keys)


def band_keys_many(sigs: npt.NDArray[np.uint64]) -> list[tuple[int, ...]]:
    """:func:`band_keys` of each row of ``sigs``: the same values, with one byte conversion and one
    integer conversion for the whole batch rather than one per signature."""
    data = memoryview(sigs.astype("<u8", copy=False).tobytes())
    digests = []
    for row in range(len(sigs)):
        base = row * PERMUTATIONS * 8
        for i, start in enumerate(_BAND_HASHES):
            h = start.copy()
            h.update(data[base + i * _BAND_BYTES : base + (i + 1) * _BAND_BYTES])
            digests.append(h.digest())
    keys: list[int] = np.frombuffer(b"".join(digests), dtype=">i8").tolist()
    return [tuple(keys[j : j + BANDS]) for j in range(0, len(keys), BANDS)]


def bands(masked: str) -> tuple[int, ...]:
    """The LSH band keys of a masked prompt; empty for an empty one."""
    sig = signature(masked)
    return () if sig is None else band_keys(sig)
