"""C2SP signed notes, checkpoints, Ed25519 cosignatures and tlog-proof bundles, byte for byte.

These are the formats Go's checksum database, Sigsum, Sigstore's Rekor v2, Tessera and Sunlight
logs and the witness network speak, so anyone can check our checkpoints with their tools:

- c2sp.org/signed-note: a text ending in a newline, a blank line, then one line per signature,
  ``— <key name> base64(key ID || signature)`` (U+2014 EM DASH). Ed25519 keys (type ``0x01``),
  key ID ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``, verifier keys
  ``<name>+<hex key ID>+base64(0x01 || public key)``.
- c2sp.org/tlog-checkpoint: the note text ``<origin>\\n<size>\\n<base64 root>\\n``.
- c2sp.org/tlog-cosignature: a witness's ``cosignature/v1`` Ed25519 signature (type ``0x04``) over
  ``cosignature/v1\\ntime <t>\\n`` and the checkpoint, carried as ``u64 time || signature``.
- c2sp.org/tlog-proof@v1: an entry's index, its inclusion proof and the (cosigned) checkpoint, as
  one offline-checkable text.

Parsing is strict: a note, checkpoint or proof that another tool would have to guess about is
refused with :class:`NoteError` rather than read generously. Base64 is RFC 4648 §4 with padding and
must be canonical (what any encoder writes); decimal numbers have no leading zeros.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "MAX_SIGNATURES",
    "PROOF_HEADER",
    "SIG_COSIGNATURE_V1",
    "SIG_ED25519",
    "Checkpoint",
    "NoteError",
    "NoteSigner",
    "NoteVerifier",
    "cosign",
    "cosignature_vkey",
    "format_proof",
    "open_note",
    "parse_proof",
    "sign_note",
    "split_note",
    "verify_cosignature",
]

SIG_ED25519 = 0x01
"""signed-note signature type of an Ed25519 note signature."""
SIG_COSIGNATURE_V1 = 0x04
"""signed-note signature type of a tlog-cosignature ``cosignature/v1`` Ed25519 cosignature."""
MAX_SIGNATURES = 100
"""Signature lines :func:`open_note` reads at most. The spec asks for at least 16 and a limit;
100 is Go's (golang.org/x/mod/sumdb/note), so a note Go opens, we open."""
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
"""The first line of a tlog-proof."""

_DASH = "\u2014 "  # em dash, space: how every signature line starts
_MAX_U64 = (1 << 64) - 1
_MAX_TIMESTAMP = (1 << 63) - 1  # tlog-cosignature: "MUST NOT exceed 2^63 - 1"
_MAX_PROOF_HASHES = 64  # the deepest path in a tree of at most 2**64 leaves
_HASH_SIZE = 32
_ED25519_SIGNATURE = 64

# Any ASCII control character but the newline (signed-note: "MUST NOT contain"), and any lone
# surrogate, which a Python str can hold but UTF-8 cannot encode.
_FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\ud800-\udfff]")
_DECIMAL = re.compile("0|[1-9][0-9]*")  # ASCII only, no sign, no leading zeros
_HEX_ID = re.compile("[0-9a-f]{8}")


# The y-coordinates (sign bit cleared) of the points of small order on edwards25519: 0, 1, p - 1 and
# the two of order 8 (libsodium's ge25519_has_small_order list). Under such a "public key" one
# signature verifies for every message (R = the point, S = 0), and OpenSSL, under `cryptography`,
# accepts it; a key of 32 zero bytes, a natural placeholder in a configuration, is one of them.
_ED25519_P = (1 << 255) - 19
_SMALL_ORDER_Y = frozenset(
    [
        0,
        1,
        _ED25519_P - 1,
        int.from_bytes(
            bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"), "little"
        ),
        int.from_bytes(
            bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"), "little"
        ),
    ]
)


class NoteError(ValueError):
    """A note, key, checkpoint, cosignature or proof that is malformed or does not verify."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    """Strict RFC 4648 §4 base64: the alphabet, padding, and canonical (re-encodes to ``text``)."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise NoteError(f"{what} is not base64") from None
    # b64decode accepts unused low bits set in the last character ("AA==" and "AB==" both decode
    # to b"\x00"): two spellings of one value, which a strict reader refuses.
    if _b64(data) != text:
        raise NoteError(f"{what} is not canonical base64")
    return data


