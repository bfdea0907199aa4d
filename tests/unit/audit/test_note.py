"""gateway.audit.note against the C2SP specs' own examples, Go's golang.org/x/mod/sumdb/note test
vectors (the reference implementation of signed notes), and everything that must be refused."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.audit.merkle import EMPTY_ROOT, inclusion_proof, leaf_hash, range_hash, verify_inclusion
from gateway.audit.note import (
    MAX_SIGNATURES,
    Checkpoint,
    NoteError,
    NoteSigner,
    NoteVerifier,
    cosign,
    cosignature_vkey,
    format_proof,
    open_note,
    parse_proof,
    sign_note,
    split_note,
    verify_cosignature,
)

DASH = "\u2014"


def key(n: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"key %d" % n).digest())


def signer(name: str, n: int) -> NoteSigner:
    return NoteSigner(name, key(n))


# ---------------------------------------------------------------------------------------------
# c2sp.org/signed-note (C2SP/C2SP signed-note.md at 5ba5ee8), "Verifier keys" / "Example": copied
# verbatim.

SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n"
    "\n"
    "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)
# The spec's opening example, whose key it does not give: its text holds a blank line of its own.
SPEC_POEM = (
    "Ognuno sta solo sul cuor della terra\n"
    "trafitto da un raggio di sole:\n"
    "\n"
    "ed è subito sera.\n"
    "\n"
    "— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)


def test_the_spec_example_verifies() -> None:
    verifier = NoteVerifier.from_vkey(SPEC_VKEY)
    assert verifier.name == "example.com/foo" and verifier.key_id == bytes.fromhex("530d903a")
    assert verifier.vkey() == SPEC_VKEY
    assert open_note(SPEC_NOTE, [verifier]) == ("This is an example message.\n", ["example.com/foo"])
    with pytest.raises(NoteError, match="does not verify"):
        open_note(SPEC_NOTE.replace("This is", "This was"), [verifier])


def test_the_text_ends_at_the_last_blank_line() -> None:
    text, lines = split_note(SPEC_POEM)
    assert (
        text == "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    )
    assert lines == [SPEC_POEM.split("\n\n")[-1]]


# ---------------------------------------------------------------------------------------------
# Go's note package (golang.org/x/mod sumdb/note/note_test.go at fe2ec04): TestNewSigner's private
# key "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz" is the
# Ed25519 seed below (after its type byte 0x01); TestSign's expected note; TestOpen's keys and
# signatures. Ed25519 is deterministic, so our bytes must equal Go's.

PETER_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
PETER_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
PETER = NoteVerifier.from_vkey(PETER_VKEY)
ENOCH = NoteVerifier.from_vkey(ENOCH_VKEY)


def test_we_sign_exactly_as_go_does() -> None:
    peter = NoteSigner("PeterNeumann", Ed25519PrivateKey.from_private_bytes(PETER_SEED))
    assert peter.vkey() == PETER_VKEY
    assert peter.key_id == bytes.fromhex("c74f20a3")
    assert sign_note(GO_TEXT, [peter]) == GO_TEXT + "\n" + PETER_SIG
    assert peter.sign(GO_TEXT) == PETER_SIG


def test_go_open_cases() -> None:
    note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert open_note(note, [PETER]) == (GO_TEXT, ["PeterNeumann"])  # Enoch unknown: ignored
    assert open_note(note, [PETER, ENOCH]) == (GO_TEXT, ["PeterNeumann", "EnochRoot"])
    with pytest.raises(NoteError, match="no trusted key"):
        open_note(note, [])
    # Repeated signatures by one key count once; a corrupt line of an unknown key is ignored.
    corrupt_enoch = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    assert open_note(GO_TEXT + "\n" + PETER_SIG * 2 + ENOCH_SIG * 2 + corrupt_enoch, [PETER]) == (
        GO_TEXT,
        ["PeterNeumann"],
    )
    # A corrupt signature of a known key sinks the whole note.
    with pytest.raises(NoteError, match="PeterNeumann\\+c74f20a3 does not verify"):
        open_note(GO_TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:], [PETER])
    with pytest.raises(NoteError, match="more than"):
        open_note(GO_TEXT + "\n" + PETER_SIG * (MAX_SIGNATURES + 1), [PETER])
    assert open_note(GO_TEXT + "\n" + PETER_SIG * MAX_SIGNATURES, [PETER])[1] == ["PeterNeumann"]


@pytest.mark.parametrize(
    "bad",
    [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + PETER_SIG,
        "\ud800" + GO_TEXT + "\n" + PETER_SIG,  # Go's "\xff": not UTF-8
        GO_TEXT
        + "\n"
        + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
    ],
)
def test_go_malformed_notes(bad: str) -> None:
    with pytest.raises(NoteError):
        open_note(bad, [PETER])
    with pytest.raises(NoteError):
        split_note(bad)


def test_go_verifier_key_manglings_are_refused() -> None:
    """TestNewVerifier: every proper substring and every byte bumped by one fails to parse."""
    b = PETER_VKEY
    for i in range(len(b) + 1):
        for j in range(i + 1, len(b) + 1):
            if (i, j) != (0, len(b)):
                with pytest.raises(NoteError):
                    NoteVerifier.from_vkey(b[i:j])
    for i in range(len(b)):
        with pytest.raises(NoteError):
            NoteVerifier.from_vkey(b[:i] + chr(ord(b[i]) + 1) + b[i + 1 :])
    with pytest.raises(NoteError):  # a key of the wrong length, with a key hash to match
        NoteVerifier.from_vkey("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
    with pytest.raises(NoteError):  # an unknown algorithm, with a key hash to match
        NoteVerifier.from_vkey("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


# ---------------------------------------------------------------------------------------------
# Our own notes: round trips, and what must not pass.

TEXT = "audit.example/log\n7\nsome text\n"


def test_sign_then_open_round_trips() -> None:
    a, b = signer("audit.example/a", 1), signer("audit.example/b", 2)
    note = sign_note(TEXT, [a, b])
    assert note.startswith(TEXT + "\n" + DASH + " audit.example/a ")
    assert note.count("\n") == TEXT.count("\n") + 3
    assert open_note(note, [a.verifier(), b.verifier()]) == (TEXT, ["audit.example/a", "audit.example/b"])
    assert open_note(note, [NoteVerifier.from_vkey(b.vkey())]) == (TEXT, ["audit.example/b"])
    assert split_note(note) == (TEXT, [a.sign(TEXT), b.sign(TEXT)])
    raw = base64.b64decode(a.sign(TEXT).split(" ")[2])
    assert raw[:4] == a.key_id == hashlib.sha256(b"audit.example/a\n\x01" + a.public).digest()[:4]
    assert len(raw) == 4 + 64


def test_texts_with_blank_lines_and_unicode_round_trip() -> None:
    a = signer("a.example", 1)
    for text in ("\n", "x\n\ny\n", "x\n\n", "ünïcødé — ✓\n", "tab\u00a0less but odd spaces \u3000\n"):
        assert open_note(sign_note(text, [a]), [a.verifier()]) == (text, ["a.example"])


def test_a_wrong_key_does_not_open_the_note() -> None:
    note = sign_note(TEXT, [signer("a.example", 1)])
    with pytest.raises(NoteError, match="no trusted key"):  # another key has another ID: unknown
        open_note(note, [signer("a.example", 2).verifier()])
    with pytest.raises(NoteError, match="no trusted key"):  # the same key under another name
        open_note(note, [NoteVerifier("b.example", key(1).public_key())])


def test_a_flipped_byte_in_the_text_or_the_signature_fails() -> None:
    a = signer("a.example", 1)
    note = sign_note(TEXT, [a])
    with pytest.raises(NoteError, match="does not verify"):
        open_note(note.replace("some text", "some test"), [a.verifier()])
    text, [line] = split_note(note)
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    for at in (4, 30, 67):
        bad = bytearray(raw)
        bad[at] ^= 1
        forged = text + "\n" + f"{DASH} a.example {base64.b64encode(bytes(bad)).decode()}\n"
        with pytest.raises(NoteError, match="does not verify"):
            open_note(forged, [a.verifier()])
    raw[0] ^= 1  # the key ID: now an unknown key
    forged = text + "\n" + f"{DASH} a.example {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(NoteError, match="no trusted key"):
        open_note(forged, [a.verifier()])


def test_a_short_or_long_signature_of_a_known_key_fails() -> None:
    a = signer("a.example", 1)
    text, [line] = split_note(sign_note(TEXT, [a]))
    raw = base64.b64decode(line.split(" ")[2])
    for bad in (raw[:-1], raw + b"\x00", raw[:5]):
        forged = text + "\n" + f"{DASH} a.example {base64.b64encode(bad).decode()}\n"
        with pytest.raises(NoteError, match="does not verify"):
            open_note(forged, [a.verifier()])
    with pytest.raises(NoteError, match="too short"):
        open_note(text + "\n" + f"{DASH} a.example {base64.b64encode(raw[:4]).decode()}\n", [a.verifier()])


def test_a_missing_blank_line_is_malformed() -> None:
    a = signer("a.example", 1)
    note = sign_note(TEXT, [a])
    with pytest.raises(NoteError, match="blank line"):
        open_note(note.replace("\n\n", "\n"), [a.verifier()])
    with pytest.raises(NoteError):
        open_note(note.replace("\n\n", "\n \n"), [a.verifier()])


@pytest.mark.parametrize("char", ["\x00", "\t", "\r", "\x1b", "\x0b", "\x0c", "\x1f"])
def test_control_characters_are_refused(char: str) -> None:
    a = signer("a.example", 1)
    with pytest.raises(NoteError, match="control"):
        sign_note(f"a{char}b\n", [a])
    with pytest.raises(NoteError, match="control"):
        a.sign(f"a{char}b\n")
    note = sign_note(TEXT, [a])
    with pytest.raises(NoteError, match="control"):
        open_note(char + note, [a.verifier()])
    with pytest.raises(NoteError, match="control"):
        open_note(note[:-1] + char + "\n", [a.verifier()])
    with pytest.raises(NoteError, match="control"):
        open_note(note.replace("\n", "\r\n"), [a.verifier()])


def test_text_must_end_with_a_newline_and_a_note_needs_a_signer() -> None:
    a = signer("a.example", 1)
    with pytest.raises(NoteError, match="newline"):
        sign_note("no newline", [a])
    with pytest.raises(NoteError, match="at least one"):
        sign_note(TEXT, [])
    with pytest.raises(NoteError, match="twice"):
        sign_note(TEXT, [a, signer("a.example", 1)])


@pytest.mark.parametrize(
    "name", ["", "a b", "a+b", "+", "a\u00a0b", "a\u3000b", "a\u2003b", "a\nb", "a\tb", "a\x00b"]
)
def test_bad_key_names_are_refused(name: str) -> None:
    with pytest.raises(NoteError, match="bad key name"):
        NoteSigner(name, key(1))
    with pytest.raises(NoteError, match="bad key name"):
        NoteVerifier(name, key(1).public_key())
    with pytest.raises(NoteError, match="bad key name"):
        cosign(Checkpoint("o", 0, EMPTY_ROOT), name, key(1), 0)


def test_a_known_key_that_fails_sinks_the_note_even_if_another_verifies() -> None:
    a, b = signer("a.example", 1), signer("b.example", 2)
    good = sign_note(TEXT, [a])
    # b's line is made for other text: b is known, so its failure rejects the whole note.
    bad_b = b.sign("other text\n")
    with pytest.raises(NoteError, match=r"b\.example\+[0-9a-f]{8} does not verify"):
        open_note(good + bad_b, [a.verifier(), b.verifier()])
    assert open_note(good + bad_b, [a.verifier()]) == (TEXT, ["a.example"])  # b unknown: ignored


def test_only_unknown_keys_is_refused_and_unknown_keys_beside_a_known_one_are_ignored() -> None:
    a, u1, u2 = signer("a.example", 1), signer("u1.example", 3), signer("u2.example", 4)
    note = sign_note(TEXT, [u1, a, u2])
    with pytest.raises(NoteError, match="no trusted key"):
        open_note(note, [])
    with pytest.raises(NoteError, match="no trusted key"):
        open_note(sign_note(TEXT, [u1, u2]), [a.verifier()])
    assert open_note(note, [a.verifier()]) == (TEXT, ["a.example"])
    # An unknown line that shares a name (but not the ID) with a known key is ignored too.
    impostor = NoteSigner("a.example", key(9)).sign("anything\n")
    assert open_note(note + impostor, [a.verifier()]) == (TEXT, ["a.example"])
    # And a line of another signature type (a cosignature, key ID byte 0x04) under a known name.
    cosig = cosign(Checkpoint("a.example", 1, EMPTY_ROOT), "a.example", key(1), 5)
    assert open_note(note + cosig, [a.verifier()]) == (TEXT, ["a.example"])


def test_sixteen_and_more_signatures_are_accepted() -> None:
    signers = [signer(f"w{i}.example", i) for i in range(20)]
    note = sign_note(TEXT, signers)
    assert open_note(note, [s.verifier() for s in signers])[1] == [s.name for s in signers]
    assert open_note(note, [signers[17].verifier()])[1] == ["w17.example"]


def test_ambiguous_trusted_keys_are_refused() -> None:
    a = signer("a.example", 1)
    twin = NoteVerifier("a.example", key(2).public_key())
    twin.key_id = a.key_id  # an ID collision (4 bytes: cheap to find for an attacker)
    with pytest.raises(NoteError, match="two trusted keys"):
        open_note(sign_note(TEXT, [a]), [a.verifier(), twin])
    assert open_note(sign_note(TEXT, [a]), [a.verifier(), a.verifier()])[1] == ["a.example"]


def test_non_canonical_base64_is_refused() -> None:
    a = signer("a.example", 1)
    note = sign_note(TEXT, [a])
    text, [line] = split_note(note)
    b64 = line.split(" ")[2].rstrip("\n")
    assert b64.endswith("=") and not b64.endswith("==")  # 68 bytes: one padding character
    last = b64[-2]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    sloppy = (
        alphabet[alphabet.index(last) | 1]
        if alphabet.index(last) % 2 == 0
        else alphabet[alphabet.index(last) - 1]
    )
    assert base64.b64decode(b64[:-2] + sloppy + "=") == base64.b64decode(b64)  # same bytes...
    with pytest.raises(NoteError, match="canonical"):  # ...other spelling
        open_note(text + "\n" + f"{DASH} a.example {b64[:-2]}{sloppy}=\n", [a.verifier()])
    with pytest.raises(NoteError, match="base64"):
        open_note(text + "\n" + f"{DASH} a.example {b64[:-1]}\n", [a.verifier()])


def test_weak_public_keys_are_refused() -> None:
    """An identity-point key verifies R = identity, S = 0 for every message under OpenSSL."""
    identity = bytes([1]) + bytes(31)
    forged = identity + bytes(32)
    Ed25519PublicKey.from_public_bytes(identity).verify(forged, b"any message")  # the danger
    for weak in (identity, bytes(32), bytes([0xEC]) + b"\xff" * 30 + b"\x7f", b"\xff" * 31 + b"\x7f"):
        with pytest.raises(NoteError, match="weak"):
            NoteVerifier("a.example", Ed25519PublicKey.from_public_bytes(weak))
        raw = bytes([1]) + weak
        kid = hashlib.sha256(b"a.example\n" + raw).digest()[:4].hex()
        with pytest.raises(NoteError, match="weak"):
            NoteVerifier.from_vkey(f"a.example+{kid}+{base64.b64encode(raw).decode()}")


# ---------------------------------------------------------------------------------------------
# c2sp.org/tlog-checkpoint (tlog-checkpoint.md at 5ba5ee8): the spec's example body, verbatim.

SPEC_CHECKPOINT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_CHECKPOINT_NOTE = (
    SPEC_CHECKPOINT + "\n— example.com/behind-the-sofa "
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)


def test_the_spec_checkpoint_parses_and_formats_back() -> None:
    text, lines = split_note(SPEC_CHECKPOINT_NOTE)
    cp = Checkpoint.parse(text)
    assert cp == Checkpoint(
        "example.com/behind-the-sofa",
        20852163,
        base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="),
    )
    assert cp.body() == SPEC_CHECKPOINT and len(lines) == 1


def test_checkpoint_round_trips_at_the_edges() -> None:
    for cp in (
        Checkpoint("o", 0, EMPTY_ROOT),
        Checkpoint("kyc-gw.example/audit/2026h2", 1, leaf_hash(b"x")),
        Checkpoint("rekor.sigstore.dev - 1193050959916656506", (1 << 64) - 1, b"\xff" * 32),
        Checkpoint("ünï.example/log", 10**12, bytes(32)),
    ):
        assert Checkpoint.parse(cp.body()) == cp


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("o\n020852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "leading zeros"),
        ("o\n00\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "leading zeros"),
        ("o\n+5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "leading zeros"),
        ("o\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "leading zeros"),
        ("o\n 5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "leading zeros"),
        ("o\n5 \nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "leading zeros"),
        ("o\n1_000\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "leading zeros"),
        ("o\n\u0665\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "leading zeros"),  # Arabic-Indic 5
        ("o\n0x10\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "leading zeros"),
        ("o\n\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "leading zeros"),
        ("o\n18446744073709551616\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "out of range"),
        ("o\n" + "9" * 5000 + "\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "out of range"),
        ("o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n", "base64"),  # no padding
        ("o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n", "canonical"),  # unused bits set
        ("o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I= \n", "base64"),
        ("o\n5\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n", "base64"),  # URL alphabet
        ("o\n5\nAAAA\n", "32 bytes"),
        ("o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxqw==\n", "32 bytes"),  # 31 bytes
        ("o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2IA\n", "32 bytes"),  # 33 bytes
        ("o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\nextension\n", "extension"),
        ("o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n", "extension"),
        ("o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", "newline"),  # no final newline
        ("o\n5\n", "3 lines"),
        ("\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "origin"),
        ("o\x01\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "control"),
        ("o\r\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "control"),
    ],
)
def test_checkpoint_parsing_is_strict(text: str, why: str) -> None:
    with pytest.raises(NoteError, match=why if why != "leading zeros" else "without leading zeros"):
        Checkpoint.parse(text)


def test_checkpoint_fields_are_checked() -> None:
    with pytest.raises(NoteError, match="origin"):
        Checkpoint("", 0, EMPTY_ROOT)
    with pytest.raises(NoteError, match="origin"):
        Checkpoint("a\nb", 0, EMPTY_ROOT)
    for size in (-1, 1 << 64, True):
        with pytest.raises(NoteError, match="size"):
            Checkpoint("o", size, EMPTY_ROOT)
    for root in (b"", EMPTY_ROOT[:31], EMPTY_ROOT + b"\x00", bytearray(EMPTY_ROOT)):
        with pytest.raises(NoteError, match="32 bytes"):
            Checkpoint("o", 0, root)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# c2sp.org/tlog-cosignature (tlog-cosignature.md at 5ba5ee8): cosignature/v1 over Ed25519.

SPEC_WITNESS_LINE = (
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5"
    "nNo0xUe+mbIUBkBIfZ+qnA==\n"
)
# The spec's "Ed25519 signed message" example, verbatim.
SPEC_COSIGNED_MESSAGE = (
    b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
    b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)


# Produced once by an independent implementation, aics-tlog 0.2.1 (sign_note, sign_cosignature,
# cosignature_vkey; it needs Python 3.12, so it is not a dev dependency), from the spec's checkpoint
# and the keys key(1) and key(7) below. Ed25519 is deterministic: ours must be the same bytes.
AICS_LOG_LINE = (
    "— example.com/behind-the-sofa "
    "veDoFVMDQkgEI3LrLB+Z4MQPfx5SmDO0I8hyfNCdv9ue2peKV0clMCcnCDNa7uOtdLLp7LCz+ujLlrdEkM6MRLXULQY=\n"
)
AICS_COSIGNATURE_LINE = (
    "— witness.example.com/w1 "
    "Xjy6KAAAAABkGFDLvy/rj1UUZzrEQM2I0TcCA0I4X9PsLZRZd3LhD+HIhLKdlaORXfIG4kZAnIuKoQj0CRnNpnQhF42K/fHgIej5Bg==\n"
)
AICS_COSIGNER_VKEY = "witness.example.com/w1+5e3cba28+BLYYRiQdvy0auu+TTag1Gs/DgV419xVbH9/IhUYtOUN1"


def test_we_write_the_same_bytes_as_another_implementation() -> None:
    cp = Checkpoint.parse(SPEC_CHECKPOINT)
    log = signer("example.com/behind-the-sofa", 1)
    assert sign_note(cp.body(), [log]) == SPEC_CHECKPOINT + "\n" + AICS_LOG_LINE
    assert cosign(cp, "witness.example.com/w1", key(7), 1679315147) == AICS_COSIGNATURE_LINE
    assert cosignature_vkey("witness.example.com/w1", key(7)) == AICS_COSIGNER_VKEY
    note = SPEC_CHECKPOINT + "\n" + AICS_LOG_LINE + AICS_COSIGNATURE_LINE
    assert open_note(note, [log.verifier()]) == (SPEC_CHECKPOINT, [log.name])
    assert verify_cosignature(cp, split_note(note)[1][1], AICS_COSIGNER_VKEY) == 1679315147


def test_the_spec_cosignature_carries_its_time_after_the_key_id() -> None:
    raw = base64.b64decode(SPEC_WITNESS_LINE.split(" ")[2])
    assert len(raw) == 4 + 8 + 64
    assert int.from_bytes(raw[4:12], "big") == 1679315147  # the time of the spec's message example
    text, lines = split_note(SPEC_CHECKPOINT_NOTE + SPEC_WITNESS_LINE)
    assert text == SPEC_CHECKPOINT and lines[1] == SPEC_WITNESS_LINE


def test_cosign_signs_exactly_the_spec_message() -> None:
    cp = Checkpoint.parse(SPEC_CHECKPOINT)
    w = key(7)
    line = cosign(cp, "witness.example.com/w1", w, 1679315147)
    assert line.startswith("— witness.example.com/w1 ") and line.endswith("\n")
    raw = base64.b64decode(line.split(" ")[2])
    assert (
        raw[:4]
        == hashlib.sha256(b"witness.example.com/w1\n\x04" + w.public_key().public_bytes_raw()).digest()[:4]
    )
    assert raw[4:12] == (1679315147).to_bytes(8, "big")
    w.public_key().verify(raw[12:], SPEC_COSIGNED_MESSAGE)  # raises if the bytes differ
    assert verify_cosignature(cp, line, cosignature_vkey("witness.example.com/w1", w)) == 1679315147


def test_cosignature_round_trips_and_fails_on_anything_else() -> None:
    cp = Checkpoint("kyc-gw.example/audit/2026h2", 42, leaf_hash(b"root"))
    w = key(7)
    vkey = cosignature_vkey("w.example", w.public_key())
    assert base64.b64decode(vkey.split("+", 2)[2]) == b"\x04" + w.public_key().public_bytes_raw()
    for t in (0, 1, 1_700_000_000, (1 << 63) - 1):
        line = cosign(cp, "w.example", w, t)
        assert verify_cosignature(cp, line, vkey) == t
        assert verify_cosignature(cp, line[:-1], vkey) == t
    line = cosign(cp, "w.example", w, 1_700_000_000)
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(Checkpoint(cp.origin, 43, cp.root), line, vkey)
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(Checkpoint(cp.origin + "x", 42, cp.root), line, vkey)
    with pytest.raises(NoteError, match="signed by key"):
        verify_cosignature(cp, line, cosignature_vkey("w.example", key(8)))
    with pytest.raises(NoteError, match=r"signed by 'v\.example'"):
        verify_cosignature(cp, cosign(cp, "v.example", w, 1), vkey)
    with pytest.raises(NoteError, match="signature type 0x04"):  # a note key (0x01) is not a cosigner key
        verify_cosignature(cp, line, NoteSigner("w.example", w).vkey())
    with pytest.raises(NoteError, match="signed by key"):  # a note signature (0x01) is not a cosignature
        verify_cosignature(cp, NoteSigner("w.example", w).sign(cp.body()), vkey)
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[11] ^= 1  # the time is signed
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(cp, f"— w.example {base64.b64encode(bytes(raw)).decode()}\n", vkey)
    raw[11] ^= 1
    raw[4] = 0x80  # past 2**63 - 1
    with pytest.raises(NoteError, match="2\\*\\*63"):
        verify_cosignature(cp, f"— w.example {base64.b64encode(bytes(raw)).decode()}\n", vkey)
    with pytest.raises(NoteError, match="u64 time"):
        verify_cosignature(cp, f"— w.example {base64.b64encode(bytes(raw[:-1])).decode()}\n", vkey)
    for bad in (-1, 1 << 63, True):
        with pytest.raises(NoteError, match="2\\*\\*63"):
            cosign(cp, "w.example", w, bad)
    for bad_line in ("w.example abc\n", "— w.example\n", "— w.example a b\n", line + line):
        with pytest.raises(NoteError):
            verify_cosignature(cp, bad_line, vkey)


def test_a_cosigned_checkpoint_opens_with_the_log_key_and_each_witness_line_checks() -> None:
    cp = Checkpoint("kyc-gw.example/audit/2026h2", 1000, leaf_hash(b"r"))
    log = signer("kyc-gw.example/audit/2026h2", 1)
    witnesses = [("w1.example", key(11)), ("w2.example", key(12))]
    note = sign_note(cp.body(), [log]) + "".join(
        cosign(cp, n, k, 1_700_000_000 + i) for i, (n, k) in enumerate(witnesses)
    )
    text, names = open_note(note, [log.verifier()])
    assert Checkpoint.parse(text) == cp and names == [log.name]
    _, lines = split_note(note)
    assert [
        verify_cosignature(cp, lines[i + 1], cosignature_vkey(n, k)) for i, (n, k) in enumerate(witnesses)
    ] == [
        1_700_000_000,
        1_700_000_001,
    ]


# ---------------------------------------------------------------------------------------------
# c2sp.org/tlog-proof@v1 (tlog-proof.md at 5ba5ee8).

SPEC_PROOF_HEAD = (
    "c2sp.org/tlog-proof@v1\n"
    "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
    "index 73894\n"
    "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
    "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
    "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"
    "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"
    "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"
)


def test_the_spec_proof_layout_reads_and_writes_back() -> None:
    # The spec's example elides its signatures ("hI2DJw[...]"): its lines above, our checkpoint.
    note = sign_note(
        "example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n", [signer("l", 1)]
    )
    index, proof, checkpoint, extra = parse_proof(SPEC_PROOF_HEAD + "\n" + note)
    assert index == 73894 and len(proof) == 5 and checkpoint == note
    assert extra is not None and extra.startswith(b"age-v1.2.1-darwin-arm64.tar.gz")
    assert format_proof(index, proof, checkpoint, extra) == SPEC_PROOF_HEAD + "\n" + note


def test_a_proof_round_trips_and_verifies_offline() -> None:
    """The spec's "Verifying a tlog proof", end to end: leaf hash, log signature, cosignatures,
    inclusion."""
    entries = [b"event %d" % i for i in range(1000)]
    hashes = [leaf_hash(e) for e in entries]

    def perfect(level: int, index: int) -> bytes:
        from gateway.audit.merkle import root

        return root(hashes[index << level : (index + 1) << level])

    def subtree(start: int, end: int) -> bytes:
        return range_hash(start, end, perfect)

    log = signer("kyc-gw.example/audit/2026h2", 1)
    cp = Checkpoint(log.name, 1000, subtree(0, 1000))
    note = sign_note(cp.body(), [log]) + cosign(cp, "w.example", key(5), 1_700_000_000)
    for index, extra in ((0, None), (999, b"opaque \x00\xff"), (512, b"")):
        text = format_proof(index, inclusion_proof(index, 1000, subtree), note, extra)
        got_index, proof, got_note, got_extra = parse_proof(text)
        assert (got_index, got_note, got_extra) == (index, note, extra)
        body, _ = open_note(got_note, [log.verifier()])
        checkpoint = Checkpoint.parse(body)
        assert checkpoint.origin == log.name
        assert verify_cosignature(
            checkpoint, split_note(got_note)[1][1], cosignature_vkey("w.example", key(5))
        )
        verify_inclusion(got_index, checkpoint.size, leaf_hash(entries[index]), proof, checkpoint.root)


def test_a_proof_of_a_one_leaf_tree_has_no_hashes() -> None:
    note = sign_note(Checkpoint("o", 1, leaf_hash(b"a")).body(), [signer("o", 1)])
    text = format_proof(0, [], note)
    assert text == "c2sp.org/tlog-proof@v1\nindex 0\n\n" + note
    assert parse_proof(text) == (0, [], note, None)


NOTE = sign_note(Checkpoint("o", 2, EMPTY_ROOT).body(), [signer("o", 1)])
H = base64.b64encode(EMPTY_ROOT).decode()
assert H.endswith("U=")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (f"c2sp.org/tlog-proof@v2\nindex 1\n{H}\n\n{NOTE}", "starts with"),
        (f"index 1\n{H}\n\n{NOTE}", "starts with"),
        (f"c2sp.org/tlog-proof@v1\n{H}\n\n{NOTE}", "index"),
        (f"c2sp.org/tlog-proof@v1\nindex 01\n{H}\n\n{NOTE}", "leading zeros"),
        (f"c2sp.org/tlog-proof@v1\nindex -1\n{H}\n\n{NOTE}", "leading zeros"),
        (f"c2sp.org/tlog-proof@v1\nindex  1\n{H}\n\n{NOTE}", "leading zeros"),
        (f"c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\n{NOTE}", "out of range"),
        (f"c2sp.org/tlog-proof@v1\nindex 1\nextra AAAA\n{H}\n\n{NOTE}", "base64"),  # extra after index
        (f"c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n{H}\n\n{NOTE}", "base64"),
        (f"c2sp.org/tlog-proof@v1\nindex 1\n{H[:-2]}V=\n\n{NOTE}", "canonical"),  # H ends "U="
        (f"c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\n{NOTE}", "32 bytes"),
        (f"c2sp.org/tlog-proof@v1\nindex 1\n{H} \n\n{NOTE}", "base64"),
        (f"c2sp.org/tlog-proof@v1\nindex 1\n{H}\n{NOTE}", "base64|blank line"),  # no blank line
        (f"c2sp.org/tlog-proof@v1\nindex 1\n{H}\n\n", "blank line|signature"),  # no checkpoint
        (f"c2sp.org/tlog-proof@v1\nindex 1\n{H}\n\no\n2\n{H}\n", "blank line"),  # an unsigned one
        (f"c2sp.org/tlog-proof@v1\nindex 1\n{H}\n\n{NOTE}trailing\n", "signature line"),
        (f"c2sp.org/tlog-proof@v1\r\nindex 1\n{H}\n\n{NOTE}", "control"),
        ("c2sp.org/tlog-proof@v1\nindex 1\n" + f"{H}\n" * 65 + f"\n{NOTE}", "at most 64"),
    ],
)
def test_proof_parsing_is_strict(text: str, why: str) -> None:
    with pytest.raises(NoteError, match=why):
        parse_proof(text)


def test_format_proof_refuses_what_it_could_not_read_back() -> None:
    for bad_index in (-1, 1 << 64, True):
        with pytest.raises(NoteError, match="index"):
            format_proof(bad_index, [], NOTE)
    with pytest.raises(NoteError, match="32 bytes"):
        format_proof(1, [EMPTY_ROOT[:31]], NOTE)
    with pytest.raises(NoteError, match="at most 64"):
        format_proof(1, [EMPTY_ROOT] * 65, NOTE)
    with pytest.raises(NoteError):
        format_proof(1, [EMPTY_ROOT], "o\n2\n" + H + "\n")  # not a signed note
