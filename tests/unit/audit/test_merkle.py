"""gateway.audit.merkle against the RFC's definitions, the Certificate Transparency test vectors and
transparency-dev/merkle's proof probes; every proof of every tree up to 70 leaves; random trees up
to 10^5 leaves from a lazy store of perfect subtrees; and the CompactRange a storage keeps."""

from __future__ import annotations

import hashlib
import json
from base64 import b64decode
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    range_hash,
    root,
    split,
    verify_consistency,
    verify_inclusion,
)

# ---------------------------------------------------------------------------------------------
# The RFC's recursive definitions, written out over lists: the reference everything is checked
# against for small trees (RFC 9162 §2.1.1 MTH, §2.1.3.1 PATH, §2.1.4.1 PROOF/SUBPROOF).


def mth(hashes: Sequence[bytes]) -> bytes:
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def ref_path(m: int, hashes: Sequence[bytes]) -> list[bytes]:
    n = len(hashes)
    if n == 1:
        return []
    k = split(n)
    if m < k:
        return [*ref_path(m, hashes[:k]), mth(hashes[k:])]
    return [*ref_path(m - k, hashes[k:]), mth(hashes[:k])]


def ref_subproof(m: int, hashes: Sequence[bytes], whole: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if whole else [mth(hashes)]
    k = split(n)
    if m <= k:
        return [*ref_subproof(m, hashes[:k], whole), mth(hashes[k:])]
    return [*ref_subproof(m - k, hashes[k:], False), mth(hashes[:k])]


def ref_root_from_path(m: int, n: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """The root a path leads to, walking the PATH definition back up; None if its length is wrong."""
    if n == 1:
        return leaf if not path else None
    if not path:
        return None
    k = split(n)
    if m < k:
        below = ref_root_from_path(m, k, leaf, path[:-1])
        return None if below is None else node_hash(below, path[-1])
    below = ref_root_from_path(m - k, n - k, leaf, path[:-1])
    return None if below is None else node_hash(path[-1], below)


def ref_consistency_roots(
    m: int, n: int, old_root: bytes, proof: Sequence[bytes], whole: bool = True
) -> tuple[bytes, bytes] | None:
    """The (old, new) roots a consistency proof leads to, walking SUBPROOF back up; None if its
    length does not fit the sizes."""
    if m == n:
        if whole:
            return (old_root, old_root) if not proof else None
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof or m == 0:
        return None
    k = split(n)
    if m <= k:
        below = ref_consistency_roots(m, k, old_root, proof[:-1], whole)
        return None if below is None else (below[0], node_hash(below[1], proof[-1]))
    below = ref_consistency_roots(m - k, n - k, old_root, proof[:-1], False)
    return None if below is None else (node_hash(proof[-1], below[0]), node_hash(proof[-1], below[1]))


def list_subtree(hashes: Sequence[bytes]) -> Callable[[int, int], bytes]:
    return lambda start, end: mth(hashes[start:end])


def leaves(n: int, salt: bytes = b"") -> list[bytes]:
    return [leaf_hash(salt + i.to_bytes(8, "big")) for i in range(n)]


def flip(h: bytes, bit: int = 0) -> bytes:
    return h[: bit // 8] + bytes([h[bit // 8] ^ (1 << (bit % 8))]) + h[bit // 8 + 1 :]


def inclusion_ok(index: int, size: int, leaf: bytes, proof: Sequence[bytes], want: bytes) -> bool:
    try:
        verify_inclusion(index, size, leaf, proof, want)
    except ProofError:
        return False
    return True


def consistency_ok(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    try:
        verify_consistency(old, new, old_root, new_root, proof)
    except ProofError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# The RFC 6962 test vectors: the 8-leaf tree of Certificate Transparency's C++ and Go tests, as
# github.com/transparency-dev/merkle keeps them (testonly/constants.go: LeafInputs, NodeHashes,
# RootHashes, CompactTrees; testonly/reference_test.go: TestRefInclusionProof and
# TestRefConsistencyProof; cmd/proofgen/main.go: inclusionProofs, consistencyProofs), read at
# commit 417fb0c314750d94e53942e9f92e79b6d35915db.

CT_LEAVES = [bytes.fromhex(x) for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                        "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
CT_NODES = [
    [bytes.fromhex(x) for x in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    )],
    [bytes.fromhex(x) for x in (
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    )],
    [bytes.fromhex(x) for x in (
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    )],
    [bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]  # fmt: skip
CT_ROOTS = [bytes.fromhex(x) for x in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]  # fmt: skip
N = CT_NODES
CT_COMPACT = [[], [N[0][0]], [N[1][0]], [N[1][0], N[0][2]], [N[2][0]], [N[2][0], N[0][4]],
              [N[2][0], N[1][2]], [N[2][0], N[1][2], N[0][6]], [N[3][0]]]  # fmt: skip
# (index, size, path), 0-based: TestRefInclusionProof, plus proofgen's {leafIdx 6 (1-based), 8}.
CT_INCLUSION = [
    (0, 1, []),
    (0, 2, [N[0][1]]),
    (1, 2, [N[0][0]]),
    (2, 3, [N[1][0]]),
    (1, 5, [N[0][0], N[1][1], N[0][4]]),
    (0, 8, [N[0][1], N[1][1], N[2][1]]),
    (5, 8, [N[0][4], N[1][3], N[2][0]]),
]
# (old, new, proof): TestRefConsistencyProof, plus proofgen's {6, 7}.
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, [N[0][1], N[1][1], N[2][1]]),
    (2, 5, [N[1][1], N[0][4]]),
    (6, 8, [N[1][2], N[1][3], N[2][0]]),
    (6, 7, [N[1][2], N[0][6], N[2][0]]),
]
CT_HASHES = [leaf_hash(x) for x in CT_LEAVES]


def ct_subtree(start: int, end: int) -> bytes:
    return mth(CT_HASHES[start:end])


def test_empty_root_and_the_hash_prefixes() -> None:
    assert bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == EMPTY_ROOT
    assert root([]) == EMPTY_ROOT
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"L", b"R") == hashlib.sha256(b"\x01LR").digest()


def test_the_ct_leaf_and_node_hashes() -> None:
    for level, row in enumerate(CT_NODES):
        for index, want in enumerate(row):
            w = 1 << level
            assert mth(CT_HASHES[index * w : (index + 1) * w]) == want
            assert range_hash(index * w, (index + 1) * w, lambda lv, i: CT_NODES[lv][i]) == want


@pytest.mark.parametrize("size", range(9))
def test_the_ct_roots(size: int) -> None:
    assert root(CT_HASHES[:size]) == CT_ROOTS[size]
    assert range_hash(0, size, lambda lv, i: CT_NODES[lv][i]) == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_the_ct_inclusion_proofs(index: int, size: int, path: list[bytes]) -> None:
    assert inclusion_proof(index, size, ct_subtree) == path
    verify_inclusion(index, size, CT_HASHES[index], path, CT_ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), CT_CONSISTENCY)
def test_the_ct_consistency_proofs(old: int, new: int, proof: list[bytes]) -> None:
    assert consistency_proof(old, new, ct_subtree) == proof
    verify_consistency(old, new, CT_ROOTS[old], CT_ROOTS[new], proof)


def test_the_ct_compact_trees() -> None:
    edge = CompactRange()
    for size in range(9):
        assert edge.size == size and edge.hashes == CT_COMPACT[size]
        assert edge.root() == CT_ROOTS[size]
        if size < 8:
            edge.append(CT_HASHES[size])


# ---------------------------------------------------------------------------------------------
# transparency-dev/merkle's probes (testdata/inclusion and testdata/consistency, made by its
# cmd/proofgen from the same tree): a happy path and its mutations, each with the expected verdict.

PROBES = json.loads((Path(__file__).parents[2] / "fixtures" / "tlog" / "merkle-probes.json").read_text())
# Where our rules knowingly differ from Go's: it does not check hash lengths when the sizes are
# equal (any two equal byte strings pass); we refuse a root that is not 32 bytes.
OURS = {"consistency/additional/sizes-are-equal-one-and-proof-is-empty.json": True}


@pytest.mark.parametrize("p", PROBES["inclusion"], ids=lambda p: p["file"])
def test_transparency_dev_inclusion_probes(p: dict[str, Any]) -> None:
    proof = [b64decode(h) for h in p["proof"]]
    ok = inclusion_ok(p["leafIdx"], p["treeSize"], b64decode(p["leafHash"]), proof, b64decode(p["root"]))
    assert ok is not p["wantErr"]


@pytest.mark.parametrize("p", PROBES["consistency"], ids=lambda p: p["file"])
def test_transparency_dev_consistency_probes(p: dict[str, Any]) -> None:
    proof = [b64decode(h) for h in p["proof"]]
    ok = consistency_ok(p["size1"], p["size2"], b64decode(p["root1"]), b64decode(p["root2"]), proof)
    assert ok is not OURS.get(p["file"], p["wantErr"])


def test_the_probe_file_is_whole() -> None:
    assert len(PROBES["inclusion"]) == 98 and len(PROBES["consistency"]) == 98
    assert sum(not p["wantErr"] for p in PROBES["inclusion"]) == 6  # a happy path per tree, and more


# ---------------------------------------------------------------------------------------------
# Every proof of every tree of 1 to 70 leaves, and what breaks it.

SMALL = 70
HASHES = leaves(SMALL)
ROOTS = [mth(HASHES[:n]) for n in range(SMALL + 1)]
SUBTREE = list_subtree(HASHES)


@pytest.mark.parametrize("size", range(1, SMALL + 1))
def test_every_inclusion_proof_verifies_and_each_mutation_fails(size: int) -> None:
    for index in range(size):
        proof = inclusion_proof(index, size, SUBTREE)
        assert proof == ref_path(index, HASHES[:size])
        assert len(proof) <= (size - 1).bit_length()
        leaf, want = HASHES[index], ROOTS[size]
        verify_inclusion(index, size, leaf, proof, want)
        for i in range(len(proof)):  # a flipped bit anywhere
            for bit in (0, 255):
                bad = [*proof[:i], flip(proof[i], bit), *proof[i + 1 :]]
                assert not inclusion_ok(index, size, leaf, bad, want)
        assert not inclusion_ok(index, size, flip(leaf), proof, want)
        assert not inclusion_ok(index, size, leaf, proof, flip(want, 100))
        assert not inclusion_ok(index, size, leaf, [*proof, HASHES[0]], want)  # extended
        assert not inclusion_ok(index, size, leaf, [HASHES[0], *proof], want)
        if proof:
            assert not inclusion_ok(index, size, leaf, proof[:-1], want)  # truncated
            assert not inclusion_ok(index, size, leaf, proof[1:], want)
            assert not inclusion_ok(index, size, leaf, proof[::-1], want) or len(set(proof)) == 1
        for other in {index - 1, index + 1, index ^ 1, index ^ 2, 0, size - 1} - {index}:
            if 0 <= other < size:  # another position in the same tree: always a different path
                assert not inclusion_ok(other, size, leaf, proof, want)
        for other_size in {size - 1, size + 1, size * 2, size // 2, size + 7} - {size}:
            # The proof alone does not bind the size (the signed checkpoint does): with another
            # size it may happen to take the same turns. Then, and only then, it must pass.
            expect = (
                ref_root_from_path(index, other_size, leaf, proof) == want if index < other_size else False
            )
            assert inclusion_ok(index, other_size, leaf, proof, want) is expect


@pytest.mark.parametrize("new", range(1, SMALL + 1))
def test_every_consistency_proof_verifies_and_each_mutation_fails(new: int) -> None:
    for old in range(1, new + 1):
        proof = consistency_proof(old, new, SUBTREE)
        assert proof == ref_subproof(old, HASHES[:new], True)
        assert ref_consistency_roots(old, new, ROOTS[old], proof) == (ROOTS[old], ROOTS[new])
        assert len(proof) <= 2 * (new - 1).bit_length()
        a, b = ROOTS[old], ROOTS[new]
        verify_consistency(old, new, a, b, proof)
        if old == new:
            assert proof == []
            continue
        for i in range(len(proof)):
            bad = [*proof[:i], flip(proof[i], 7), *proof[i + 1 :]]
            assert not consistency_ok(old, new, a, b, bad)
        assert not consistency_ok(old, new, flip(a), b, proof)
        assert not consistency_ok(old, new, a, flip(b), proof)
        assert not consistency_ok(old, new, b, a, proof)  # swapped roots
        assert not consistency_ok(old, new, a, b, [*proof, HASHES[0]])
        assert not consistency_ok(old, new, a, b, [a, *proof])  # preceding old root
        assert not consistency_ok(old, new, a, b, proof[:-1])
        assert not consistency_ok(old, new, a, b, proof[1:])
        assert not consistency_ok(old, new, a, b, [])
        for o, n2 in {(old - 1, new), (old + 1, new), (old, new - 1), (old, new + 1), (old, 2 * new)}:
            # Other sizes, the same roots and proof. As for inclusion, the proof alone does not
            # bind the sizes: it must pass exactly when it takes the same turns for those sizes.
            if 1 <= o < n2:
                expect = ref_consistency_roots(o, n2, a, proof) == (a, b)
                assert consistency_ok(o, n2, a, b, proof) is expect


@pytest.mark.parametrize("old", [1, 2, 4, 8, 16, 32, 64])
def test_consistency_from_a_power_of_two_prepends_the_old_root(old: int) -> None:
    """RFC 9162 §2.1.4.2 step 2: the old tree is then a node of the new one, so the proof leaves its
    root out and the verifier puts it back. A public implementation skipped that step, so it failed
    these sizes; each must pass here, and a proof that carries the old root anyway must not."""
    for new in range(old + 1, SMALL + 1):
        proof = consistency_proof(old, new, SUBTREE)
        assert ROOTS[old] not in proof
        verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)
        assert not consistency_ok(old, new, ROOTS[old], ROOTS[new], [ROOTS[old], *proof])
    assert consistency_proof(4, 8, SUBTREE) == [mth(HASHES[4:8])]  # one hash: the right half


def test_consistency_between_equal_sizes() -> None:
    for n in (1, 2, 3, 8, 70):
        assert consistency_proof(n, n, SUBTREE) == []
        verify_consistency(n, n, ROOTS[n], ROOTS[n], [])
        assert not consistency_ok(n, n, ROOTS[n], ROOTS[n], [ROOTS[n]])
        assert not consistency_ok(n, n, ROOTS[n], flip(ROOTS[n]), [])


def test_consistency_from_the_empty_tree() -> None:
    for n in (0, 1, 5, 70):
        assert consistency_proof(0, n, SUBTREE) == []
        verify_consistency(0, n, EMPTY_ROOT, ROOTS[n], [])
        verify_consistency(0, n, EMPTY_ROOT, hashlib.sha256(b"any").digest() if n else EMPTY_ROOT, [])
        assert not consistency_ok(0, n, EMPTY_ROOT, ROOTS[n], [ROOTS[n]])  # the proof must be empty
        assert not consistency_ok(0, n, ROOTS[1], ROOTS[n], [])  # size 0 has one root
    assert not consistency_ok(0, 0, EMPTY_ROOT, ROOTS[1], [])


def test_consistency_backwards_is_an_error() -> None:
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(5, 4, SUBTREE)
    with pytest.raises(ProofError, match="no consistency"):
        verify_consistency(5, 4, ROOTS[5], ROOTS[4], [])
    with pytest.raises(ProofError):
        verify_consistency(5, 4, ROOTS[5], ROOTS[4], consistency_proof(4, 5, SUBTREE))


def test_bad_indices_and_sizes_are_refused() -> None:
    h = HASHES[0]
    for index, size in ((-1, 5), (5, 5), (6, 5), (0, 0), (0, -1), (0, 1 << 64)):
        with pytest.raises(ValueError, match="no leaf"):
            inclusion_proof(index, size, SUBTREE)
        with pytest.raises(ProofError, match="no leaf"):
            verify_inclusion(index, size, h, [], h)
    for old, new in ((-1, 3), (0, -1), (2, 1), (0, 1 << 64)):
        with pytest.raises(ValueError):
            consistency_proof(old, new, SUBTREE)
        with pytest.raises(ProofError):
            verify_consistency(old, new, h, h, [])
    for n in (-1, 0, 1):
        with pytest.raises(ValueError, match="n >= 2"):
            split(n)
    for start, end in ((-1, 2), (3, 2), (0, 1 << 64)):
        with pytest.raises(ValueError, match="bad range"):
            range_hash(start, end, lambda lv, i: h)


def test_hashes_of_the_wrong_length_are_refused() -> None:
    proof = inclusion_proof(3, 8, SUBTREE)
    assert not inclusion_ok(3, 8, HASHES[3][:31], proof, ROOTS[8])
    assert not inclusion_ok(3, 8, HASHES[3], proof, ROOTS[8] + b"\x00")
    assert not inclusion_ok(3, 8, HASHES[3], [*proof[:2], proof[2] + b"\x00"], ROOTS[8])
    assert not inclusion_ok(0, 1, b"", [], b"")
    cproof = consistency_proof(3, 8, SUBTREE)
    assert not consistency_ok(3, 8, ROOTS[3], ROOTS[8], [*cproof[:-1], cproof[-1][:16]])
    assert not consistency_ok(3, 3, b"abc", b"abc", [])


def test_split_is_the_largest_power_of_two_below() -> None:
    for n, k in ((2, 1), (3, 2), (4, 2), (5, 4), (7, 4), (8, 4), (9, 8), (63, 32), (28937, 16384)):
        assert split(n) == k
    assert split((1 << 64) - 1) == 1 << 63


def test_root_matches_the_definition_at_every_small_size() -> None:
    for n in range(SMALL + 1):
        assert root(HASHES[:n]) == ROOTS[n]


# ---------------------------------------------------------------------------------------------
# range_hash: what the storage answers subtree() with.


def recording(hashes: Sequence[bytes]) -> tuple[Callable[[int, int], bytes], list[tuple[int, int]]]:
    asked: list[tuple[int, int]] = []

    def perfect(level: int, index: int) -> bytes:
        asked.append((level, index))
        return mth(hashes[index << level : (index + 1) << level])

    return perfect, asked


def test_range_hash_asks_only_for_perfect_subtrees_inside_the_range() -> None:
    hashes = HASHES[:64]
    for start in range(64):
        for end in range(start, 65):
            perfect, asked = recording(hashes)
            assert range_hash(start, end, perfect) == mth(hashes[start:end])
            for level, index in asked:
                assert start <= index << level and (index + 1) << level <= end


def test_range_hash_of_a_proof_range_is_a_handful_of_lookups() -> None:
    # The ranges proofs ask for start at a multiple of the power of two covering them: at most
    # one stored subtree per bit of their length.
    seen = []

    def subtree(start: int, end: int) -> bytes:
        perfect, asked = recording(HASHES)
        h = range_hash(start, end, perfect)
        assert len(asked) == (end - start).bit_count()
        seen.append((start, end))
        return h

    for size in range(1, SMALL + 1):
        for index in range(size):
            inclusion_proof(index, size, subtree)
        for old in range(1, size):
            consistency_proof(old, size, subtree)
    assert len(seen) > 10_000


# ---------------------------------------------------------------------------------------------
# CompactRange: the right edge a storage keeps.


def test_compact_range_appends_to_the_root_of_every_size_and_reports_each_perfect_subtree() -> None:
    n = 300
    hashes = leaves(n, b"cr")
    edge = CompactRange()
    reported: dict[tuple[int, int], bytes] = {}
    for i, h in enumerate(hashes):
        done = edge.append(h)
        assert done[0] == (0, i, h)
        assert [(lv, ix) for lv, ix, _ in done] == [(lv, i >> lv) for lv in range(len(done))]
        assert len(done) == 1 + (i ^ (i + 1)).bit_length() - 1  # 1 + trailing ones of i
        for level, index, value in done:
            assert value == mth(hashes[index << level : (index + 1) << level])
            reported[level, index] = value
        assert edge.size == i + 1
        assert len(edge.hashes) == (i + 1).bit_count()
        assert edge.root() == mth(hashes[: i + 1])
        assert range_hash(0, i + 1, lambda lv, ix: reported[lv, ix]) == edge.root()
    # Every perfect subtree of the 300 leaves was reported exactly once.
    assert len(reported) == sum(n >> lv for lv in range(n.bit_length()))


def test_compact_range_restored_from_storage_continues_identically() -> None:
    hashes = leaves(200, b"restore")
    edge = CompactRange()
    snapshots = []
    for h in hashes:
        snapshots.append((edge.size, list(edge.hashes)))
        edge.append(h)
    for size, stored in snapshots[::7]:
        again = CompactRange(size, stored)
        reference = CompactRange()
        for h in hashes[:size]:
            reference.append(h)
        assert again == reference
        for h in hashes[size:]:
            assert again.append(h) == reference.append(h)
        assert again == edge and again.root() == edge.root()


def test_compact_range_refuses_a_bad_restore() -> None:
    h = HASHES[0]
    with pytest.raises(ValueError, match="edge hashes"):
        CompactRange(3, [h])
    with pytest.raises(ValueError, match="edge hashes"):
        CompactRange(0, [h])
    with pytest.raises(ValueError, match="bytes"):
        CompactRange(1, [h[:31]])
    with pytest.raises(ValueError, match="bad tree size"):
        CompactRange(-1)
    with pytest.raises(ValueError, match="leaf hash"):
        CompactRange().append(b"short")
    assert CompactRange().root() == EMPTY_ROOT
    full = CompactRange((1 << 64) - 1, [h] * 64)
    with pytest.raises(ValueError, match="full"):
        full.append(h)
    assert "size=3" in repr(CompactRange(3, [h, h]))


def test_compact_range_restore_copies_the_hashes() -> None:
    stored = [HASHES[0]]
    edge = CompactRange(1, stored)
    edge.append(HASHES[1])
    assert stored == [HASHES[0]]


# ---------------------------------------------------------------------------------------------
# Larger trees, at random, from a store of perfect subtrees computed on demand (a dictionary, the
# way the storage keeps them): nothing builds a list of all leaves.

BIG = 100_000


@cache
def perfect(level: int, index: int) -> bytes:
    if level == 0:
        return leaf_hash(b"big" + index.to_bytes(8, "big"))
    return node_hash(perfect(level - 1, 2 * index), perfect(level - 1, 2 * index + 1))


def store_subtree(start: int, end: int) -> bytes:
    return range_hash(start, end, perfect)


def store_root(size: int) -> bytes:
    """The root from the edge (one perfect subtree per bit of size), folded: another way than the
    recursive split range_hash takes."""
    edge, start = [], 0
    for level in reversed(range(size.bit_length())):
        if size >> level & 1:
            edge.append(perfect(level, start >> level))
            start += 1 << level
    return CompactRange(size, edge).root()


@pytest.fixture(scope="module", autouse=True)
def _warm_store() -> None:
    perfect(16, 0)  # 2**17 hashes once, shared by every example below


sizes = st.integers(min_value=1, max_value=BIG)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), size=sizes)
def test_random_inclusion_proofs_in_big_trees(data: st.DataObject, size: int) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    want = store_subtree(0, size)
    assert want == store_root(size)
    proof = inclusion_proof(index, size, store_subtree)
    verify_inclusion(index, size, perfect(0, index), proof, want)
    assert len(proof) == len(ref_shape_path(index, size))
    i = data.draw(st.integers(min_value=0, max_value=max(len(proof) - 1, 0)))
    if proof:
        bad = [*proof[:i], flip(proof[i], data.draw(st.integers(0, 255))), *proof[i + 1 :]]
        assert not inclusion_ok(index, size, perfect(0, index), bad, want)
    other = data.draw(st.integers(min_value=0, max_value=size - 1))
    if other != index:
        assert not inclusion_ok(other, size, perfect(0, index), proof, want)


