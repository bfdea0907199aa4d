"""What a model-API request asks, read from its body whatever the API's dialect.

The body is decoded generically (JSON to builtins): this runs off the hot path, once per call, and
the dialects disagree on every field's shape. What is kept is only what the features need: the last
user turn's text (what is asked: the template's signature is taken of it), the system prompt, and
the parameters that matter for extraction. A body that is not a JSON object asks nothing.

Dialects read:

- OpenAI chat: ``messages`` (content a string or a list of ``{type: text, text}`` parts); the
  ``system`` and ``developer`` roles are the system prompt;
- legacy completions: ``prompt`` (a string or a list of strings: the last is taken);
- Responses API: ``input`` (a string or a list of messages), ``instructions`` (the system prompt);
- embeddings: ``input`` (a string or a list of strings);
- Anthropic messages: ``system`` (a string or a list of text blocks), ``messages`` (content a string
  or a list of blocks).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import msgspec

_SYSTEM_ROLES = frozenset(("system", "developer"))
_TEXT_TYPES = frozenset(("text", "input_text"))
_SMALLINT = 32767
"""``n`` and ``top_logprobs`` are stored as smallint: a larger value is kept as this (one absurd
value must not make a whole batch of rows unwritable)."""


class Asked(NamedTuple):
    """What one request asks, as the features need it."""

    prompt: str | None = None
    """The last user turn's text (or the completion prompt, the embedding input)."""
    system: str | None = None
    """The system prompt (system and developer messages, ``instructions``, Anthropic ``system``)."""
    conversational: bool = False
    """A chat-shaped request (``messages``, or ``input`` messages)."""
    tools: bool = False
    """The request offers tools or functions."""
    thinking: bool = False
    """Parameters ask for reasoning output: Anthropic ``thinking`` enabled, OpenAI ``reasoning``
    with a ``summary``, or the encrypted reasoning content."""
    temperature: float | None = None
    n: int | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    logit_bias: bool = False


NOTHING = Asked()


def read(body: bytes | None) -> Asked:
    """What ``body`` asks; :data:`NOTHING` for no body or one that is not a JSON object."""
    if not body:
        return NOTHING
    try:
        doc = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return NOTHING
    if not isinstance(doc, dict):
        return NOTHING
    return read_doc(doc)


def read_doc(doc: dict[str, Any]) -> Asked:
    """What a decoded request body asks."""
    systems: list[str] = []
    prompt: str | None = None
    conversational = False
    instructions = doc.get("instructions")
    if isinstance(instructions, str):
        systems.append(instructions)
    anthropic_system = doc.get("system")
    if anthropic_system is not None:
        systems.extend(_texts(anthropic_system))
    messages = doc.get("messages")
    if isinstance(messages, list):
        conversational = True
        prompt = _conversation(messages, systems)
    if prompt is None:
        source = doc.get("input", doc.get("prompt"))
        if isinstance(source, str):
            prompt = source
        elif isinstance(source, list) and source:
            if any(isinstance(item, dict) for item in source):
                conversational = True
                prompt = _conversation(source, systems)
            else:
                strings = [s for s in source if isinstance(s, str)]
                prompt = strings[-1] if strings else None  # a list of token ids has no text
    system = "\n".join(s for s in systems if s) or None
    logprobs, top_logprobs = _logprobs(doc)
    return Asked(
        prompt=prompt or None,
        system=system,
        conversational=conversational,
        tools=bool(doc.get("tools") or doc.get("functions")),
        thinking=_thinking(doc),
        temperature=_temperature(doc.get("temperature")),
        n=_small(doc.get("n")),
        logprobs=logprobs,
        top_logprobs=top_logprobs,
        logit_bias=isinstance(doc.get("logit_bias"), dict) and bool(doc["logit_bias"]),
    )


def _conversation(items: list[Any], systems: list[str]) -> str | None:
    """The last user turn with text; system and developer turns go to ``systems``."""
    last: str | None = None
    for item in items:
        if isinstance(item, str):  # a Responses input list may mix plain strings in
            last = item
            continue
        if not isinstance(item, dict):
            continue
        role = item.get("role")
        text = "\n".join(_texts(item.get("content")))
        if role in _SYSTEM_ROLES:
            systems.append(text)
        elif role == "user" and text:
            last = text
    return last


def _texts(content: Any) -> list[str]:
    """The text of a content field: a string, or the text parts of a list of blocks."""
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    out: list[str] = []
    for part in content:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, dict) and part.get("type") in _TEXT_TYPES and isinstance(part.get("text"), str):
            out.append(part["text"])
    return out


def _thinking(doc: dict[str, Any]) -> bool:
    thinking = doc.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") not in (None, "disabled"):
        return True
    reasoning = doc.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("summary") not in (None, "none"):
        return True
    include = doc.get("include")
    return isinstance(include, list) and "reasoning.encrypted_content" in include


def _logprobs(doc: dict[str, Any]) -> tuple[bool, int | None]:
    """(asks for log probabilities, how many alternatives per token). Legacy completions say both
    with one integer ``logprobs``; chat says ``logprobs: true`` and ``top_logprobs``; the Responses
    API ``top_logprobs`` or ``include: [message.output_text.logprobs]``."""
    raw = doc.get("logprobs")
    top = _small(doc.get("top_logprobs"))
    if type(raw) is int:
        return True, top if top is not None else _small(raw)
    include = doc.get("include")
    asked = raw is True or (isinstance(include, list) and "message.output_text.logprobs" in include)
    return asked or bool(top), top


def _small(value: Any) -> int | None:
    if type(value) is not int:
        return None
    return max(-_SMALLINT, min(value, _SMALLINT))


def _temperature(value: Any) -> float | None:
    if type(value) not in (int, float):
        return None
    t = float(value)
    return t if math.isfinite(t) and abs(t) <= 1e6 else None
