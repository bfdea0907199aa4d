from gateway.identity.keys import generate_key, hash_key, parse_key


def test_generated_key_parses_back_to_its_id_and_hash() -> None:
    material = generate_key()
    assert material.key.startswith(f"gk_{material.id}_")
    parsed = parse_key(material.key)
    assert parsed is not None
    assert parsed.id == material.id
    assert parsed.hash == material.hash == hash_key(material.key)


def test_keys_are_unique_and_long() -> None:
    keys = {generate_key().key for _ in range(200)}
    assert len(keys) == 200
    assert all(len(k) == 3 + 16 + 1 + 48 for k in keys)


def test_malformed_keys_are_refused_without_lookup() -> None:
    good = generate_key().key
    for bad in [
        "",
        "sk-abc",
        good[:-1],
        good + "0",
        good.replace("gk_", "gx_"),
        good[:19] + "-" + good[20:],
        good.upper(),
        "gk_" + "g" * 16 + "_" + "0" * 48,
    ]:
        assert parse_key(bad) is None, bad
