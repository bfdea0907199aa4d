"""What the detector keeps of one model-API call: :class:`CallFeatures`, one row of ``call_features``.

No prompt text: counts, parameters, a task family, fingerprints of the masked prompt and the LSH band
keys of its MinHash signature. :func:`extract` (pure) computes them from the call's usage event and
request body, for the gateway and ``gateway usage import`` alike.
"""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec


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
