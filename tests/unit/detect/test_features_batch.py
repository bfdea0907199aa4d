"""The batch path gives the stored values of the plain one, bit for bit (issue 20: feature extraction
brought down with the same values): :func:`extract_batch` against :func:`extract`, the batched MinHash
against :func:`signature` and :func:`band_keys`, and the tap's fall-back to one call at a time."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.detect import features as features_module
from gateway.detect.features import extract, extract_batch
from gateway.detect.masking import mask
from gateway.detect.minhash import (
    CHUNK_SHINGLES,
    _crc32s,
    _shingle_crc32s,
    band_keys,
    band_keys_many,
    bands,
    mod_p,
    signature,
    signatures,
)
from gateway.detect.tap import FeatureTap
from gateway.ledger.events import UsageEvent

# Words that the masking and the classifiers react to, and some that they do not: prompts drawn
# from them hit every rule (names, numbers, code, urls, reasoning, families) and repeat often.
_VOCABULARY = (
    "solve 12 + 7 step by step for Ada Lovelace write a poem translate this into German extract "
    "the invoice as JSON def f(x): ``` https://example.com/a?b=1 user@example.com 0xdeadbeef "
    "deadbeef01 \"quoted words\" 'single quoted' New York City Москва шаг за шагом 一步一步 "
    "riddle python function the a of and river market engine violet 3.14 1e9 45% item_1370 \n \t"
)
VOCABULARY = _VOCABULARY.split(" ")

text = st.lists(st.sampled_from(VOCABULARY) | st.text(max_size=12), max_size=60).map(" ".join)


def event(ip: str | None) -> UsageEvent:
    return UsageEvent(
        request_id=uuid.uuid4(), occurred_at=dt.datetime.now(dt.UTC), customer_id=uuid.uuid4(),
        project_id=uuid.uuid4(), key_id="0123456789abcdef", upstream="u", route="/v1/chat/completions",
        model="m", stream=False, status=200, error_code=None, prompt_tokens=1, completion_tokens=1,
        usage_complete=True, duration_ms=1.0, bytes_in=1, bytes_out=1, client_ip=ip,
    )  # fmt: skip


@st.composite
def body(draw: st.DrawFn) -> bytes | None:
    kind = draw(
        st.sampled_from(["chat", "system", "responses", "anthropic", "tools", "tokens", "raw", "none"])
    )
    prompt = draw(text)
    doc: object
    if kind == "none":
        return None
    if kind == "raw":
        return draw(st.binary(max_size=40))
    if kind == "chat":
        doc = {"messages": [{"role": "user", "content": prompt}], "temperature": 0.7}
    elif kind == "system":
        doc = {
            "messages": [{"role": "system", "content": draw(text)}, {"role": "user", "content": prompt}],
            "logprobs": True,
            "top_logprobs": draw(st.integers(0, 40000)),
        }
    elif kind == "responses":
        doc = {"instructions": draw(text), "input": prompt, "reasoning": {"summary": "auto"}}
    elif kind == "anthropic":
        doc = {
            "system": [{"type": "text", "text": draw(text)}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}],
            "thinking": {"type": draw(st.sampled_from(["enabled", "disabled"]))},
        }
    elif kind == "tools":
        doc = {"messages": [{"role": "user", "content": prompt}], "tools": [{"type": "function"}]}
    else:
        doc = {"prompt": [1, 2, 3], "n": 2}
    return msgspec.json.encode(doc)


calls = st.lists(
    st.tuples(st.sampled_from(["203.0.113.9", "2001:db8::1", "not an ip", None]), body()),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(calls, st.integers(0, 3))
def test_a_batch_gives_what_each_call_gives_alone(
    drawn: list[tuple[str | None, bytes | None]], repeat: int
) -> None:
    # Repeated calls (the same body again in the batch) take the memoised paths.
    pairs = [(event(ip), b) for ip, b in drawn]
    pairs += pairs[:repeat]
    assert extract_batch(pairs) == [extract(e, b) for e, b in pairs]


def test_a_realistic_batch_gives_what_each_call_gives_alone() -> None:
    rng = random.Random(20)
    words = [w for w in VOCABULARY if w.strip()]
    pairs = []
    for i in range(300):
        prompt = " ".join(rng.choice(words) for _ in range(rng.randint(0, 900 if i % 50 == 0 else 80)))
        doc = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": prompt}]}
        pairs.append((event("203.0.113.9"), msgspec.json.encode(doc)))
    found = extract_batch(pairs)
    assert found == [extract(e, b) for e, b in pairs]
    assert sum(bool(f.bands) for f in found) > 250


@settings(max_examples=200, deadline=None)
@given(st.lists(text.map(mask).filter(bool), min_size=1, max_size=30))
def test_batched_signatures_and_band_keys_are_the_plain_ones(skeletons: list[str]) -> None:
    sigs = signatures(skeletons)
    for skeleton, row in zip(skeletons, sigs, strict=True):
        plain = signature(skeleton)
        assert plain is not None and np.array_equal(row, plain)
    assert band_keys_many(sigs) == [band_keys(row) for row in sigs]


P = (1 << 61) - 1
Y_MAX = (1 << 63) + (1 << 61)  # a*x + b stays below this (minhash's docstring)
# Where the reduction's sum reaches p or beyond (a random y does so with probability 2**-58).
EDGES = [k * P + d for k in range(5) for d in range(-2, 9) if 0 <= k * P + d < Y_MAX]
EDGES += [(h << 61) | lo for h in range(5) for lo in (P - 8, P - 7, P - 1, P)] + [Y_MAX - 1]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, Y_MAX - 1) | st.sampled_from(EDGES), min_size=1, max_size=64))
def test_the_mersenne_reduction_is_the_remainder(values: list[int]) -> None:
    y = np.array(values, dtype=np.uint64)
    out = np.empty_like(y)
    mod_p(y, out, np.empty(len(values), dtype=np.bool_))
    assert out.tolist() == [v % P for v in values]


def test_the_mersenne_reduction_at_its_edges() -> None:
    y = np.array(EDGES, dtype=np.uint64)
    out = np.empty_like(y)
    mod_p(y, out, np.empty(len(EDGES), dtype=np.bool_))
    assert out.tolist() == [v % P for v in EDGES]
    assert any(((v >> 61) + (v & P)) >= P for v in EDGES)  # the subtraction is exercised


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(
        st.sampled_from(["a", "bb", "ünï", "<num>", " ", "  ", "\t", "\u00a0", "\n", "x y"]), max_size=30
    ).map("".join)
    | text
    | text.map(mask)
)
def test_shingles_cut_from_a_skeleton_are_the_joined_ones(masked: str) -> None:
    assert _shingle_crc32s(masked) == set(_crc32s(masked))


def test_prompts_longer_than_a_chunk_and_chunk_boundaries() -> None:
    rng = random.Random(7)
    vocabulary = [f"w{i}" for i in range(5000)]
    sizes = [CHUNK_SHINGLES + 4, 3 * CHUNK_SHINGLES + 100, 1, 5, CHUNK_SHINGLES - 1, CHUNK_SHINGLES, 200, 2]
    skeletons = [" ".join(rng.choice(vocabulary) for _ in range(n + 4)) for n in sizes]
    sigs = signatures(skeletons)
    assert all(np.array_equal(row, signature(s)) for s, row in zip(skeletons, sigs, strict=True))
    assert [tuple(k) for k in band_keys_many(sigs)] == [bands(s) for s in skeletons]


def test_the_stored_keys_of_the_first_computation() -> None:
    # The same pinned values as test_minhash's: these came from the first implementation.
    [keys] = band_keys_many(signatures(["write a poem about <NUM> cats in the style of <NAME>"]))
    assert keys == bands("write a poem about <NUM> cats in the style of <NAME>")
    assert keys[:2] == (-5507962570373839150, -2903699933545644497)


def test_empty_skeletons_are_refused() -> None:
    with pytest.raises(ValueError):
        signatures(["a b", ""])


async def test_the_tap_extracts_alone_each_call_of_a_block_the_batch_fails_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body_ok = msgspec.json.encode({"messages": [{"role": "user", "content": "Say hello"}]})
    bad = event("203.0.113.9")
    real_extract = features_module.extract

    def failing_batch(batch: object) -> list[object]:
        raise RuntimeError("a bug in the batch path")

    def extract_one(e: UsageEvent, b: bytes | None) -> object:
        if e is bad:
            raise RuntimeError("a bug for this call")
        return real_extract(e, b)

    monkeypatch.setattr("gateway.detect.tap.extract_batch", failing_batch)
    monkeypatch.setattr("gateway.detect.tap.extract", extract_one)
    written: list[object] = []
    tap = FeatureTap(written.append, interval=3600)
    good = [event("203.0.113.9") for _ in range(3)]
    for e in (good[0], bad, *good[1:]):
        tap.take(e, body_ok)
    assert await tap.drain() == 4
    assert written == [real_extract(e, body_ok) for e in good]
    assert (tap.extracted, tap.failed) == (3, 1)
