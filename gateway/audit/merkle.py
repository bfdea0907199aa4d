"""RFC 6962 / RFC 9162 Merkle trees: hashes, proofs and their verification, storage-agnostic.

The tree is the one Certificate Transparency, Go's checksum database, Sigstore and every C2SP
transparency log use, so that their tools can check ours: SHA-256, a leaf is
``SHA-256(0x00 || entry)``, an inner node ``SHA-256(0x01 || left || right)`` (the prefixes keep a
leaf from passing as a node), and a tree of ``n > 1`` leaves splits at the largest power of two
below ``n`` (RFC 9162 §2.1.1). The last leaf is never duplicated, unlike Bitcoin's tree, so two
different lists never share a root (CVE-2012-2459).

Nothing here stores anything. A log that appends keeps a :class:`CompactRange` (its right edge, at
most one hash per level) and the perfect subtrees :meth:`CompactRange.append` reports; it answers
``subtree(start, end)`` with :func:`range_hash` over them, and the proofs are built from that.

Sizes and indices are unsigned 64-bit integers, as in the RFC: a negative value, a value of 2**64 or
more, or an index outside the tree is refused. Building a proof from bad arguments raises
:class:`ValueError`; checking one raises :class:`ProofError` (a ``ValueError`` too) for any reason,
so a verifier needs one ``except``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "ProofError",
    "Subtree",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "range_hash",
    "root",
    "split",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Bytes in every hash of the tree (SHA-256)."""
MAX_SIZE = (1 << 64) - 1
"""The largest tree size or index the RFC's unsigned 64-bit fields can carry."""

_sha256 = hashlib.sha256

EMPTY_ROOT: bytes = _sha256(b"").digest()
"""``MTH({}) = SHA-256()``: the root of the empty tree (RFC 9162 §2.1.1)."""

Subtree = Callable[[int, int], bytes]
"""``subtree(start, end)`` -> MTH of leaf hashes ``[start, end)``: the storage answers it (it keeps
perfect subtrees; see :func:`range_hash`)."""


class ProofError(ValueError):
    """A proof that does not check out: wrong hashes, wrong length, or arguments that cannot be."""


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1: the hash of one log entry, ``SHA-256(0x00 || entry)``."""
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: an inner node, ``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """RFC 9162 §2.1.1: ``k``, the largest power of two smaller than ``n`` (``n >= 2``)."""
    if n < 2:
        raise ValueError(f"split needs n >= 2, got {n}")
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH over ``leaves``, which are leaf *hashes* (already :func:`leaf_hash`'ed).

    The empty list gives :data:`EMPTY_ROOT`; a hash that is not 32 bytes raises ``ValueError``.
    Built by appending, so it is linear in time and logarithmic in memory.
    """
    edge = CompactRange()
    for leaf in leaves:
        edge.append(leaf)
    return edge.root()


def range_hash(start: int, end: int, perfect: Callable[[int, int], bytes]) -> bytes:
    """MTH of the leaf hashes ``[start, end)``, assembled from stored perfect subtrees.

    ``perfect(level, index)`` returns the hash of the perfect subtree over leaves
    ``[index * 2**level, (index + 1) * 2**level)`` (level 0 is the leaf hash itself), as
    :meth:`CompactRange.append` reports them. The range is split as RFC 9162 §2.1.1 splits a tree,
    at the largest power of two below its size, until each piece is an aligned perfect subtree, so
    only subtrees lying entirely inside ``[start, end)`` are asked for. Every range a proof needs
    (see :func:`inclusion_proof`) starts at a multiple of the power of two that covers it and costs
    one lookup per bit set in its length; any other range is still right, only slower (it goes
    down to smaller subtrees). An empty range is :data:`EMPTY_ROOT`.
    """
    if not 0 <= start <= end <= MAX_SIZE:
        raise ValueError(f"bad range [{start}, {end})")
    if start == end:
        return EMPTY_ROOT
    return _range_hash(start, end, perfect)


def _range_hash(start: int, end: int, perfect: Callable[[int, int], bytes]) -> bytes:
    n = end - start
    if n & (n - 1) == 0 and start % n == 0:  # an aligned power of two: one stored subtree
        level = n.bit_length() - 1
        return perfect(level, start >> level)
    k = split(n)
    return node_hash(_range_hash(start, start + k, perfect), _range_hash(start + k, end, perfect))


