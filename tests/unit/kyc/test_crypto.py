"""Envelope encryption: sealed values open only with the right key, for the right row."""

from __future__ import annotations

import pytest

from gateway.kyc.crypto import (
    KeyringError,
    SealError,
    keyring_from_file,
    new_key_spec,
    open_sealed,
    parse_keyring,
    seal,
)


def test_seal_opens_only_in_its_own_context() -> None:
    ring = parse_keyring(new_key_spec(1))
    dek, version, wrapped = ring.wrap_new("cust-1")
    assert version == 1 and ring.unwrap(1, wrapped, "cust-1") == dek
    sealed = seal(dek, b"Jane Roe", "owner:1")
    assert b"Jane" not in sealed
    assert open_sealed(dek, sealed, "owner:1") == b"Jane Roe"
    with pytest.raises(SealError):  # moved to another row
        open_sealed(dek, sealed, "owner:2")
    with pytest.raises(SealError):  # another customer's wrapped key
        ring.unwrap(1, wrapped, "cust-2")
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealError):
        open_sealed(dek, tampered, "owner:1")


def test_rotation_keeps_old_data_readable_and_wraps_new_keys_with_the_newest() -> None:
    old = new_key_spec(1)
    ring1 = parse_keyring(old)
    dek, _, wrapped = ring1.wrap_new("c")
    ring2 = parse_keyring(old + "," + new_key_spec(2))
    assert ring2.current == 2 and ring2.unwrap(1, wrapped, "c") == dek
    version, rewrapped = ring2.rewrap(1, wrapped, "c")
    assert version == 2 and ring2.unwrap(2, rewrapped, "c") == dek
    # Blind indexes derive from the oldest key: stable across rotation.
    assert ring1.blind_index("owner", "x") == ring2.blind_index("owner", "x")
    with pytest.raises(SealError, match="version 2, which is not configured"):
        ring1.unwrap(2, rewrapped, "c")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "no key given"),
        ("abc", "each key must be written <version>:<base64>"),
        ("0:" + "A" * 43, "each key must be written"),
        ("1:" + "A" * 10, "key version 1 must be 32 bytes, got 7"),
        ("1:" + "A" * 43 + ",1:" + "B" * 43, "key version 1 is given twice"),
        ("1:!!!!", "key version 1 is not base64"),
    ],
)
def test_bad_key_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(KeyringError, match=message):
        parse_keyring(spec)


def test_generated_key_file_is_private_and_stable(tmp_path) -> None:
    path = tmp_path / "state" / "kyc-master-keys"
    first = keyring_from_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert keyring_from_file(path).check_value(1) == first.check_value(1)
