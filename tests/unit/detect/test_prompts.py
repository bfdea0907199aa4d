"""What a request asks, in every dialect the gateway forwards."""

import msgspec
import pytest

from gateway.detect.prompts import NOTHING, read


def body(doc: object) -> bytes:
    return msgspec.json.encode(doc)


def test_openai_chat_takes_the_last_user_turn_and_system_and_developer_prompts() -> None:
    asked = read(
        body(
            {
                "model": "m",
                "messages": [
                    {"role": "system", "content": "Be terse."},
                    {"role": "developer", "content": [{"type": "text", "text": "Answer in English."}]},
                    {"role": "user", "content": "first question"},
                    {"role": "assistant", "content": "an answer"},
                    {"role": "user", "content": [{"type": "text", "text": "second"}, {"type": "image_url"}]},
                    {"role": "assistant", "content": None, "tool_calls": []},
                ],
                "temperature": 0.7,
                "n": 3,
            }
        )
    )
    assert asked.prompt == "second"
    assert asked.system == "Be terse.\nAnswer in English."
    assert asked.conversational and not asked.tools
    assert (asked.temperature, asked.n) == (0.7, 3)


def test_legacy_completions_prompt_and_integer_logprobs() -> None:
    asked = read(body({"model": "m", "prompt": ["one", "two"], "logprobs": 5, "logit_bias": {"1": 5}}))
    assert asked.prompt == "two" and not asked.conversational
    assert (asked.logprobs, asked.top_logprobs, asked.logit_bias) == (True, 5, True)
    assert read(body({"prompt": "x", "logprobs": 0})).logprobs is True  # 0: the sampled token's own
    assert read(body({"prompt": [1, 2, 3]})).prompt is None  # token ids have no text


def test_chat_logprobs_and_an_empty_logit_bias() -> None:
    asked = read(body({"messages": [], "logprobs": True, "top_logprobs": 20, "logit_bias": {}}))
    assert (asked.logprobs, asked.top_logprobs, asked.logit_bias) == (True, 20, False)
    assert read(body({"messages": [], "logprobs": False})).logprobs is False
    assert read(body({"top_logprobs": 10**9})).top_logprobs == 32767  # fits the smallint column


def test_responses_api_input_and_instructions() -> None:
    asked = read(
        body(
            {
                "model": "m",
                "instructions": "You are a tutor.",
                "input": [
                    {"role": "user", "content": [{"type": "input_text", "text": "What is 2 + 2?"}]},
                    {"type": "message", "role": "system", "content": "extra rule"},
                ],
                "reasoning": {"effort": "high", "summary": "detailed"},
            }
        )
    )
    assert asked.prompt == "What is 2 + 2?"
    assert asked.system == "You are a tutor.\nextra rule"
    assert asked.thinking and asked.conversational
    assert read(body({"input": "plain", "reasoning": {"effort": "high"}})).thinking is False
    assert read(body({"input": "plain"})).prompt == "plain"


def test_embeddings_input() -> None:
    assert read(body({"model": "e", "input": ["a b", "c d"]})).prompt == "c d"
    assert read(body({"model": "e", "input": "one"})).prompt == "one"


def test_anthropic_messages_system_blocks_thinking_and_tools() -> None:
    asked = read(
        body(
            {
                "model": "claude",
                "system": [{"type": "text", "text": "You are Claude."}],
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "Plan a trip"}]},
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}],
                    },
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}],
                    },
                ],
                "thinking": {"type": "enabled", "budget_tokens": 2048},
                "tools": [{"name": "f", "input_schema": {}}],
            }
        )
    )
    assert asked.prompt == "Plan a trip"  # the last user turn *with text*
    assert asked.system == "You are Claude."
    assert asked.thinking and asked.tools
    assert read(body({"system": "S", "messages": [], "thinking": {"type": "disabled"}})).thinking is False


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'"a string"', b'{"messages": 5}'])
def test_a_body_that_asks_nothing(raw: bytes) -> None:
    asked = read(raw)
    assert asked.prompt is None and asked.system is None
    if raw != b'{"messages": 5}':
        assert asked == NOTHING