def _decimal(text: str, what: str, limit: int) -> int:
    if not _DECIMAL.fullmatch(text):
        raise NoteError(f"{what} must be a decimal number without leading zeros, not {text[:30]!r}")
    # The length test first: int() of a string of thousands of digits raises (CPython's limit).
    if len(text) > len(str(limit)) or (value := int(text)) > limit:
        raise NoteError(f"{what} {text[:30]} is out of range")
    return value


def _check_text(text: str, what: str) -> None:
    if _FORBIDDEN.search(text):
        raise NoteError(f"{what} holds a control character or is not valid UTF-8")


def _check_name(name: str) -> None:
    """signed-note: key names are non-empty, with no Unicode space and no ``+``."""
    if not name or "+" in name or any(c.isspace() for c in name) or _FORBIDDEN.search(name):
        raise NoteError(f"bad key name {name!r}: it must be non-empty, without spaces or '+'")


def _key_id(name: str, sig_type: int, public: bytes) -> bytes:
    """signed-note: ``SHA-256(key name || 0x0A || signature type || public key)[:4]``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public).digest()[:4]


def _vkey(name: str, sig_type: int, public: bytes) -> str:
    return f"{name}+{_key_id(name, sig_type, public).hex()}+{_b64(bytes([sig_type]) + public)}"


def _parse_vkey(vkey: str, sig_type: int) -> tuple[str, bytes, bytes]:
    """signed-note "Verifier keys": ``(name, key ID, public key)`` of an Ed25519 vkey of ``sig_type``."""
    # The name holds no '+', the hex ID none either; the base64 part may (it is in the alphabet).
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise NoteError("a verifier key is <name>+<hex key ID>+<base64 key>")
    name, hex_id, b64 = parts
    _check_name(name)
    if not _HEX_ID.fullmatch(hex_id):
        raise NoteError(f"bad key ID {hex_id!r}: 8 lowercase hex digits")
    material = _unb64(b64, "the verifier key")
    if not material or material[0] != sig_type:
        raise NoteError(f"the verifier key is not of signature type 0x{sig_type:02x}")
    public = material[1:]
    if len(public) != 32:
        raise NoteError(f"an Ed25519 public key is 32 bytes, not {len(public)}")
    _check_public(public)
    key_id = bytes.fromhex(hex_id)
    if key_id != _key_id(name, sig_type, public):
        raise NoteError(f"the key ID {hex_id} does not match the key named {name!r}")
    return name, key_id, public


def _check_public(public: bytes) -> None:
    """Refuse an Ed25519 public key that verifies forgeries: small order, or not canonically encoded
    (y >= p, another spelling of a small value)."""
    y = int.from_bytes(public, "little") & ((1 << 255) - 1)
    if y >= _ED25519_P or y in _SMALL_ORDER_Y:
        raise NoteError("a weak Ed25519 public key (small order or non-canonical): refused")


def _public_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes_raw()


def _check_note_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("a note's text must end with a newline")
    _check_text(text, "the note's text")


class NoteSigner:
    """An Ed25519 note key (signed-note signature type ``0x01``) with its name."""

    __slots__ = ("key", "key_id", "name", "public")

    name: str
    key_id: bytes
    """``SHA-256(name || 0x0A || 0x01 || public key)[:4]`` (signed-note "Ed25519 signatures")."""
    public: bytes
    """The 32-byte RFC 8032 public key."""
    key: Ed25519PrivateKey

    def __init__(self, name: str, key: Ed25519PrivateKey) -> None:
        _check_name(name)
        self.name = name
        self.key = key
        self.public = _public_bytes(key)
        self.key_id = _key_id(name, SIG_ED25519, self.public)

    def vkey(self) -> str:
        """signed-note "Verifier keys": ``<name>+<hex key ID>+<base64(0x01 || public key)>``."""
        return _vkey(self.name, SIG_ED25519, self.public)

    def verifier(self) -> NoteVerifier:
        """The :class:`NoteVerifier` of this key."""
        return NoteVerifier(self.name, self.key.public_key())

    def sign(self, text: str) -> str:
        """signed-note: the signature line ``— <name> <base64(key ID || signature)>\\n`` for ``text``.

        ``text`` is the whole note text, final newline included (and the separating blank line
        not).
        """
        _check_note_text(text)
        return f"{_DASH}{self.name} {_b64(self.key_id + self.key.sign(text.encode()))}\n"

    def __repr__(self) -> str:
        return f"NoteSigner({self.name}+{self.key_id.hex()})"


class NoteVerifier:
    """A trusted Ed25519 note key (type ``0x01``): a name and a public key."""

    __slots__ = ("_key", "key_id", "name", "public")

    name: str
    key_id: bytes
    public: bytes

    def __init__(self, name: str, key: Ed25519PublicKey) -> None:
        _check_name(name)
        self.name = name
        self._key = key
        self.public = key.public_bytes_raw()
        _check_public(self.public)
        self.key_id = _key_id(name, SIG_ED25519, self.public)

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Parse a signed-note verifier key of type ``0x01``; its key ID must match name and key."""
        name, _, public = _parse_vkey(vkey, SIG_ED25519)
        return cls(name, Ed25519PublicKey.from_public_bytes(public))

    def vkey(self) -> str:
        """The verifier key text (as :meth:`NoteSigner.vkey`)."""
        return _vkey(self.name, SIG_ED25519, self.public)

    def verify(self, text: str, signature: bytes) -> bool:
        """Whether ``signature`` (the Ed25519 signature, *without* the 4-byte key ID in front) signs
        ``text`` (RFC 8032 over the UTF-8 note text)."""
        if len(signature) != _ED25519_SIGNATURE:
            return False
        try:
            self._key.verify(signature, text.encode())
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        return f"NoteVerifier({self.name}+{self.key_id.hex()})"


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """signed-note "Format": ``text``, a blank line, and one signature line per signer, in order.

    ``text`` must end with a newline and hold no control character but newlines. At least one
    signer, each key once.
    """
    _check_note_text(text)
    if not signers:
        raise NoteError("a note needs at least one signature")
    keys = {(s.name, s.key_id) for s in signers}
    if len(keys) != len(signers):
        raise NoteError("the same key signs twice")
    return text + "\n" + "".join(s.sign(text) for s in signers)


