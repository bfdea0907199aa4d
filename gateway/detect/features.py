"""What the detector keeps of one model-API call: :class:`CallFeatures`, one row of ``call_features``.

No prompt text: counts, parameters, a task family, fingerprints of the masked prompt and the LSH band
keys of its MinHash signature. :func:`extract` (pure) computes them from the call's usage event and
request body, for the gateway and ``gateway usage import`` alike; :func:`extract_batch` the same
values for many calls at once (what the tap drains): the MinHash of all their prompts in one numpy
pass, and each distinct text, skeleton and request shape of the batch judged once.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec

from . import classify, masking, minhash, prompts

if TYPE_CHECKING:
    from ..ledger.events import UsageEvent


class CallFeatures(msgspec.Struct, frozen=True, kw_only=True):
    request_id: uuid.UUID
    occurred_at: dt.datetime
    customer_id: uuid.UUID
    key_id: str
    model: str | None
    status: int
    prompt_tokens: int | None
    completion_tokens: int | None
    client_ip: str | None
    network: str | None
    """The client's /24 (IPv4) or /48 (IPv6), e.g. ``203.0.113.0/24``."""
    country: str | None
    temperature: float | None
    n: int | None
    logprobs: bool
    top_logprobs: int | None
    logit_bias: bool
    reasoning: bool
    """The prompt asks for step-by-step reasoning or its trace."""
    family: str
    """Task family: ``code``, ``math``, ``reasoning``, ``tools``, ``translation``, ``writing``,
    ``extraction``, ``chat`` or ``other``."""
    system_fp: int | None
    """Signed 64-bit fingerprint of the masked system prompt; None without one."""
    template_fp: int | None
    """Signed 64-bit fingerprint of the masked prompt skeleton; None without a prompt."""
    bands: tuple[int, ...]
    """LSH band keys (signed 64-bit) of the masked prompt's MinHash; empty without a prompt."""


FEATURE_COLUMNS: tuple[str, ...] = tuple(f.name for f in msgspec.structs.fields(CallFeatures))


def extract(event: UsageEvent, body: bytes | None) -> CallFeatures:
    """The features of one call, from its usage event and its request body (pure).

    A missing body, or one that is not a JSON object, gives features without a prompt: no
    fingerprints, no band keys, family ``other`` (or ``tools``).
    """
    asked = prompts.read(body)
    reasoning = classify.asks_reasoning(asked)
    template_fp: int | None = None
    bands: tuple[int, ...] = ()
    if asked.prompt is not None:
        skeleton = masking.mask(asked.prompt)
        if skeleton:
            template_fp = minhash.fingerprint(skeleton)
            bands = minhash.bands(skeleton)
    system_fp = None
    if asked.system is not None:
        system = masking.mask(asked.system)
        system_fp = minhash.fingerprint(system) if system else None
    family = classify.family(asked, reasoning)
    return _features(event, asked, reasoning, family, system_fp, template_fp, bands)


def _features(
    event: UsageEvent,
    asked: prompts.Asked,
    reasoning: bool,
    family: str,
    system_fp: int | None,
    template_fp: int | None,
    bands: tuple[int, ...],
) -> CallFeatures:
    """One row of ``call_features``: the event's own fields beside what was read from the body."""
    return CallFeatures(
        request_id=event.request_id,
        occurred_at=event.occurred_at,
        customer_id=event.customer_id,
        key_id=event.key_id,
        model=event.model,
        status=event.status,
        prompt_tokens=event.prompt_tokens,
        completion_tokens=event.completion_tokens,
        client_ip=event.client_ip,
        network=network_of(event.client_ip),
        country=event.origin_country,
        temperature=asked.temperature,
        n=asked.n,
        logprobs=asked.logprobs,
        top_logprobs=asked.top_logprobs,
        logit_bias=asked.logit_bias,
        reasoning=reasoning,
        family=family,
        system_fp=system_fp,
        template_fp=template_fp,
        bands=bands,
    )


def extract_batch(calls: Sequence[tuple[UsageEvent, bytes | None]]) -> list[CallFeatures]:
    """:func:`extract` of each call, in order, with the very same values (pinned by
    ``tests/unit/detect/test_features_batch.py``), at a fraction of the cost per call.

    What costs is per operation, not per byte, for the short prompts most calls carry: numpy's
    overhead (a few µs per call of :func:`.minhash.signature`), BLAKE2b's (16 band keys), a dozen
    regular expressions. So the signatures are one numpy pass (:func:`.minhash.signatures`) and
    the band keys one conversion; within the batch, a text is masked once, a skeleton hashed once,
    a request shape classified once (all pure functions of what is memoised)."""
    masked: dict[str, str] = {}
    reasoning_of: dict[tuple[str | None, str | None], bool] = {}
    family_of: dict[tuple[str | None, bool, bool, bool], str] = {}
    fp_of: dict[str, int] = {}

    def skeleton(text: str) -> str:
        found = masked.get(text)
        if found is None:
            found = masked[text] = masking.mask(text)
        return found

    def fp(text: str) -> int:
        found = fp_of.get(text)
        if found is None:
            found = fp_of[text] = minhash.fingerprint(text)
        return found

    prepared = []
    for event, body in calls:
        asked = prompts.read(body)
        if asked.thinking:
            reasoning = True
        else:
            key = (asked.prompt, asked.system)
            found = reasoning_of.get(key)
            if found is None:
                found = reasoning_of[key] = classify.asks_reasoning(asked)
            reasoning = found
        shape = (asked.prompt, asked.tools, asked.conversational, reasoning)
        family = family_of.get(shape)
        if family is None:
            family = family_of[shape] = classify.family(asked, reasoning)
        prompt_skeleton = skeleton(asked.prompt) if asked.prompt is not None else ""
        system_fp = None
        if asked.system is not None:
            system = skeleton(asked.system)
            system_fp = fp(system) if system else None
        prepared.append((event, asked, reasoning, family, prompt_skeleton, system_fp))

    distinct = list(dict.fromkeys(p[4] for p in prepared if p[4]))
    bands_of: dict[str, tuple[int, ...]] = {"": ()}
    if distinct:
        bands_of.update(zip(distinct, minhash.band_keys_many(minhash.signatures(distinct)), strict=True))
    return [
        _features(
            event,
            asked,
            reasoning,
            family,
            system_fp,
            fp(prompt_skeleton) if prompt_skeleton else None,
            bands_of[prompt_skeleton],
        )
        for event, asked, reasoning, family, prompt_skeleton, system_fp in prepared
    ]


@functools.lru_cache(maxsize=65536)
def network_of(ip: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) an address is in; None without one, or for a malformed one."""
    if ip is None:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