def ref_shape_path(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges of PATH(index, D[size]) without hashing anything: their count is the proof length."""
    out = []
    start, end = 0, size
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start += k
    return out


@settings(max_examples=300, deadline=None)
@given(data=st.data(), new=sizes)
def test_random_consistency_proofs_in_big_trees(data: st.DataObject, new: int) -> None:
    old = data.draw(st.integers(min_value=0, max_value=new))
    a, b = store_subtree(0, old), store_subtree(0, new)
    proof = consistency_proof(old, new, store_subtree)
    verify_consistency(old, new, a, b, proof)
    if 0 < old < new:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        bad = [*proof[:i], flip(proof[i], data.draw(st.integers(0, 255))), *proof[i + 1 :]]
        assert not consistency_ok(old, new, a, b, bad)
        assert not consistency_ok(old, new, a, b, proof[:-1])
        assert not consistency_ok(old, new, a, b, [*proof, b])
        # The old tree's proof chained with the new tree's inclusion proof of the old tree's last
        # leaf: both roots are commitments to the same leaf.
        verify_inclusion(old - 1, new, perfect(0, old - 1), inclusion_proof(old - 1, new, store_subtree), b)


@settings(max_examples=100, deadline=None)
@given(start=st.integers(min_value=0, max_value=BIG), length=st.integers(min_value=0, max_value=5000))
def test_random_ranges_agree_with_the_definition(start: int, length: int) -> None:
    hashes = [perfect(0, i) for i in range(start, start + length)]
    assert range_hash(start, start + length, perfect) == mth(hashes)


@settings(max_examples=25, deadline=None)
@given(size=st.integers(min_value=0, max_value=5000), more=st.integers(min_value=0, max_value=2000))
def test_random_compact_ranges_match_the_store(size: int, more: int) -> None:
    edge = CompactRange()
    for i in range(size):
        edge.append(perfect(0, i))
    assert edge.root() == store_root(size) == (store_subtree(0, size) if size else EMPTY_ROOT)
    again = CompactRange(edge.size, edge.hashes)
    for i in range(size, size + more):
        for level, index, value in again.append(perfect(0, i)):
            assert value == perfect(level, index)
    assert again.root() == store_root(size + more)
