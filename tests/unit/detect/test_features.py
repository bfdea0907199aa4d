"""extract(): one call's features from its usage event and body."""

import datetime as dt
import uuid

import msgspec
import pytest

from gateway.detect.features import FEATURE_COLUMNS, CallFeatures, extract, network_of
from gateway.ledger.events import UsageEvent


def event(ip: str | None = "198.51.100.23", country: str | None = "US") -> UsageEvent:
    return UsageEvent(
        request_id=uuid.uuid4(), occurred_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC), customer_id=uuid.uuid4(),
        project_id=uuid.uuid4(), key_id="0123456789abcdef", upstream="u", route="/v1/chat/completions",
        model="gpt-test", stream=False, status=200, error_code=None, prompt_tokens=10, completion_tokens=20,
        usage_complete=True, duration_ms=5.0, bytes_in=100, bytes_out=200, client_ip=ip, origin_country=country,
    )  # fmt: skip


def chat(user: str, system: str | None = None, **params: object) -> bytes:
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user}
    ]
    return msgspec.json.encode({"model": "gpt-test", "messages": messages, **params})


def test_the_struct_is_the_table() -> None:
    assert (
        FEATURE_COLUMNS[0] == "request_id" and FEATURE_COLUMNS[-1] == "bands" and len(FEATURE_COLUMNS) == 21
    )


def test_a_call_with_everything() -> None:
    e = event()
    f = extract(
        e,
        chat(
            "Solve 12 + 7 for Jane Doe step by step",
            system="You are a maths tutor.",
            temperature=0.3,
            n=2,
            logprobs=True,
            top_logprobs=5,
            logit_bias={"1": -100},
        ),
    )
    assert (f.request_id, f.occurred_at, f.customer_id, f.key_id) == (
        e.request_id, e.occurred_at, e.customer_id, e.key_id,
    )  # fmt: skip
    assert (f.model, f.status, f.prompt_tokens, f.completion_tokens) == ("gpt-test", 200, 10, 20)
    assert (f.client_ip, f.network, f.country) == ("198.51.100.23", "198.51.100.0/24", "US")
    assert (f.temperature, f.n, f.logprobs, f.top_logprobs, f.logit_bias) == (0.3, 2, True, 5, True)
    assert f.reasoning and f.family == "math"
    assert f.system_fp is not None and f.template_fp is not None and len(f.bands) == 16


def test_one_template_one_fingerprint_and_nothing_of_the_text() -> None:
    a = extract(event(), chat('Translate "good morning" for Ada Lovelace, ticket 1182', system="Be formal."))
    b = extract(event(), chat('Translate "see you soon" for Wang Wei, ticket 9', system="Be formal!"))
    c = extract(event(), chat("Write a haiku about autumn leaves falling"))
    assert a.template_fp == b.template_fp and a.bands == b.bands
    assert a.system_fp != b.system_fp  # the punctuation is the system prompt's own
    assert c.template_fp != a.template_fp and not set(c.bands) & set(a.bands)
    assert c.system_fp is None
    stored = msgspec.json.encode(a).decode()
    assert "Translate" not in stored and "Lovelace" not in stored and "formal" not in stored


@pytest.mark.parametrize("body", [None, b"", b"not json", b"[]"])
def test_no_prompt_no_signatures(body: bytes | None) -> None:
    f = extract(event(ip=None, country=None), body)
    assert (f.template_fp, f.system_fp, f.bands, f.family, f.reasoning) == (None, None, (), "other", False)
    assert (f.network, f.logprobs, f.logit_bias, f.temperature) == (None, False, False, None)


def test_networks() -> None:
    assert network_of("10.1.2.3") == "10.1.2.0/24"
    assert network_of("2001:db8:abcd:12::1") == "2001:db8:abcd::/48"
    assert network_of(None) is None and network_of("nope") is None


def test_extract_is_deterministic() -> None:
    e = event()
    body = chat("Explain your reasoning: is 91 prime?")
    assert extract(e, body) == extract(e, body)
    assert isinstance(extract(e, body), CallFeatures)