def _split(note: str) -> tuple[str, list[tuple[str, bytes, str]]]:
    """The text and the ``(name, key ID || signature, line)`` of each signature line of ``note``."""
    _check_text(note, "the note")
    # The text is separated from the signatures by the note's *last* blank line (the text may hold
    # blank lines of its own).
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("a note has a blank line between its text and its signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    if not block or not block.endswith("\n"):
        raise NoteError("a note ends with signature lines, each ending with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"more than {MAX_SIGNATURES} signatures")
    found = []
    for line in lines:
        if not line.startswith(_DASH):
            raise NoteError(f"not a signature line: {line[:40]!r}")
        name, space, b64 = line[len(_DASH) :].partition(" ")
        if not space:
            raise NoteError("a signature line is '\u2014 <key name> <base64 signature>'")
        _check_name(name)
        raw = _unb64(b64, f"the signature of {name}")
        if len(raw) < 5:  # a key ID and at least one byte of signature
            raise NoteError(f"the signature of {name} is too short")
        found.append((name, raw, line + "\n"))
    return text, found


def split_note(note: str) -> tuple[str, list[str]]:
    """Take a signed note apart without verifying it: its text and its signature lines (each with
    its newline), as signed-note "Format" lays them out. Raises :class:`NoteError` if malformed.

    For a checkpoint's cosignatures: :func:`open_note` checks the log's signature, then each
    witness line here goes to :func:`verify_cosignature`.
    """
    text, found = _split(note)
    return text, [line for _, _, line in found]


def open_note(note: str, verifiers: Sequence[NoteVerifier]) -> tuple[str, list[str]]:
    """Open a signed note (signed-note "Signatures"): ``(text, names of the known keys that signed)``.

    A signature whose key name *and* key ID match a known key must verify, or the whole note is
    refused; signatures of unknown keys (name or ID unknown) are ignored; and at least one known
    key must have signed. A key that signs twice is listed once. Raises :class:`NoteError`.
    """
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for v in verifiers:
        other = known.setdefault((v.name, v.key_id), v)
        if other.public != v.public:
            raise NoteError(f"two trusted keys are named {v.name}+{v.key_id.hex()}")
    text, found = _split(note)
    signed: list[str] = []
    for name, raw, _ in found:
        verifier = known.get((name, raw[:4]))
        if verifier is None:
            continue
        if not verifier.verify(text, raw[4:]):
            raise NoteError(f"the signature of {name}+{raw[:4].hex()} does not verify")
        if name not in signed:
            signed.append(name)
    if not signed:
        raise NoteError("no trusted key signed the note")
    return text, signed


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """c2sp.org/tlog-checkpoint: the log's origin, its tree size and its RFC 6962 root.

    Extension lines are not supported: we never write them (monitors cannot audit them, and the
    spec advises against them), and a checkpoint that has some is refused rather than half-read.
    """

    origin: str
    size: int
    root: bytes

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise NoteError("a checkpoint's origin is one non-empty line")
        _check_text(self.origin, "the origin")
        if isinstance(self.size, bool) or not 0 <= self.size <= _MAX_U64:
            raise NoteError(f"bad tree size {self.size}")
        if not isinstance(self.root, bytes) or len(self.root) != _HASH_SIZE:
            raise NoteError(f"a root hash is {_HASH_SIZE} bytes")

    def body(self) -> str:
        """The note text: ``<origin>\\n<size>\\n<base64 root>\\n``."""
        return f"{self.origin}\n{self.size}\n{_b64(self.root)}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Read a checkpoint's note text (as :func:`open_note` returns it), strictly: three lines,
        each ending with a newline; a size without leading zeros; a canonical base64 32-byte root;
        no extension line."""
        if not text.endswith("\n"):
            raise NoteError("a checkpoint's text ends with a newline")
        lines = text[:-1].split("\n")
        if len(lines) != 3:
            raise NoteError(f"a checkpoint's text is 3 lines (no extension lines), not {len(lines)}")
        origin, size, root = lines
        return cls(origin, _decimal(size, "the tree size", _MAX_U64), _unb64(root, "the root hash"))


def _cosignature_message(checkpoint: Checkpoint, timestamp: int) -> bytes:
    """tlog-cosignature "Ed25519 signed message": the header, the time line, the checkpoint body."""
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint.body()}".encode()


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise NoteError(f"a cosignature's time is 0 to 2**63 - 1 seconds, not {timestamp}")


def cosignature_vkey(name: str, key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The verifier key of a ``cosignature/v1`` cosigner: ``<name>+<hex key ID>+base64(0x04 || key)``."""
    _check_name(name)
    return _vkey(name, SIG_COSIGNATURE_V1, _public_bytes(key))


def cosign(checkpoint: Checkpoint, signer_name: str, key: Ed25519PrivateKey, timestamp: int) -> str:
    """tlog-cosignature ``cosignature/v1``: the signature line a cosigner adds to ``checkpoint``.

    Signs ``cosignature/v1\\ntime <timestamp>\\n`` followed by the checkpoint body, with the key ID
    of type ``0x04``; the signature is ``u64 big-endian timestamp || 64-byte Ed25519 signature``.
    ``timestamp`` is POSIX seconds, from the caller (this module reads no clock).
    """
    _check_name(signer_name)
    _check_timestamp(timestamp)
    key_id = _key_id(signer_name, SIG_COSIGNATURE_V1, _public_bytes(key))
    signature = key.sign(_cosignature_message(checkpoint, timestamp))
    return f"{_DASH}{signer_name} {_b64(key_id + timestamp.to_bytes(8, 'big') + signature)}\n"


def verify_cosignature(checkpoint: Checkpoint, line: str, vkey: str) -> int:
    """Check a ``cosignature/v1`` signature line (with or without its newline) against the cosigner's
    verifier key (type ``0x04``); return the cosignature's timestamp. Raises :class:`NoteError` if
    the line is not this cosigner's, is malformed, or does not verify."""
    name, key_id, public = _parse_vkey(vkey, SIG_COSIGNATURE_V1)
    if line.endswith("\n"):
        line = line[:-1]
    if not line.startswith(_DASH) or "\n" in line:
        raise NoteError("not a signature line")
    line_name, space, b64 = line[len(_DASH) :].partition(" ")
    if not space:
        raise NoteError("a signature line is '\u2014 <key name> <base64 signature>'")
    if line_name != name:
        raise NoteError(f"the line is signed by {line_name!r}, not {name!r}")
    raw = _unb64(b64, "the cosignature")
    if raw[:4] != key_id:
        raise NoteError(f"the line is signed by key {raw[:4].hex()}, not {key_id.hex()}")
    if len(raw) != 4 + 8 + _ED25519_SIGNATURE:
        raise NoteError("a cosignature/v1 signature is a key ID, a u64 time and 64 bytes")
    timestamp = int.from_bytes(raw[4:12], "big")
    _check_timestamp(timestamp)
    message = _cosignature_message(checkpoint, timestamp)
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(raw[12:], message)
    except InvalidSignature:
        raise NoteError(f"the cosignature of {name} does not verify") from None
    return timestamp


def format_proof(index: int, proof: Sequence[bytes], checkpoint_note: str, extra: bytes | None = None) -> str:
    """c2sp.org/tlog-proof@v1: the header, ``extra`` if any, ``index``, the inclusion proof (leaf's
    sibling first, one base64 hash a line), a blank line and the signed checkpoint verbatim."""
    if isinstance(index, bool) or not 0 <= index <= _MAX_U64:
        raise NoteError(f"bad index {index}")
    if len(proof) > _MAX_PROOF_HASHES:
        raise NoteError(f"an inclusion proof has at most {_MAX_PROOF_HASHES} hashes")
    if any(len(h) != _HASH_SIZE for h in proof):
        raise NoteError(f"every proof hash is {_HASH_SIZE} bytes")
    _split(checkpoint_note)  # it must be a signed note
    head = [PROOF_HEADER]
    if extra is not None:
        head.append(f"extra {_b64(extra)}")
    head.append(f"index {index}")
    head.extend(_b64(h) for h in proof)
    return "\n".join(head) + "\n\n" + checkpoint_note


def parse_proof(text: str) -> tuple[int, list[bytes], str, bytes | None]:
    """Read a c2sp.org/tlog-proof@v1: ``(index, inclusion proof, checkpoint note, extra or None)``.

    Only the layout is checked (and that the checkpoint is a well-formed signed note): the caller
    opens the checkpoint with the log's key, checks the cosignatures it requires and then the
    inclusion proof, as the spec's "Verifying a tlog proof" says.
    """
    _check_text(text, "the proof")
    cut = text.find("\n\n")  # the first blank line ends the proof; the checkpoint follows
    if cut < 0:
        raise NoteError("a tlog-proof has a blank line before its checkpoint")
    lines, note = text[:cut].split("\n"), text[cut + 2 :]
    if lines[0] != PROOF_HEADER:
        raise NoteError(f"a tlog-proof starts with {PROOF_HEADER!r}")
    at = 1
    extra = None
    if at < len(lines) and lines[at].startswith("extra "):
        extra = _unb64(lines[at][len("extra ") :], "the extra data")
        at += 1
    if at >= len(lines) or not lines[at].startswith("index "):
        raise NoteError("a tlog-proof has an 'index <n>' line")
    index = _decimal(lines[at][len("index ") :], "the index", _MAX_U64)
    hashes = lines[at + 1 :]
    if len(hashes) > _MAX_PROOF_HASHES:
        raise NoteError(f"an inclusion proof has at most {_MAX_PROOF_HASHES} hashes")
    proof = []
    for line in hashes:
        h = _unb64(line, "a proof hash")
        if len(h) != _HASH_SIZE:
            raise NoteError(f"a proof hash is {_HASH_SIZE} bytes, not {len(h)}")
        proof.append(h)
    _split(note)
    return index, proof, note, extra
