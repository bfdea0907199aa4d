"""Ledger rows written straight from generated calls, for the scale runs (10^6-10^7 events), where
running every body through the import path would measure the import rather than the detector.

``call_features`` rows here are *synthetic*: computed from the generator's ground truth, not by the
feature extractor. The fingerprints are 64-bit hashes of the system prompt's and the template's ids;
the 16 LSH band keys of a templated prompt are its template's, each replaced by a per-call key with
probability ``1 - SHARED_BAND`` (a near-duplicate: most bands collide, not all), and a free-text
prompt's are all its own; a template with word slots has ``SLOT_VARIANTS`` skeletons. Country comes from the client IP (``iptocc``), as the extractor does it.
Say so wherever their figures are printed.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import asyncpg
import iptocc
import msgspec

from gateway.detect.features import FEATURE_COLUMNS, CallFeatures

from .model import Call, Customer

BANDS = 16
SHARED_BAND = 0.8
SLOT_VARIANTS = 2000
"""Distinct skeletons one template's slot fillings give after masking."""
USAGE_COLUMNS = (
    "request_id", "occurred_at", "customer_id", "project_id", "key_id", "upstream", "route", "model",
    "stream", "status", "prompt_tokens", "completion_tokens", "usage_complete", "duration_ms", "bytes_in",
    "bytes_out", "client_ip", "origin_country",
)  # fmt: skip
_PROJECT_NAMESPACE = uuid.UUID("6f1d3c1e-5b0a-4c7e-9a51-3d2f0e9b7a10")


def project_id(customer: Customer) -> uuid.UUID:
    """The id :func:`tests.traffic.seed.seed_customers` gives the customer's project."""
    return uuid.uuid5(_PROJECT_NAMESPACE, f"{customer.id}/project/{customer.project}")


def h64(*parts: object) -> int:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


_MASK = (1 << 64) - 1


def _mix(seed: int, i: int) -> int:
    """A per-call band key (splitmix64 of the call's seed and the band): cheap, well spread."""
    z = (seed + (i + 1) * 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    z ^= z >> 31
    return z - (1 << 64) if z >> 63 else z


@functools.lru_cache(maxsize=4096)
def _template_bands(skeleton: str) -> tuple[int, ...]:
    return tuple(h64(skeleton, i) for i in range(BANDS))


@functools.lru_cache(maxsize=4096)
def _fp(kind: str, name: str) -> int:
    return h64(kind, name)


def _skeleton(template: str) -> str:
    # The benchmark's items are one skeleton (question, four options, "answer with the letter").
    return "benchmark" if template.startswith("benchmark/") else template


def template_fp_exact(template: str) -> bool:
    return template.startswith(("benchmark/", "batch/"))


def features(call: Call) -> CallFeatures:
    seed = call.text_seed
    if call.template is not None:
        skeleton = _skeleton(call.template)
        shared = _template_bands(skeleton)
        # A band stays the template's with probability SHARED_BAND (3 bits of the seed per band).
        bands = tuple(
            shared[i] if ((seed >> (i * 3)) & 7) < SHARED_BAND * 8 else _mix(seed, i) for i in range(BANDS)
        )
        # A template's word slots (language, noun, verb, name) survive masking, so the extractor's
        # skeletons of one template vary: about half of a busy harvester's calls repeat a skeleton
        # already sent (measured through the real extractor). A benchmark item is one skeleton,
        # rerun; the batch template's fills are all masked (numbers, quoted text).
        exact = template_fp_exact(call.template)
        template_fp = _fp("template", skeleton) if exact else h64(skeleton, seed % SLOT_VARIANTS)
    else:
        bands = tuple(_mix(seed, i) for i in range(BANDS))
        template_fp = _mix(seed, BANDS)
    return CallFeatures(
        request_id=call.request_id,
        occurred_at=call.at,
        customer_id=call.customer_id,
        key_id=call.key_id,
        model=call.model,
        status=200,
        prompt_tokens=call.prompt_tokens,
        completion_tokens=call.completion_tokens,
        client_ip=call.client_ip,
        network=call.network,
        country=iptocc.country_code(call.client_ip),
        temperature=call.temperature,
        n=None,
        logprobs=call.logprobs,
        top_logprobs=call.top_logprobs,
        logit_bias=call.logit_bias,
        reasoning=call.reasoning,
        family=call.family,
        system_fp=None if call.system is None else _fp("system", call.system),
        template_fp=template_fp,
        bands=bands,
    )


def usage_row(call: Call, project: uuid.UUID) -> tuple[Any, ...]:
    return (
        call.request_id, call.at, call.customer_id, project, call.key_id, "synthetic", call.route,
        call.model, False, 200, call.prompt_tokens, call.completion_tokens, True, call.duration_ms,
        call.prompt_tokens * 4, call.completion_tokens * 4, call.client_ip, iptocc.country_code(call.client_ip),
    )  # fmt: skip


def _rows(
    calls: Iterable[Call], customers: Mapping[uuid.UUID, Customer], batch: int
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    usage: list[tuple[Any, ...]] = []
    feats: list[tuple[Any, ...]] = []
    projects = {cid: project_id(c) for cid, c in customers.items()}
    for call in calls:
        usage.append(usage_row(call, projects[call.customer_id]))
        feats.append(msgspec.structs.astuple(features(call)))
        if len(usage) >= batch:
            yield usage, feats
            usage, feats = [], []
    if usage:
        yield usage, feats


async def copy_calls(
    pool: asyncpg.Pool, calls: Iterable[Call], customers: Mapping[uuid.UUID, Customer], *, batch: int = 50_000
) -> int:
    """COPY ``usage_events`` and synthetic ``call_features`` rows for ``calls``; the rows written."""
    total = 0
    async with pool.acquire() as conn:
        for usage, feats in _rows(calls, customers, batch):
            async with conn.transaction():
                await conn.copy_records_to_table("usage_events", records=usage, columns=list(USAGE_COLUMNS))
                await conn.copy_records_to_table(
                    "call_features", records=feats, columns=list(FEATURE_COLUMNS)
                )
            total += len(usage)
    return total