def inclusion_proof(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """RFC 9162 §2.1.3.1 ``PATH(m, D[n])``: the audit path of leaf ``index`` in the tree of ``size``.

    Ordered from the leaf's sibling up to a child of the root, as the RFC and C2SP tlog-proof write
    it. ``subtree(start, end)`` is asked once per hash of the path (at most 64 times).
    """
    if not 0 <= index < size <= MAX_SIZE:
        raise ValueError(f"no leaf {index} in a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    # The RFC recurses from the root down and appends on the way back up; walking down and
    # reversing at the end gives the same list without recursion.
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(old: int, new: int, subtree: Subtree) -> list[bytes]:
    """RFC 9162 §2.1.4.1 ``PROOF(m, D[n])``: what shows the tree of size ``old`` is a prefix of ``new``.

    Empty when ``old == new`` or ``old == 0`` (there is nothing to prove; RFC 9162 §2.1.4.1 and
    :func:`verify_consistency`). ``subtree`` is asked once per hash of the proof.
    """
    if not 0 <= old <= new <= MAX_SIZE:
        raise ValueError(f"no consistency proof from size {old} to size {new}")
    if old == 0 or old == new:
        return []
    path: list[bytes] = []
    # SUBPROOF(m, D[start:end], b), unrolled: m counts from start. b says whether D[start:start+m]
    # is still the whole old tree, whose root the verifier has; it turns false once the walk goes
    # right, and then the last piece of the old tree must be given in the proof.
    start, end, m, whole = 0, new, old, True
    while m != end - start:
        k = split(end - start)
        if m <= k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start += k
            m -= k
            whole = False
    if not whole:
        path.append(subtree(start, end))
    path.reverse()
    return path


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2: check that ``leaf`` (a leaf hash) is entry ``index`` of the tree ``root``.

    Returns nothing when the proof holds; raises :class:`ProofError` otherwise, including for an
    index outside the tree, a proof one hash too long or too short, or a hash that is not 32 bytes.
    """
    if not 0 <= index < size <= MAX_SIZE:
        raise ProofError(f"no leaf {index} in a tree of size {size}")
    _check_hash(leaf, "the leaf hash")
    _check_hash(root, "the root")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        _check_hash(p, "a proof hash")
        if sn == 0:  # the path climbed past the root: the proof is too long
            raise ProofError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            # A right child, or the last node of its level (then the sibling is on the left and
            # the levels where it had no sibling are skipped).
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is too short")
    if r != root:
        raise ProofError("the inclusion proof does not lead to the root")


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2: check that the tree ``old_root`` of size ``old`` is a prefix of ``new_root``.

    Raises :class:`ProofError` unless the proof holds. The two cases the RFC's algorithm leaves
    out are decided as RFC 9162 §2.1.4.1 builds their (empty) proofs:

    - ``old == new``: the proof must be empty and the roots equal;
    - ``old == 0``: the proof must be empty and ``old_root`` must be :data:`EMPTY_ROOT`; any new
      root is accepted, since the empty tree is a prefix of every tree.

    ``old > new`` is an error, as is any hash that is not 32 bytes.
    """
    if not 0 <= old <= new <= MAX_SIZE:
        raise ProofError(f"no consistency from size {old} to size {new}")
    _check_hash(old_root, "the old root")
    _check_hash(new_root, "the new root")
    for p in proof:
        _check_hash(p, "a proof hash")
    if old == 0:
        if proof:
            raise ProofError("a consistency proof from the empty tree must be empty")
        if old_root != EMPTY_ROOT:
            raise ProofError("a tree of size 0 has the root SHA-256(''), not the one given")
        if new == 0 and new_root != EMPTY_ROOT:
            raise ProofError("a tree of size 0 has the root SHA-256(''), not the one given")
        return
    if old == new:
        if proof:
            raise ProofError("a consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError("two trees of the same size have different roots")
        return
    if not proof:  # step 1
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if old & (old - 1) == 0:
        # Step 2: the old tree is a perfect subtree of the new one, so its root is the proof's
        # missing first node. (An implementation that leaves this out fails every such size.)
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:  # step 4: climb to the first level where the old tree's edge is a left node
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != old_root:
        raise ProofError("the consistency proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("the consistency proof does not lead to the new root")


def edge(size: int) -> list[tuple[int, int]]:
    """The perfect subtrees that make up ``[0, size)``, largest (leftmost) first, as ``(level,
    index)``: what :class:`CompactRange` keeps the hashes of, one for each bit set in ``size``."""
    out: list[tuple[int, int]] = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((level, start >> level))
            start += 1 << level
    return out


class CompactRange:
    """The right edge of a tree built by appends: at most one perfect subtree per level (<= 64 hashes).

    ``hashes`` are the roots of the perfect subtrees that make up ``[0, size)``, from the largest
    (leftmost) to the smallest: one for each bit set in ``size``, the largest for the highest bit.
    That is all it takes to append and to compute the root; a storage keeps ``(size, hashes)`` and
    restores the range with ``CompactRange(size, hashes)``.
    """

    __slots__ = ("hashes", "size")

    size: int
    hashes: list[bytes]

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if not 0 <= size <= MAX_SIZE:
            raise ValueError(f"bad tree size {size}")
        if len(hashes) != size.bit_count():
            raise ValueError(f"a tree of size {size} has {size.bit_count()} edge hashes, not {len(hashes)}")
        for h in hashes:
            if len(h) != HASH_SIZE:
                raise ValueError(f"an edge hash is {len(h)} bytes, not {HASH_SIZE}")
        self.size = size
        self.hashes = [bytes(h) for h in hashes]

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; return every perfect subtree it completes, as ``(level, index, hash)``.

        Level 0 is the leaf itself (index = its position); level ``L`` index ``i`` covers leaves
        ``[i * 2**L, (i + 1) * 2**L)``. The list goes up from the leaf: appending leaf 7 completes
        ``(0, 7)``, ``(1, 3)``, ``(2, 1)`` and ``(3, 0)``.
        """
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, not {len(leaf)}")
        index = self.size
        if index >= MAX_SIZE:
            raise ValueError("the tree is full")
        leaf = bytes(leaf)
        done = [(0, index, leaf)]
        hashes = self.hashes
        h, level, i = leaf, 0, index
        while i & 1:  # a right child: it completes its parent with the subtree left of it
            h = _sha256(b"\x01" + hashes.pop() + h).digest()
            level += 1
            i >>= 1
            done.append((level, i, h))
        hashes.append(h)
        self.size = index + 1
        return done

    def root(self) -> bytes:
        """RFC 9162 §2.1.1 MTH of the ``size`` leaves: the edge hashes folded from the right."""
        hashes = self.hashes
        if not hashes:
            return EMPTY_ROOT
        r = hashes[-1]
        for h in reversed(hashes[:-1]):
            r = node_hash(h, r)
        return r

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self.size == other.size and self.hashes == other.hashes

    def __repr__(self) -> str:
        return f"CompactRange(size={self.size}, hashes=[{', '.join(h.hex()[:8] for h in self.hashes)}])"
