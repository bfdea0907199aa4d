"""What a request reserves (from its body) and what it is charged (from what happened)."""

from __future__ import annotations

import msgspec
import pytest

from gateway.errors import BadRequest
from gateway.proxy.adapters import decode_head
from gateway.proxy.context import RequestContext
from gateway.proxy.handler import actual_usage
from gateway.proxy.routes import ROUTES
from gateway.quota.model import Usage

ESTIMATE = Usage(requests=1, input_tokens=40, output_tokens=500)


@pytest.mark.parametrize(
    ("body", "cap"),
    [
        ({"model": "m"}, None),
        ({"model": "m", "max_tokens": 300}, 300),
        ({"model": "m", "max_completion_tokens": 200, "max_tokens": 300}, 200),  # the newer name wins
        ({"model": "m", "max_output_tokens": 0}, 0),  # Responses API; an explicit 0 is 0
        ({"model": "m", "max_tokens": 100, "n": 3}, 300),  # each choice may generate the maximum
    ],
)
def test_the_output_cap_under_each_apis_name(body: dict[str, object], cap: int | None) -> None:
    assert decode_head(msgspec.json.encode(body)).output_cap() == cap


@pytest.mark.parametrize(
    "body", [{"model": "m", "max_tokens": -1}, {"model": "m", "n": 0}, {"max_tokens": "x"}]
)
def test_impossible_caps_are_bad_requests(body: dict[str, object]) -> None:
    with pytest.raises(BadRequest) as refused:
        decode_head(msgspec.json.encode(body))
    assert refused.value.code == "invalid_request"


def test_routes_say_what_they_reserve() -> None:
    assert ROUTES["/v1/embeddings"].writes_tokens is False and ROUTES["/v1/embeddings"].reads_tokens
    count = ROUTES["/v1/messages/count_tokens"]
    assert (count.reads_tokens, count.writes_tokens) == (False, False)
    assert ROUTES["/v1/chat/completions"].writes_tokens


def ctx(
    status: int | None, *, prompt: int | None = None, completion: int | None = None, stream: bool = False
) -> RequestContext:
    c = RequestContext({"headers": [], "client": ("127.0.0.1", 1)}, None)
    c.upstream_status = status
    c.prompt_tokens, c.completion_tokens, c.stream = prompt, completion, stream
    return c


def test_nothing_is_charged_when_the_upstream_gave_no_service() -> None:
    for status in (None, 500, 503, 429):
        assert actual_usage(ctx(status), ESTIMATE) == Usage()


def test_what_the_upstream_reported_is_charged() -> None:
    assert actual_usage(ctx(200, prompt=12, completion=34), ESTIMATE) == Usage(1, 12, 34)
    # An upstream 4xx answered: one request, and the tokens it says (none).
    assert actual_usage(ctx(400), ESTIMATE) == Usage(1, 0, 0)


def test_without_a_report_the_prompt_is_the_estimate_and_a_stream_what_it_delivered() -> None:
    assert actual_usage(ctx(200, completion=7, stream=True), ESTIMATE) == Usage(1, 40, 7)  # cut short
    assert actual_usage(ctx(200, stream=True), ESTIMATE) == Usage(1, 40, 0)
    assert actual_usage(ctx(200), ESTIMATE) == Usage(1, 40, 500)  # a plain 200 that did not say
